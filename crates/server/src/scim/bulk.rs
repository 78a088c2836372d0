//! `/Bulk` (RFC 7644 §3.7). Each operation runs through the same router as a standalone
//! request with the caller's credentials, so it gets exactly the checks, transaction and
//! response it would get alone; each is atomic on its own. `bulkId:` references in paths
//! and data are replaced by the ids created earlier in the request; operations whose
//! references are not resolved yet wait for a later pass.

use std::collections::HashMap;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::Extension;
use tokio::time::Instant;

use serde_json::{json, Value};
use tower::ServiceExt;

use super::Scim;
use crate::app::AppState;
use crate::http::auth::AuthState;
use crate::http::body::JsonBody;
use crate::http::deadline::Deadline;
use crate::http::dialect::{render_response, with_dialect, ErrorContext, Renderer};
use crate::http::request_id::HEADER as REQUEST_ID;
use crate::http::{Answer, ApiError, Caller, Kind};
use crate::scim_resource::error::error_json;
use crate::scim_resource::{message, respond, ScimJson};

pub const BULK_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
/// Advertised in /ServiceProviderConfig and enforced here.
pub const MAX_OPERATIONS: usize = 1000;
pub const MAX_PAYLOAD_SIZE: usize = 1024 * 1024;

struct Op {
    index: usize,
    method: Method,
    bulk_id: Option<String>,
    path: String,
    version: Option<String>,
    data: Option<Value>,
}

fn op_error(status: StatusCode, scim_type: Option<&str>, detail: String) -> Value {
    error_json(status, scim_type, &detail)
}

fn parse_ops(body: &Value) -> Result<(Vec<Op>, Option<usize>), ApiError> {
    let o = message(body, BULK_REQUEST_URN, "BulkRequest")?;
    let fail_on_errors = match o.get("failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| *n >= 1)
                .ok_or_else(|| ApiError::invalid_value("failOnErrors must be a positive integer"))?
                as usize,
        ),
    };
    let ops = o
        .get("Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::invalid_syntax("Operations must be an array"))?;
    if ops.len() > MAX_OPERATIONS {
        return Err(ApiError::new(
            Kind::PayloadTooLarge,
            format!(
                "a bulk request may carry at most {MAX_OPERATIONS} operations, got {}",
                ops.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(ops.len());
    for (index, op) in ops.iter().enumerate() {
        let bad = |m: &str| ApiError::invalid_syntax(format!("Operations[{index}]: {m}"));
        let method = match op
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            Some("POST") => Method::POST,
            Some("PUT") => Method::PUT,
            Some("PATCH") => Method::PATCH,
            Some("DELETE") => Method::DELETE,
            _ => return Err(bad("method must be POST, PUT, PATCH or DELETE")),
        };
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("path is required"))?
            .to_owned();
        let bulk_id = op.get("bulkId").and_then(Value::as_str).map(str::to_owned);
        if method == Method::POST && bulk_id.is_none() {
            return Err(bad("POST operations need a bulkId"));
        }
        out.push(Op {
            index,
            method,
            bulk_id,
            path,
            version: op.get("version").and_then(Value::as_str).map(str::to_owned),
            data: op.get("data").cloned(),
        });
    }
    Ok((out, fail_on_errors))
}

/// Every `bulkId:x` the operation still depends on.
fn refs(op: &Op) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => {
                if let Some(id) = s.strip_prefix("bulkId:") {
                    out.push(id.to_owned());
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(m) => m.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Some(d) = &op.data {
        walk(d, &mut out);
    }
    for seg in op.path.split('/') {
        if let Some(id) = seg.strip_prefix("bulkId:") {
            out.push(id.to_owned());
        }
    }
    out
}

fn substitute(v: &mut Value, ids: &HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("bulkId:").and_then(|b| ids.get(b)) {
                *s = id.clone();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| substitute(x, ids)),
        Value::Object(m) => m.values_mut().for_each(|x| substitute(x, ids)),
        _ => {}
    }
}

fn allowed_path(p: &str) -> bool {
    let mut segs = p.trim_start_matches('/').split('/');
    matches!(segs.next(), Some("Users" | "Groups"))
        && segs.clone().count() <= 1
        && !p.contains(".search")
}

#[utoipa::path(post, path = "/Bulk",
    description = "Runs up to 1,000 operations on /Users and /Groups (RFC 7644 §3.7), each as its own request with its own checks and transaction; bulkId references resolve in any order.",
    request_body(content = Value, content_type = "application/scim+json", description = "A BulkRequest"),
    responses((status = 200, description = "A BulkResponse with every operation's own status", content_type = "application/scim+json", body = Value)))]
