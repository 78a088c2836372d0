//! What every dialect relies on: error formats, persistence, several nodes, outages, the
//! CLI and the process.

mod cli;
mod errors;
mod malformed;
mod multinode;
mod openapi;
mod outage;
mod persistence;
pub mod process;
