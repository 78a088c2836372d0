//! `/scim/v2`, by resource.

mod auth;
mod bulk;
mod discovery;
mod groups;
mod lists;
mod me;
mod users;
