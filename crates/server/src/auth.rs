//! Token authentication. Each dialect reads the token from its own headers (ODM has two
//! API-key schemes), but all of them resolve through the same hashed token table.

use axum::http::{header, HeaderMap};
use roster_core::{secret, CoreError, Principal};

use crate::app::AppState;

/// `Authorization: Bearer <t>` (scheme case-insensitive).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// ODM's two schemes: `Genestack-API-Token: <t>`, and `Authorization` with a `Bearer `
/// prefix or with the raw token (the SDK sends no prefix unless configured to).
pub fn odm_tokens(headers: &HeaderMap) -> Vec<&str> {
    let mut out = Vec::with_capacity(2);
    if let Some(t) = headers
        .get("genestack-api-token")
        .and_then(|v| v.to_str().ok())
    {
        out.push(t.trim());
    }
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        out.push(bearer(headers).unwrap_or(v.trim()));
    }
    out.retain(|t| !t.is_empty());
    out
}

/// The request id the request-id layer put on the request (or the client's own).
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Who is writing, and under which request, for the audit log.
pub fn write_ctx(p: &Principal, request_id: Option<&String>) -> roster_store::WriteCtx {
    roster_store::WriteCtx {
        actor: Some(p.user_id.to_string()),
        request_id: request_id.cloned(),
    }
}

/// The principal behind the first valid token among `candidates`.
pub async fn authenticate(
    state: &AppState,
    candidates: &[&str],
) -> Result<Option<Principal>, CoreError> {
    for t in candidates {
        // Bound the work an attacker can make us do per request.
        if t.len() > 512 {
            continue;
        }
        if let Some(p) = state
            .store
            .principal_for_token(&secret::hash_token(t))
            .await?
        {
            return Ok(Some(p));
        }
    }
    Ok(None)
}
