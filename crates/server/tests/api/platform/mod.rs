//! What every dialect relies on: error formats, persistence, several nodes, outages, the
//! CLI and the process, and the attacks an account could make.

mod access_log;
mod audit;
mod cli;
mod connections;
mod errors;
mod limits;
mod malformed;
mod multinode;
mod openapi;
mod outage;
mod persistence;
pub mod process;
mod security;
mod timeouts;
