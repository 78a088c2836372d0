//! The roster server: configuration, the axum app, authentication and one module per
//! dialect. Dialect modules only parse their wire shapes, call the core and the store,
//! and render; the rules that differ between dialects are spelled out in those modules.

pub mod app;
pub mod auth;
pub mod bootstrap;
pub mod cli;
pub mod memory;
pub mod odm;
pub mod scim;

pub use app::{router, AppState};
