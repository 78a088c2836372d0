//! RFC 7644 §3.4.2.2 filters: the full grammar is parsed here into [`Filter`]; what a
//! dialect accepts (ODM: only `eq`/`and`) is a check on the AST, and the attribute names
//! are resolved against a schema in [`crate::schema`] before the store compiles them to SQL.

mod ast;
pub mod jsonlogic;
mod parser;

pub use ast::{AttrPath, CompareOp, Filter, Value};
pub use parser::{parse_attr_path, parse_filter, parse_path, PatchPath};
