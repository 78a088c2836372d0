//! The Genestack ODM profile at `/api/v1/scim`, by resource.

mod auth;
mod groups;
mod users;
