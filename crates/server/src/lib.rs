//! The roster server: configuration, the axum app, the neutral HTTP layer ([`http`]) and
//! one module per dialect. Dialect modules only parse their wire shapes, call the core and
//! the store, and render; the rules that differ between dialects are spelled out in those
//! modules. What the two SCIM-speaking dialects share is [`scim_resource`].

pub mod account;
pub mod account_api;
pub mod admin;
pub mod app;
pub mod audit_api;
pub mod bootstrap;
pub mod cli;
pub mod console;
pub mod contabo;
pub mod cvat;
pub mod http;
pub mod mail;
pub mod memory;
pub mod oauth;
pub mod odm;
pub mod passwords;
pub mod sailpoint;
pub mod scim;
pub mod scim_resource;
pub mod secrets;
pub mod signin;
pub mod tokens;
pub mod totp;

pub use app::{router, AppState};
