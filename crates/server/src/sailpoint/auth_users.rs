//! GET and PATCH `/{id}`: a user as SailPoint's `AuthUser`, and JSON Patch on its
//! capabilities.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use roster_core::{capability, format_micros, CoreError};
use roster_store::Access;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::app::AppState;
use crate::http::auth::Caller;
use crate::http::body::json_response;
use crate::http::extract::PathParam;
use crate::http::{ApiError, Kind};

/// Most operations in one PATCH.
const MAX_OPERATIONS: usize = 100;

/// A SailPoint identity id: 32 hex digits, or the dashed UUID. Any other shape names no
/// identity (404, as SailPoint answers), not a malformed request.
fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    let ok = (raw.len() == 32 && raw.chars().all(|c| c.is_ascii_hexdigit()))
        || (raw.len() == 36 && raw.chars().filter(|c| *c == '-').count() == 4);
    ok.then(|| Uuid::parse_str(raw).ok())
        .flatten()
        .ok_or_else(|| {
            ApiError::new(
                Kind::NotFound,
                format!("The identity {} was not found.", shorten(raw)),
            )
        })
}

fn shorten(s: &str) -> String {
    s.chars().take(64).collect()
}

fn not_found(id: Uuid) -> ApiError {
    ApiError::new(
        Kind::NotFound,
        format!("The identity {} was not found.", id.simple()),
    )
}

fn json_answer(body: Value) -> Response {
    json_response(StatusCode::OK, &body)
}

fn millis(micros: Option<i64>) -> Value {
    micros.map_or(Value::Null, |m| json!(m / 1000))
}

/// The value of the first multi-valued entry (`phoneNumbers`) matching `pick`.
fn multi_value(a: &Access, attr: &str, pick: impl Fn(&Value) -> bool) -> Value {
    a.user
        .multi
        .get(attr)
        .and_then(|vs| vs.iter().find(|v| pick(v)))
        .and_then(|v| v.get("value").cloned())
        .unwrap_or(Value::Null)
}

/// `AuthUser` (contract §4): strict types, `firstname`/`lastname` with a lower-case n.
fn render(state: &AppState, a: &Access) -> Value {
    let u = &a.user;
    let email = u
        .emails
        .iter()
        .find(|e| e.primary)
        .or_else(|| u.emails.first())
        .map(|e| e.value.clone());
    let personal = u
        .emails
        .iter()
        .find(|e| matches!(e.kind.as_deref(), Some("home") | Some("other")))
        .map(|e| e.value.clone());
    let is_type =
        |t: &'static str| move |v: &Value| v.get("type").and_then(Value::as_str) == Some(t);
    let phone = multi_value(a, "phoneNumbers", |v| {
        v.get("primary") == Some(&json!(true))
    });
    let phone = if phone.is_null() {
        multi_value(a, "phoneNumbers", |_| true)
    } else {
        phone
    };
    json!({
        "tenant": &*state.tenant,
        "id": u.id.to_string(),
        "uid": u.user_name.as_str(),
        "profile": null,
        "identificationNumber": u.enterprise.employee_number,
        "email": email,
        "phone": phone,
        "workPhone": multi_value(a, "phoneNumbers", is_type("work")),
        "personalEmail": personal,
        "firstname": u.given_name,
        "lastname": u.family_name,
        "displayName": u.display_name.clone().unwrap_or_else(|| u.user_name.as_str().to_owned()),
        "alias": u.user_name.as_str(),
        "lastPasswordChangeDate": a.password_changed_at.map(format_micros),
        "lastLoginTimestamp": millis(a.last_login_at),
        "currentLoginTimestamp": millis(a.current_login_at),
        "lastUnlockTimestamp": null,
        "capabilities": a.capabilities,
    })
}

#[utoipa::path(get, path = "/{id}",
    params(("id" = String, Path, description = "The identity id: the SCIM id, dashed or as 32 hex digits")),
    description = "The user as SailPoint's AuthUser. Yourself, or anyone with ORG_ADMIN.",
    responses((status = 200, description = "AuthUser", body = Value),
              (status = 403, description = "Reading another user needs ORG_ADMIN"),
              (status = 404, description = "No such identity")))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(raw): PathParam,
) -> Result<Response, ApiError> {
    let id = parse_id(&raw)?;
    let me = caller.principal();
    let reader = if id == me.user_id {
        me.self_service().reader()
    } else {
        me.capability_admin()?;
        me.user_admin()?.reader()
    };
    let a = caller
        .store()
        .access(&reader, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(json_answer(render(&state, &a)))
}

/// Checks the operations before anything is applied: each names `/capabilities` or an
/// index in it, and `move`/`copy` are refused.
fn check_operations(ops: &[Value]) -> Result<(), ApiError> {
    if ops.len() > MAX_OPERATIONS {
        return Err(ApiError::new(
            Kind::TooMany,
            format!("at most {MAX_OPERATIONS} operations per request"),
        ));
    }
    for op in ops {
        let path = op.get("path").and_then(Value::as_str).unwrap_or("");
        let name = op.get("op").and_then(Value::as_str).unwrap_or("");
        if path != "/capabilities" && !path.starts_with("/capabilities/") {
            return Err(ApiError::new(
                Kind::Mutability,
                format!(
                    "Illegal update attempt: only /capabilities can be patched, not {:?}",
                    shorten(path)
                ),
            ));
        }
        if matches!(name, "move" | "copy") {
            return Err(ApiError::invalid_value(format!(
                "the {name} operation is not supported on /capabilities"
            )));
        }
    }
    Ok(())
}

/// Applies the patch to `{"capabilities": current}` (all or nothing) and reads the result.
fn apply(patch: &json_patch::Patch, current: &[String]) -> Result<Vec<String>, CoreError> {
    let mut doc = json!({"capabilities": current});
    json_patch::patch(&mut doc, &patch.0)
        .map_err(|e| CoreError::invalid_value(format!("the patch does not apply: {e}")))?;
    let list = doc
        .get("capabilities")
        .and_then(Value::as_array)
        .ok_or_else(|| CoreError::invalid_value("capabilities must stay an array"))?;
    list.iter()
        .map(|v| {
            let name = v
                .as_str()
                .ok_or_else(|| CoreError::invalid_value("a capability is a string"))?;
            capability::parse(name).map(str::to_owned)
        })
        .collect()
}

fn json_content_type(headers: &HeaderMap) -> bool {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "application/json-patch+json" | "application/json"
    )
}

