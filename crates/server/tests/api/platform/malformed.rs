//! A table of malformed requests: each must get a clear 4xx in the SCIM error format and
//! leave the stored data exactly as it was.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

struct Case {
    name: &'static str,
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    body: Option<Vec<u8>>,
    status: u16,
    scim_type: Option<&'static str>,
}

fn case(
    name: &'static str,
    method: Method,
    path: impl Into<String>,
    body: Option<Vec<u8>>,
    status: u16,
    scim_type: Option<&'static str>,
) -> Case {
    let ct = body.as_ref().map(|_| "application/json");
    Case {
        name,
        method,
        path: path.into(),
        content_type: ct,
        body,
        status,
        scim_type,
    }
}

fn json_bytes(v: serde_json::Value) -> Option<Vec<u8>> {
    Some(v.to_string().into_bytes())
}

fn odm_patch(ops: serde_json::Value) -> Option<Vec<u8>> {
    json_bytes(patch(ops))
}

#[tokio::test]
async fn malformed_requests_get_4xx_and_change_nothing() {
    let app = TestApp::spawn().await;
    let uid = app.create_user("victim").await;
    let g = app.create_group("G").await;
    let users = "/api/v1/scim/Users".to_owned();
    let user = format!("/api/v1/scim/Users/{uid}");
    let group = format!("/api/v1/scim/Groups/{g}");
    let deep_json = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let deep_filter = format!("{}userName eq \"a\"{}", "(".repeat(100), ")".repeat(100));
    let long_filter = format!("userName eq \"{}\"", "a".repeat(10_000));
    let many_ops: Vec<_> = (0..1001)
        .map(|_| json!({"op": "replace", "value": {"displayName": "x"}}))
        .collect();
    let q = |f: &str| format!("{users}?filter={}", urlencode(f));
    use Method as M;
    let mut cases = vec![
        case(
            "truncated JSON",
            M::POST,
            &users,
            Some(b"{".to_vec()),
            400,
            Some("invalidSyntax"),
        ),
        case(
            "array body",
            M::POST,
            &users,
            Some(b"[]".to_vec()),
            400,
            Some("invalidSyntax"),
        ),
        case(
            "string body",
            M::POST,
            &users,
            Some(b"\"user\"".to_vec()),
            400,
            Some("invalidSyntax"),
        ),
        case(
            "null body",
            M::POST,
            &users,
            Some(b"null".to_vec()),
            400,
            Some("invalidSyntax"),
        ),
        case(
            "empty body",
            M::POST,
            &users,
            Some(Vec::new()),
            400,
            Some("invalidSyntax"),
        ),
        case(
            "invalid UTF-8",
            M::POST,
            &users,
            Some(vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}']),
            400,
            Some("invalidSyntax"),
        ),
        case(
            "deeply nested JSON",
            M::POST,
            &users,
            Some(deep_json.into_bytes()),
            400,
            Some("invalidSyntax"),
        ),
        case(
            "trailing garbage",
            M::POST,
            &users,
            Some(b"{\"userName\":\"a\"} xyz".to_vec()),
            400,
            Some("invalidSyntax"),
        ),
        case(
            "userName number",
            M::POST,
            &users,
            json_bytes(json!({"userName": 5, "active": true, "emails": [], "displayName": "d"})),
            400,
            Some("invalidValue"),
        ),
        case(
            "userName missing",
            M::POST,
            &users,
            json_bytes(json!({"active": true, "emails": [], "displayName": "d"})),
            400,
            Some("invalidValue"),
        ),
        case(
            "userName empty",
            M::POST,
            &users,
            json_bytes(json!({"userName": ""})),
            400,
            Some("invalidValue"),
        ),
        case(
            "userName blank",
            M::POST,
            &users,
            json_bytes(json!({"userName": "   "})),
            400,
            Some("invalidValue"),
        ),
        case(
            "userName huge",
            M::POST,
            &users,
            json_bytes(json!({"userName": "a".repeat(300)})),
            400,
            Some("invalidValue"),
        ),
        case(
            "userName control char",
            M::POST,
            &users,
            json_bytes(json!({"userName": "a\u{0000}b"})),
            400,
            Some("invalidValue"),
        ),
        case(
            "userName RTL/emoji control",
            M::POST,
            &users,
            json_bytes(json!({"userName": "😀\u{0007}"})),
            400,
            Some("invalidValue"),
        ),
        case(
            "active string",
            M::POST,
            &users,
            json_bytes(json!({"userName": "ok", "active": "yes"})),
            400,
            Some("invalidValue"),
        ),
        case(
            "emails not array",
            M::POST,
            &users,
            json_bytes(json!({"userName": "ok", "emails": "a@b.c"})),
            400,
            Some("invalidValue"),
        ),
        case(
            "email value number",
            M::POST,
            &users,
            json_bytes(json!({"userName": "ok", "emails": [{"value": 5}]})),
            400,
            Some("invalidValue"),
        ),
        case(
            "email type home",
            M::POST,
            &users,
            json_bytes(json!({"userName": "ok", "emails": [{"type": "home", "value": "a@b.c"}]})),
            400,
            Some("invalidValue"),
        ),
        case(
            "two primaries",
            M::POST,
            "/scim/v2/Users",
            json_bytes(
                json!({"userName": "ok", "emails": [{"value": "a@b.c", "primary": true}, {"value": "b@b.c", "primary": true}]}),
            ),
            400,
            Some("invalidValue"),
        ),
        case(
            "displayName object",
            M::POST,
            &users,
            json_bytes(json!({"userName": "ok", "displayName": {"a": 1}})),
            400,
            Some("invalidValue"),
        ),
        case(
            "displayName huge unicode",
            M::POST,
            &users,
            json_bytes(json!({"userName": "ok", "displayName": "é".repeat(5000)})),
            400,
            Some("invalidValue"),
        ),
        case(
            "externalId array",
            M::POST,
            &users,
            json_bytes(json!({"userName": "ok", "externalId": []})),
            400,
            Some("invalidValue"),
        ),
        case(
            "schemas not array",
            M::POST,
            &users,
            json_bytes(json!({"userName": "ok", "schemas": "urn"})),
            400,
            Some("invalidValue"),
        ),
        case(
            "SCIM duplicate userName",
            M::POST,
            "/scim/v2/Users",
            json_bytes(json!({"userName": "VICTIM"})),
            409,
            Some("uniqueness"),
        ),
        case(
            "SCIM name not object",
            M::POST,
            "/scim/v2/Users",
            json_bytes(json!({"userName": "n", "name": "str"})),
            400,
            Some("invalidValue"),
        ),
        case(
            "filter SQL injection",
            M::GET,
            q("userName eq x' OR 1=1--"),
            None,
            400,
            Some("invalidFilter"),
        ),
        case(
            "filter DROP TABLE",
            M::GET,
            q("'; DROP TABLE users; --"),
            None,
            400,
            Some("invalidFilter"),
        ),
        case(
            "filter empty",
            M::GET,
            format!("{users}?filter="),
            None,
            400,
            Some("invalidFilter"),
        ),
        case(
            "filter deeply nested",
            M::GET,
            q(&deep_filter),
            None,
            400,
            Some("invalidFilter"),
        ),
        case(
            "filter unterminated",
            M::GET,
            q("userName eq \"abc"),
            None,
            400,
            Some("invalidFilter"),
        ),
        case(
            "filter huge",
            M::GET,
            q(&long_filter),
            None,
            400,
            Some("invalidFilter"),
        ),
        case(
            "filter unknown attribute",
            M::GET,
            q("nosuch eq \"x\""),
            None,
            400,
            Some("invalidFilter"),
        ),
        case(
            "filter dangling and",
            M::GET,
            q("userName eq \"x\" and"),
            None,
            400,
            Some("invalidFilter"),
        ),
        case(
            "filter unicode operator",
            M::GET,
            q("userName ≠ \"x\""),
            None,
            400,
            Some("invalidFilter"),
        ),
        case(
            "SCIM filter type mismatch",
            M::GET,
            "/scim/v2/Users?filter=active%20gt%20true",
            None,
            400,
            Some("invalidFilter"),
        ),
        case(
            "count not a number",
            M::GET,
            format!("{users}?count=abc"),
            None,
            400,
            Some("invalidValue"),
        ),
        case(
            "startIndex fractional",
            M::GET,
            format!("{users}?startIndex=1.5"),
            None,
            400,
            Some("invalidValue"),
        ),
        case(
            "count overflow",
            M::GET,
            format!("{users}?count=99999999999999999999"),
            None,
            400,
            Some("invalidValue"),
        ),
        case(
            "query invalid UTF-8",
            M::GET,
            format!("{users}?startIndex=%FF"),
            None,
            400,
            Some("invalidValue"),
        ),
        case(
            "id malformed",
            M::GET,
            format!("{users}/not-a-uuid"),
            None,
            400,
            Some("invalidValue"),
        ),
        case(
            "id unicode",
            M::GET,
            format!("{users}/%E2%98%83"),
            None,
            400,
            Some("invalidValue"),
        ),
        case(
            "id SQL",
            M::DELETE,
            format!("{users}/1%20OR%201%3D1"),
            None,
            400,
            Some("invalidValue"),
        ),
        case(
            "patch without schemas",
            M::PATCH,
            &user,
            json_bytes(json!({"Operations": [{"op": "replace", "value": {"displayName": "x"}}]})),
            400,
            Some("invalidSyntax"),
        ),
        case(
            "patch lowercase operations",
            M::PATCH,
            &user,
            json_bytes(json!({"schemas": [PATCH_URN], "operations": []})),
            400,
            Some("invalidSyntax"),
        ),
        case(
            "patch Operations object",
            M::PATCH,
            &user,
            json_bytes(json!({"schemas": [PATCH_URN], "Operations": {}})),
            400,
            Some("invalidSyntax"),
        ),
        case(
            "patch unknown op",
            M::PATCH,
            &user,
            odm_patch(json!([{"op": "upsert", "value": {"displayName": "x"}}])),
            400,
            Some("invalidSyntax"),
        ),
        case(
            "patch bad path",
            M::PATCH,
            &user,
            odm_patch(json!([{"op": "replace", "path": "emails[type eq", "value": {}}])),
            400,
            Some("invalidPath"),
        ),
        case(
            "patch id",
            M::PATCH,
            &user,
            odm_patch(json!([{"op": "replace", "path": "id", "value": {"id": "x"}}])),
            400,
            Some("mutability"),
        ),
        case(
            "patch remove without path",
            M::PATCH,
            &user,
            odm_patch(json!([{"op": "remove"}])),
            400,
            Some("noTarget"),
        ),
        case(
            "patch too many ops",
            M::PATCH,
            &user,
            odm_patch(json!(many_ops)),
            400,
            Some("tooMany"),
        ),
        case(
            "patch value huge",
            M::PATCH,
            &user,
            odm_patch(json!([{"op": "replace", "value": {"displayName": "😀".repeat(2000)}}])),
            400,
            Some("invalidValue"),
        ),
        case(
            "patch userName null",
            M::PATCH,
            &user,
            odm_patch(json!([{"op": "replace", "value": {"userName": null}}])),
            400,
            Some("invalidValue"),
        ),
        case(
            "patch userName to taken",
            M::PATCH,
            &user,
            odm_patch(json!([{"op": "replace", "value": {"userName": "ADMIN"}}])),
            409,
            Some("uniqueness"),
        ),
        case(
            "group displayName number",
            M::POST,
            "/api/v1/scim/Groups",
            json_bytes(json!({"displayName": 7})),
            400,
            Some("invalidValue"),
        ),
        case(
            "group remove member not a uuid",
            M::PATCH,
            &group,
            odm_patch(json!([{"op": "remove", "path": "members[value eq \"x\"]"}])),
            400,
            Some("invalidValue"),
        ),
        case(
            "group member filter unsupported",
            M::PATCH,
            &group,
            odm_patch(json!([{"op": "remove", "path": "members[display co \"x\"]"}])),
            400,
            Some("invalidFilter"),
        ),
        case(
            "group members not array",
            M::PATCH,
            &group,
            odm_patch(json!([{"op": "add", "path": "members", "value": "x"}])),
            400,
            Some("invalidValue"),
        ),
        case(
            "method not allowed on collection",
            M::DELETE,
            &users,
            None,
            405,
            None,
        ),
        case(
            "no PUT in ODM",
            M::PUT,
            &user,
            json_bytes(json!({"userName": "x"})),
            405,
            None,
        ),
        case(
            "unknown endpoint",
            M::GET,
            "/api/v1/scim/Nope",
            None,
            404,
            None,
        ),
        case(
            "body too large",
            M::POST,
            &users,
            Some(vec![b' '; 3 * 1024 * 1024]),
            413,
            None,
        ),
    ];
    let mut ct = case(
        "text/plain body",
        M::POST,
        &users,
        json_bytes(json!({"userName": "ok"})),
        415,
        None,
    );
    ct.content_type = Some("text/plain");
    cases.push(ct);
    let mut ct = case(
        "xml body",
        M::POST,
        &users,
        Some(b"<user/>".to_vec()),
        415,
        None,
    );
    ct.content_type = Some("application/xml");
    cases.push(ct);
    assert!(cases.len() >= 40, "{} cases", cases.len());

    let before = app.snapshot().await;
    let auth = format!("Bearer {ADMIN_TOKEN}");
    for c in &cases {
        let mut headers = vec![("Authorization", auth.as_str())];
        if let Some(ct) = c.content_type {
            headers.push(("Content-Type", ct));
        }
        let r = app
            .raw(c.method.clone(), &c.path, &headers, c.body.clone())
            .await;
        assert_eq!(r.status.as_u16(), c.status, "case {:?}: {}", c.name, r.text);
        assert_scim_error(&r, c.status, c.scim_type);
        assert_eq!(
            app.snapshot().await,
            before,
            "case {:?} changed stored data",
            c.name
        );
    }
}

