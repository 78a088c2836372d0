//! HTTP integration tests in one binary, laid out by dialect and resource: each test boots
//! the real app on an ephemeral port with a fresh database (a SQLite file, or a PostgreSQL
//! schema when `ROSTER_TEST_DATABASE_URL` names one) and talks to it over HTTP.

mod account;
mod helpers;
mod oauth;
mod odm;
mod platform;
mod sailpoint;
mod scim;