#[utoipa::path(patch, path = "/{id}",
    params(("id" = String, Path, description = "The identity id: the SCIM id, dashed or as 32 hex digits")),
    description = "Changes the user's capabilities with RFC 6902 JSON Patch on `/capabilities` \
        (add, remove, replace, test), atomically. Needs ORG_ADMIN. ORG_ADMIN itself is \
        manage-organization + manage-groups: granting or removing it changes those permissions.",
    request_body(content = Value, content_type = "application/json-patch+json",
        description = "[{\"op\": \"add\", \"path\": \"/capabilities/-\", \"value\": \"HELPDESK\"}]"),
    responses((status = 200, description = "The updated AuthUser", body = Value),
              (status = 400, description = "Not a patch, a path outside /capabilities, an unknown capability, a failed test"),
              (status = 403, description = "Needs ORG_ADMIN"),
              (status = 404, description = "No such identity")))]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(raw): PathParam,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_id(&raw)?;
    let admin = caller.principal().capability_admin()?;
    if !json_content_type(&headers) {
        return Err(ApiError::new(
            Kind::UnsupportedMediaType,
            "the body must be application/json-patch+json",
        ));
    }
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid_syntax(format!("the body is not JSON: {e}")))?;
    let ops = value
        .as_array()
        .ok_or_else(|| ApiError::invalid_syntax("the body must be a JSON array of operations"))?;
    check_operations(ops)?;
    let patch: json_patch::Patch = serde_json::from_value(value.clone())
        .map_err(|e| ApiError::invalid_syntax(format!("not an RFC 6902 patch: {e}")))?;
    let edit = |current: &[String]| apply(&patch, current);
    let a = caller
        .store()
        .set_capabilities(&admin, &caller.ctx(), id, &edit)
        .await
        .map_err(|e| match e {
            roster_store::StoreError::NotFound(_) => not_found(id),
            other => other.into(),
        })?;
    Ok(json_answer(render(&state, &a)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_both_forms_and_nothing_else() {
        let u = Uuid::new_v4();
        assert_eq!(parse_id(&u.to_string()).unwrap(), u);
        assert_eq!(parse_id(&u.simple().to_string()).unwrap(), u);
        for bad in [
            "",
            "abc",
            "2c91808458ae7a4f0158b1bbf8af062",
            "zz91808458ae7a4f0158b1bbf8af0628",
            "{a}",
        ] {
            assert_eq!(
                parse_id(bad).unwrap_err().status(),
                StatusCode::NOT_FOUND,
                "{bad}"
            );
        }
    }

    #[test]
    fn patches_apply_all_or_nothing() {
        let p = |v: Value| serde_json::from_value::<json_patch::Patch>(v).unwrap();
        let cur = vec!["HELPDESK".to_owned()];
        let out = apply(&p(json!([{"op": "add", "path": "/capabilities/-", "value": "ORG_ADMIN"}, {"op": "remove", "path": "/capabilities/0"}])), &cur).unwrap();
        assert_eq!(out, vec!["ORG_ADMIN"]);
        assert!(apply(
            &p(json!([{"op": "test", "path": "/capabilities/0", "value": "ORG_ADMIN"}])),
            &cur
        )
        .is_err());
        assert!(apply(
            &p(json!([{"op": "remove", "path": "/capabilities/5"}])),
            &cur
        )
        .is_err());
        assert!(apply(
            &p(json!([{"op": "add", "path": "/capabilities/-", "value": "ROOT"}])),
            &cur
        )
        .is_err());
        assert!(
            check_operations(&[json!({"op": "replace", "path": "/uid", "value": "x"})]).is_err()
        );
        assert!(check_operations(&[
            json!({"op": "copy", "from": "/capabilities/0", "path": "/capabilities/-"})
        ])
        .is_err());
    }
}
