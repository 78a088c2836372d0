//! `/scim/v2/Bulk`.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

#[tokio::test]
async fn bulk_resolves_bulk_ids_and_honours_fail_on_errors() {
    let app = TestApp::spawn().await;
    // The group refers to users created later in the same request.
    let r = app
        .scim_admin(Method::POST, "/Bulk", json!({"schemas": [BULK], "Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "Tour Guides", "members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"userName": "guide1"}},
            {"method": "POST", "path": "/Users", "bulkId": "u2", "data": {"userName": "guide2"}},
            {"method": "PATCH", "path": "/Users/bulkId:u1", "data": {"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "displayName", "value": "G1"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "dup", "data": {"userName": "GUIDE1"}},
        ]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let ops = r.body["Operations"].as_array().unwrap();
    let status: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(status, ["201", "201", "201", "200", "409"], "{}", r.text);
    assert_eq!(ops[4]["response"]["scimType"], "uniqueness");
    let gloc = ops[0]["location"].as_str().unwrap();
    let gid = gloc.rsplit('/').next().unwrap();
    let g = app
        .scim(Method::GET, &format!("/Groups/{gid}"), ADMIN_TOKEN, None)
        .await;
    assert_eq!(g.body["members"].as_array().unwrap().len(), 2, "{}", g.text);
    let u1 = ops[1]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.scim(Method::GET, &format!("/Users/{u1}"), ADMIN_TOKEN, None)
            .await
            .body["displayName"],
        "G1"
    );

    // failOnErrors: 1 stops after the first failure; later operations do not run.
    let r = app
        .scim_admin(
            Method::POST,
            "/Bulk",
            json!({"schemas": [BULK], "failOnErrors": 1, "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "guide2"}},
                {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "never"}},
            ]}),
        )
        .await;
    assert_eq!(
        r.body["Operations"].as_array().unwrap().len(),
        1,
        "{}",
        r.text
    );
    let f = app
        .scim(
            Method::GET,
            "/Users?filter=userName%20eq%20%22never%22",
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(f.body["totalResults"], 0);

    // Circular references cannot run; limits are enforced.
    let r = app
        .scim_admin(Method::POST, "/Bulk", json!({"schemas": [BULK], "Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "x", "data": {"displayName": "X", "members": [{"value": "bulkId:y"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "y", "data": {"displayName": "Y", "members": [{"value": "bulkId:x"}]}},
        ]}))
        .await;
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 2, "{}", r.text);
    assert!(ops.iter().all(|o| o["status"] == "409"), "{}", r.text);
    let many: Vec<_> = (0..1001)
        .map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")}))
        .collect();
    let r = app
        .scim_admin(
            Method::POST,
            "/Bulk",
            json!({"schemas": [BULK], "Operations": many}),
        )
        .await;
    assert_scim_error(&r, 413, None);
    let r = app
        .scim_admin(
            Method::POST,
            "/Bulk",
            json!({"schemas": [BULK], "Operations": [{"method": "GET", "path": "/Users"}]}),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidSyntax"));
    // Each operation keeps its own permission checks.
    app.create_user("plain").await;
    let t = app.token_for("plain").await;
    let r = app.scim(Method::POST, "/Bulk", &t, Some(json!({"schemas": [BULK], "Operations": [{"method": "POST", "path": "/Users", "bulkId": "p", "data": {"userName": "sneaky"}}]}))).await;
    assert_eq!(r.body["Operations"][0]["status"], "403", "{}", r.text);
}

#[tokio::test]
async fn bulk_authenticates_before_it_reads_the_operations() {
    let app = TestApp::spawn().await;
    let ops: Vec<_> = (0..1000)
        .map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"), "data": {"userName": format!("u{i}")}}))
        .collect();
    let body = json!({"schemas": [BULK], "Operations": ops}).to_string();
    for auth in [None, Some("Bearer nope")] {
        let mut h = vec![("Content-Type", "application/scim+json")];
        if let Some(a) = auth {
            h.push(("Authorization", a));
        }
        let r = app
            .raw(
                Method::POST,
                "/scim/v2/Bulk",
                &h,
                Some(body.clone().into_bytes()),
            )
            .await;
        assert_scim_error(&r, 401, None);
        assert!(r.headers.contains_key("www-authenticate"));
    }
    assert_eq!(app.snapshot().await.len(), 1, "only the admin exists");
}

#[tokio::test]
async fn an_operation_that_cannot_be_dispatched_fails_alone() {
    let app = TestApp::spawn().await;
    let r = app
        .scim_admin(Method::POST, "/Bulk", json!({"schemas": [BULK], "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "first"}},
                // Not a URI path: the request for it cannot even be built.
                {"method": "DELETE", "path": "/Users/has space\u{7f}"},
                // Not a header value.
                {"method": "DELETE", "path": "/Users/00000000-0000-4000-8000-000000000000", "version": "W/\"1\"\n"},
                {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "second"}},
            ]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let statuses: Vec<&str> = r.body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["201", "400", "400", "201"], "{}", r.text);
    let names = app.snapshot().await;
    assert!(
        names.iter().any(|u| u.contains("\"first\""))
            && names.iter().any(|u| u.contains("\"second\""))
    );
}