#[tokio::test]
async fn out_of_range_paging_follows_rfc_7644() {
    let app = TestApp::spawn().await;
    for i in 0..3 {
        app.create_user(&format!("u{i}")).await;
    }
    let get = |q: &'static str| {
        let app = &app;
        async move {
            app.odm(Method::GET, &format!("/Users?{q}"), ADMIN_TOKEN, None)
                .await
        }
    };
    let r = get("count=-5").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        (
            r.body["totalResults"].as_i64(),
            r.body["itemsPerPage"].as_i64()
        ),
        (Some(4), Some(0))
    );
    let r = get("count=0").await;
    assert_eq!(r.body["Resources"], json!([]));
    assert_eq!(r.body["totalResults"], 4);
    let r = get("startIndex=0&count=1").await;
    assert_eq!(r.body["startIndex"], 1);
    assert_eq!(r.body["Resources"][0]["userName"], "admin");
    let r = get("startIndex=-100").await;
    assert_eq!(r.body["startIndex"], 1);
    let r = get("startIndex=1000000").await;
    assert_eq!(r.body["Resources"], json!([]));
    assert_eq!(r.body["totalResults"], 4);
    let r = get("count=1000000").await;
    assert_eq!(
        r.body["itemsPerPage"], 4,
        "huge counts are clamped, not refused"
    );
}
