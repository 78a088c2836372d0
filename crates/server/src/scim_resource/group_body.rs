//! Reads a SCIM Group resource from a request body.

use roster_core::patch::{group_change, parse_patch, Unknown};
use roster_core::{CoreError, MemberOp, NewGroup};
use serde_json::{json, Value};

use super::user_body::get_ci;

pub fn parse_group_body(v: &Value) -> Result<NewGroup, CoreError> {
    let o = v
        .as_object()
        .ok_or_else(|| CoreError::InvalidSyntax("a Group must be a JSON object".into()))?;
    let display_name = match get_ci(o, "displayName") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(CoreError::invalid_value("displayName must be a string")),
        None => return Err(CoreError::invalid_value("displayName is required")),
    };
    let external_id = match get_ci(o, "externalId") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(CoreError::invalid_value("externalId must be a string")),
    };
    let mut members = Vec::new();
    if let Some(m) = get_ci(o, "members") {
        if !m.is_array() {
            return Err(CoreError::invalid_value("members must be an array"));
        }
        // Reuse the PATCH member parser so both paths accept exactly the same shapes.
        let ops = parse_patch(&json!({
            "schemas": [roster_core::patch::PATCH_OP_URN],
            "Operations": [{"op": "add", "path": "members", "value": m}],
        }))?;
        for op in group_change(&ops, Unknown::Reject, "")?.members {
            if let MemberOp::Add(items) = op {
                members.extend(items);
            }
        }
    }
    let g = NewGroup {
        display_name,
        external_id,
        members,
    };
    g.validate()?;
    Ok(g)
}
