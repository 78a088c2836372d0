use reqwest::{Method, StatusCode};
use roster_store::OpenOptions;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn data_survives_a_restart() {
    let app = TestApp::spawn().await;
    let id = app.create_user("durable").await;
    let g = app
        .odm(
            Method::POST,
            "/Groups",
            ADMIN_TOKEN,
            Some(json!({"displayName": "Kept"})),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.odm(
        Method::PATCH,
        &format!("/Groups/{g}"),
        ADMIN_TOKEN,
        Some(patch(
            json!([{"op": "add", "path": "members", "value": {"value": id}}]),
        )),
    )
    .await;
    let (dir, url) = app.stop().await;

    let store = roster_store::open(&url, &OpenOptions::default())
        .await
        .unwrap();
    let app = TestApp::serve(dir, url, store).await;
    let u = app
        .odm(Method::GET, &format!("/Users/{id}"), ADMIN_TOKEN, None)
        .await;
    assert_eq!(u.status, StatusCode::OK, "the admin token survived too");
    assert_eq!(u.body["userName"], "durable");
    let g = app
        .odm(Method::GET, &format!("/Groups/{g}"), ADMIN_TOKEN, None)
        .await;
    assert_eq!(g.body["displayName"], "Kept");
    assert_eq!(g.body["members"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn user_name_uniqueness_is_enforced_by_the_database() {
    let app = TestApp::spawn().await;
    // Many concurrent creates of the same name (different case): exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let client = app.client.clone();
        let url = format!("{}/scim/v2/Users", app.base);
        let name = if i % 2 == 0 { "Racer" } else { "racer" };
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(ADMIN_TOKEN)
                .header("Content-Type", "application/scim+json")
                .body(json!({"userName": name}).to_string())
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let mut created = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created, 1);
    let r = app
        .scim(
            Method::GET,
            "/Users?filter=userName%20eq%20%22RACER%22",
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 1);
}

/// An admin request that must succeed, under request id `rid`.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    rid: &str,
    body: Option<serde_json::Value>,
) -> Resp {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let mut h = vec![("Authorization", auth.as_str()), ("x-request-id", rid)];
    if body.is_some() {
        h.push(("Content-Type", "application/scim+json"));
    }
    let r = app
        .raw(method, path, &h, body.map(|b| b.to_string().into_bytes()))
        .await;
    assert!(r.status.is_success(), "{rid}: {} {}", r.status, r.text);
    assert_eq!(r.headers["x-request-id"], rid);
    r
}

/// The audit rows of one request: (actor, action, target), oldest first.
async fn audited(app: &TestApp, request_id: &str) -> Vec<(String, String, String)> {
    let mut rows = app
        .store
        .audit_rows(
            &operator().audit_reader(),
            &roster_store::AuditQuery {
                request_id: Some(request_id.to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    rows.reverse();
    rows.into_iter()
        .map(|r| {
            (
                r.actor.unwrap_or_default(),
                r.action,
                r.target.unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_change_leaves_an_audit_row_with_actor_and_request_id() {
    let app = TestApp::spawn().await;
    let admin = app
        .store
        .find_user_by_name(
            &operator().user_admin().reader(),
            &roster_core::UserName::parse("admin").unwrap(),
        )
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string();
    let u = send(
        &app,
        Method::POST,
        "/scim/v2/Users",
        "r-user-create",
        Some(json!({"userName": "audited"})),
    )
    .await;
    let uid = u.body["id"].as_str().unwrap().to_owned();
    let upath = format!("/scim/v2/Users/{uid}");
    send(
        &app,
        Method::PATCH,
        &upath,
        "r-user-patch",
        Some(patch(
            json!([{"op": "replace", "path": "displayName", "value": "A"}]),
        )),
    )
    .await;
    send(
        &app,
        Method::PUT,
        &upath,
        "r-user-put",
        Some(json!({"userName": "audited"})),
    )
    .await;
    let g = send(
        &app,
        Method::POST,
        "/scim/v2/Groups",
        "r-group-create",
        Some(json!({"displayName": "G"})),
    )
    .await;
    let gid = g.body["id"].as_str().unwrap().to_owned();
    let gpath = format!("/scim/v2/Groups/{gid}");
    send(
        &app,
        Method::PATCH,
        &gpath,
        "r-group-patch",
        Some(patch(
            json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]),
        )),
    )
    .await;
    send(
        &app,
        Method::PUT,
        &gpath,
        "r-group-put",
        Some(json!({"displayName": "G2"})),
    )
    .await;
    send(&app, Method::DELETE, &gpath, "r-group-delete", None).await;
    send(
        &app,
        Method::PATCH,
        "/scim/v2/Me",
        "r-me",
        Some(patch(
            json!([{"op": "replace", "path": "nickName", "value": "boss"}]),
        )),
    )
    .await;
    let bulk = send(
        &app,
        Method::POST,
        "/scim/v2/Bulk",
        "r-bulk",
        Some(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "bulked"}},
            {"method": "DELETE", "path": format!("/Users/{uid}")},
        ]})),
    )
    .await;
    let bulked = bulk.body["Operations"][0]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let o = send(
        &app,
        Method::POST,
        "/api/v1/scim/Users",
        "r-odm-create",
        Some(user_body("odm-audited")),
    )
    .await;
    let oid = o.body["id"].as_str().unwrap().to_owned();
    let opath = format!("/api/v1/scim/Users/{oid}");
    send(&app, Method::DELETE, &opath, "r-odm-delete", None).await;

    let row = |action: &str, target: &str| (admin.clone(), action.to_owned(), target.to_owned());
    assert_eq!(
        audited(&app, "r-user-create").await,
        [row("user.create", &uid)]
    );
    assert_eq!(
        audited(&app, "r-user-patch").await,
        [row("user.update", &uid)]
    );
    assert_eq!(
        audited(&app, "r-user-put").await,
        [row("user.update", &uid)]
    );
    assert_eq!(
        audited(&app, "r-group-create").await,
        [row("group.create", &gid)]
    );
    assert_eq!(
        audited(&app, "r-group-patch").await,
        [row("group.update", &gid)]
    );
    assert_eq!(
        audited(&app, "r-group-put").await,
        [row("group.update", &gid)]
    );
    assert_eq!(
        audited(&app, "r-group-delete").await,
        [row("group.delete", &gid)]
    );
    assert_eq!(audited(&app, "r-me").await, [row("user.update", &admin)]);
    // Bulk operations carry the request id of the /Bulk request.
    assert_eq!(
        audited(&app, "r-bulk").await,
        [row("user.create", &bulked), row("user.delete", &uid)]
    );
    assert_eq!(
        audited(&app, "r-odm-create").await,
        [row("user.create", &oid)]
    );
    assert_eq!(
        audited(&app, "r-odm-delete").await,
        [row("user.update", &oid)]
    );

    // The operator's changes name the operator.
    let op = operator();
    let name = roster_core::UserName::parse("bulked").unwrap();
    let ctx = roster_store::WriteCtx {
        request_id: Some("r-operator".into()),
    };
    let t = roster_core::secret::generate_token();
    app.store
        .create_token(&op.token_admin(), &ctx, &name, None, &t)
        .await
        .unwrap();
    app.store
        .revoke_tokens(&op.token_admin(), &ctx, &name)
        .await
        .unwrap();
    app.store
        .set_permission(
            &op.user_admin(),
            &ctx,
            &name,
            roster_core::Permission::ManageGroups,
            true,
        )
        .await
        .unwrap();
    app.store
        .set_permission(
            &op.user_admin(),
            &ctx,
            &name,
            roster_core::Permission::ManageGroups,
            false,
        )
        .await
        .unwrap();
    let ops: Vec<(String, String)> = audited(&app, "r-operator")
        .await
        .into_iter()
        .map(|(a, action, _)| (a, action))
        .collect();
    let expect = |a: &str| ("test".to_owned(), a.to_owned());
    assert_eq!(
        ops,
        [
            expect("token.issue"),
            expect("token.revoke"),
            expect("permission.grant"),
            expect("permission.revoke")
        ]
    );
    // And the bootstrap wrote the first row of all.
    let first = app
        .store
        .audit_rows(&op.audit_reader(), &roster_store::AuditQuery::default())
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        (first.action.as_str(), first.target.as_deref()),
        ("bootstrap", Some(admin.as_str()))
    );
}
