//! `--workloads abuse`: the costliest requests an account may still make against a record
//! it controls (THREAT-MODEL.md, issue 10's two high findings), each measured while ordinary
//! GETs run next to it, against the same GETs alone. Attacks: a projection of the most paths
//! `attributes` may list over a record holding the most values its multi-valued attributes
//! may hold; a PATCH adding the most values at once (all duplicates, the old quadratic case);
//! and an over-long `attributes` list, which must be refused. The verdict line says whether
//! every attack answered within 100 ms (p99) and the ordinary GETs' p99 rose by at most 50 ms.

use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use rand::Rng;
use serde_json::{json, Value};

use crate::client::{Conn, Req, Target};
use crate::seed::{Manifest, PATCH_OP};
use crate::stats::Row;
use crate::workloads::{self, Workload};

/// The server's documented bounds (`roster_core::user::MAX_VALUES`, the projection's
/// `MAX_PATHS`).
const MAX_VALUES: usize = 100;
const MAX_PATHS: usize = 100;

fn values(n: usize, kind: &str) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"value": format!("{kind}-{i:03}-{}", "v".repeat(40)), "display": format!("{kind} {i}"), "type": "work", "primary": i == 0}))
            .collect(),
    )
}

fn patch(ops: Value) -> Vec<u8> {
    json!({"schemas": [PATCH_OP], "Operations": ops})
        .to_string()
        .into_bytes()
}

/// Gives the victim the most values the server lets a record hold.
async fn prepare(target: &Arc<Target>, victim: &str) -> anyhow::Result<()> {
    let mut conn = Conn::new(target.clone());
    let body = patch(json!([
        {"op": "replace", "path": "roles", "value": values(MAX_VALUES, "role")},
        {"op": "replace", "path": "phoneNumbers", "value": values(MAX_VALUES, "phone")},
        {"op": "replace", "path": "entitlements", "value": values(MAX_VALUES, "ent")},
    ]));
    let req = Req::with_body(
        Method::PATCH,
        format!("/scim/v2/Users/{victim}"),
        body,
        StatusCode::OK,
    );
    conn.call(&req)
        .await
        .map(|_| ())
        .map_err(anyhow::Error::msg)
}

/// `MAX_PATHS` distinct paths, all naming sub-attributes of the victim's values.
fn projection() -> String {
    let subs = ["value", "display", "type", "primary"];
    let attrs = ["roles", "phoneNumbers", "entitlements"];
    let mut paths: Vec<String> = attrs
        .iter()
        .flat_map(|a| subs.iter().map(move |s| format!("{a}.{s}")))
        .collect();
    let mut i = 0;
    while paths.len() < MAX_PATHS {
        paths.push(format!("roles.x{i}"));
        i += 1;
    }
    paths.join(",")
}

fn ordinary(m: &Arc<Manifest>, name: &str) -> Workload {
    let m = m.clone();
    let n = m.users.len().max(1);
    workloads::workload(name, move |rng, _, _| {
        Req::get(format!("/scim/v2/Users/{}", m.users[rng.gen_range(0..n)]))
    })
}

pub async fn run(
    target: &Arc<Target>,
    m: &Arc<Manifest>,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<(Vec<Row>, bool)> {
    let victim = m.users.first().cloned().unwrap_or_default();
    prepare(target, &victim).await?;
    let (attackers, bystanders) = (2, 4);
    let alone = workloads::run(
        target,
        bystanders,
        warmup,
        duration,
        &ordinary(m, "get /Users/{id} alone"),
    )
    .await;
    let mut rows = vec![alone.clone()];
    let mut ok = true;
    let path = format!("/scim/v2/Users/{victim}?attributes={}", projection());
    let too_long = format!(
        "/scim/v2/Users/{victim}?attributes={}",
        vec!["roles.value"; 500].join(",")
    );
    let add_body =
        patch(json!([{"op": "add", "path": "roles", "value": values(MAX_VALUES, "role")}]));
    let patch_path = format!("/scim/v2/Users/{victim}");
    let attacks = [
        workloads::workload(
            format!("abuse: {MAX_PATHS} paths over 3x{MAX_VALUES} values"),
            move |_, _, _| Req::get(path.clone()),
        ),
        workloads::workload(
            format!("abuse: PATCH add {MAX_VALUES} duplicates"),
            move |_, _, _| {
                Req::with_body(
                    Method::PATCH,
                    patch_path.clone(),
                    add_body.clone(),
                    StatusCode::OK,
                )
            },
        ),
        workloads::workload("abuse: 500-path attributes (400)", move |_, _, _| {
            let mut r = Req::get(too_long.clone());
            r.expect = StatusCode::BAD_REQUEST;
            r
        }),
    ];
    for attack in attacks {
        let beside = ordinary(m, "  get /Users/{id} beside it");
        let (a, b) = tokio::join!(
            workloads::run(target, attackers, warmup, duration, &attack),
            workloads::run(target, bystanders, warmup, duration, &beside),
        );
        ok &= a.p99_ms <= 100.0 && b.p99_ms - alone.p99_ms <= 50.0;
        rows.push(a);
        rows.push(b);
    }
    Ok((rows, ok))
}
