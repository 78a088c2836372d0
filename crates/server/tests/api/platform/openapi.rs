//! `/openapi.json` and the router agree: every documented path and method is routed (none
//! answers the router's own 404 or 405), and an undocumented method on a documented path is
//! the router's 405. (The other direction holds by construction: dialects can only route
//! through `routes!`, which documents; scripts/check-layering.sh enforces that.)

use reqwest::{Method, StatusCode};

use crate::helpers::*;

fn is_router_answer(r: &Resp) -> bool {
    let detail = r.body["detail"]
        .as_str()
        .or(r.body["error"]["message"].as_str())
        .unwrap_or("");
    r.status == StatusCode::METHOD_NOT_ALLOWED
        || (r.status == StatusCode::NOT_FOUND && detail.starts_with("no such endpoint"))
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let app = TestApp::spawn().await;
    let r = app.raw(Method::GET, "/openapi.json", &[], None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3.1"));
    let user = app.create_user("probe").await;
    let group = app.create_group("probe").await;
    let paths = r.body["paths"].as_object().unwrap();
    assert!(paths.len() >= 20, "{}", paths.len());
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let all = ["get", "put", "post", "patch", "delete"];
    for (path, item) in paths {
        let concrete = path.replace("{name}", "User").replace(
            "{id}",
            if path.contains("/Groups/") {
                &group
            } else if path.contains("/Schemas/") {
                "urn:ietf:params:scim:schemas:core:2.0:User"
            } else {
                &user
            },
        );
        for m in all {
            let method = Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
            // Writes go to a path that names nothing, so the probe changes no data.
            let probe = if m == "get" {
                concrete.clone()
            } else {
                concrete
                    .replace(&user, "00000000-0000-4000-8000-000000000000")
                    .replace(&group, "00000000-0000-4000-8000-000000000000")
            };
            let body = (m != "get" && m != "delete").then(|| b"{}".to_vec());
            let mut h = vec![("Authorization", auth.as_str())];
            if body.is_some() {
                h.push(("Content-Type", "application/json"));
            }
            let res = app.raw(method, &probe, &h, body).await;
            if item.get(m).is_some() {
                assert!(
                    !is_router_answer(&res),
                    "{m} {path}: {} {}",
                    res.status,
                    res.text
                );
            } else {
                assert_eq!(
                    res.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{m} {path} is not documented but answered {}",
                    res.status
                );
            }
        }
    }
}
