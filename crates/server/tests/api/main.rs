//! HTTP integration tests: each test boots the real app on an ephemeral port with its own
//! SQLite file and talks to it with reqwest.

mod cli;
mod helpers;
mod malformed;
mod multinode;
mod odm_groups;
mod odm_users;
mod outage;
mod persistence;
mod process;
mod scim_v2;