pub async fn bulk(
    State(state): State<AppState>,
    caller: Caller,
    deadline: Option<Extension<Deadline>>,
    headers: HeaderMap,
    JsonBody(body, _): ScimJson,
) -> Answer {
    if body.to_string().len() > MAX_PAYLOAD_SIZE {
        return Err(ApiError::new(
            Kind::PayloadTooLarge,
            format!("a bulk request may be at most {MAX_PAYLOAD_SIZE} bytes"),
        ));
    }
    let (mut pending, fail_on_errors) = parse_ops(&body)?;
    let host = headers.get(header::HOST).cloned();
    let request_id = caller.request_id().map(str::to_owned);
    // Every operation runs as the caller, under the caller's request id and time limit: once
    // one has committed the request is no longer abandoned at its time-out, so operations
    // not started by then are answered 503 here instead.
    let as_caller = AuthState::Authenticated(caller.authenticated());
    let gate = caller.gate().cloned();
    let (routes, _) = super::resource_routes().split_for_parts();
    let router = with_dialect::<Scim>(routes, &state).with_state(state.clone());
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut results: Vec<(usize, Value)> = Vec::new();
    let mut errors = 0usize;
    while !pending.is_empty() {
        let (ready, waiting): (Vec<Op>, Vec<Op>) = pending
            .into_iter()
            .partition(|op| refs(op).iter().all(|r| ids.contains_key(r)));
        if ready.is_empty() {
            // Circular or dangling references: nothing more can run.
            for op in waiting {
                let detail = format!("bulkId references {:?} cannot be resolved", refs(&op));
                results.push((op.index, json!({"method": op.method.as_str(), "bulkId": op.bulk_id, "status": "409", "response": op_error(StatusCode::CONFLICT, Some("invalidValue"), detail)})));
            }
            break;
        }
        pending = waiting;
        for mut op in ready {
            if fail_on_errors.is_some_and(|n| errors >= n) {
                pending.clear();
                break;
            }
            if let Some(d) = op.data.as_mut() {
                substitute(d, &ids);
            }
            let path = op
                .path
                .split('/')
                .map(|s| {
                    s.strip_prefix("bulkId:")
                        .and_then(|b| ids.get(b))
                        .map(String::as_str)
                        .unwrap_or(s)
                })
                .collect::<Vec<_>>()
                .join("/");
            let mut entry = json!({"method": op.method.as_str()});
            if let Some(b) = &op.bulk_id {
                entry["bulkId"] = json!(b);
            }
            if deadline.as_ref().is_some_and(|d| Instant::now() >= d.0 .0) {
                errors += 1;
                entry["status"] = json!("503");
                entry["response"] = op_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    None,
                    "not attempted: the request ran out of time (ROSTER_REQUEST_TIMEOUT_SECS)"
                        .into(),
                );
                results.push((op.index, entry));
                continue;
            }
            if !allowed_path(&path) {
                errors += 1;
                entry["status"] = json!("400");
                entry["response"] = op_error(
                    StatusCode::BAD_REQUEST,
                    Some("invalidPath"),
                    format!("bulk operations address /Users or /Groups resources, not {path:?}"),
                );
                results.push((op.index, entry));
                continue;
            }
            let uri = format!("/{}", path.trim_start_matches('/'));
            let mut req = Request::builder().method(op.method.clone()).uri(&uri);
            if let Some(h) = &host {
                req = req.header(header::HOST, h);
            }
            if let Some(rid) = &request_id {
                req = req.header(REQUEST_ID, rid);
            }
            if let Some(v) = &op.version {
                req = req.header(header::IF_MATCH, v);
            }
            let body = match &op.data {
                Some(d) => {
                    req = req.header(header::CONTENT_TYPE, "application/scim+json");
                    Body::from(d.to_string())
                }
                None => Body::empty(),
            };
            let mut req = match req.body(body) {
                Ok(r) => r,
                // An unparsable path or version fails this operation only.
                Err(e) => {
                    errors += 1;
                    entry["status"] = json!("400");
                    entry["response"] = op_error(
                        StatusCode::BAD_REQUEST,
                        Some("invalidValue"),
                        format!("Operations[{}]: {e}", op.index),
                    );
                    results.push((op.index, entry));
                    continue;
                }
            };
            req.extensions_mut().insert(as_caller.clone());
            if let Some(g) = &gate {
                req.extensions_mut().insert(g.clone());
            }
            let res = router
                .clone()
                .oneshot(req)
                .await
                .unwrap_or_else(|e| match e {});
            let cx = ErrorContext {
                path: &uri,
                request_id: request_id.as_deref(),
            };
            let res = render_response(res, Some(Renderer::of::<Scim>()), &cx).await;
            let status = res.status();
            let location = res
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let etag = res
                .headers()
                .get(header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let bytes = to_bytes(res.into_body(), MAX_PAYLOAD_SIZE * 4)
                .await
                .unwrap_or_default();
            let parsed: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            entry["status"] = json!(status.as_str());
            if let Some(l) = location {
                entry["location"] = json!(l);
            }
            if let Some(v) = etag {
                entry["version"] = json!(v);
            }
            if status.is_success() {
                if let (Some(b), Some(id)) = (&op.bulk_id, parsed.get("id").and_then(Value::as_str))
                {
                    ids.insert(b.clone(), id.to_owned());
                }
            } else {
                errors += 1;
                entry["response"] = parsed;
            }
            results.push((op.index, entry));
        }
    }
    results.sort_by_key(|(i, _)| *i);
    let ops: Vec<Value> = results.into_iter().map(|(_, v)| v).collect();
    Ok(respond(
        StatusCode::OK,
        json!({"schemas": [BULK_RESPONSE_URN], "Operations": ops}),
        None,
        None,
    ))
}
