//! `/scim/v2`, by resource.

mod auth;
mod bulk;
mod discovery;
mod groups;
mod idp_compat;
mod lists;
mod me;
mod user_groups;
mod users;
