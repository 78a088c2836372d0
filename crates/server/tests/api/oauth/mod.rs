//! OAuth 2.0: the grants, RFC 6749's error answers for bad input, JWTs on every dialect,
//! signing-key rotation, refresh-token rotation, revocation and introspection.

mod bad_input;
mod grants;
mod jwt;
