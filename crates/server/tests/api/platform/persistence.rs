use reqwest::{Method, StatusCode};
use roster_store::OpenOptions;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn data_survives_a_restart() {
    let app = TestApp::spawn().await;
    let id = app.create_user("durable").await;
    let g = app.create_group("Kept").await;
    app.odm_patch(
        &format!("/Groups/{g}"),
        ADMIN_TOKEN,
        json!([{"op": "add", "path": "members", "value": {"value": id}}]),
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
    assert_eq!(g.body["members"][0]["value"], json!(id));
    assert_eq!(g.body["members"].as_array().unwrap().len(), 1);
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

/// An admin request (`"METHOD /path"`) that must succeed, under request id `rid`.
async fn send(app: &TestApp, what: &str, rid: &str, body: Option<serde_json::Value>) -> Resp {
    let (method, path) = what.split_once(' ').unwrap();
    let method = Method::from_bytes(method.as_bytes()).unwrap();
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
    // Each step: "METHOD path", request id, body; `{uid}`, `{gid}`, `{oid}` stand for the
    // ids the POSTs of r-user-create, r-group-create and r-odm-create answered.
    let bulk = r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "bulked"}},
        {"method": "DELETE", "path": "/Users/{uid}"}]}"#;
    let patch_name = r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "displayName", "value": "A"}]}"#;
    let add_member = r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "members", "value": [{"value": "{uid}"}]}]}"#;
    let nick = r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "nickName", "value": "boss"}]}"#;
    let odm_user = user_body("odm-audited").to_string();
    let steps: [(&str, &str, Option<&str>); 12] = [
        (
            "POST /scim/v2/Users",
            "r-user-create",
            Some(r#"{"userName": "audited"}"#),
        ),
        (
            "PATCH /scim/v2/Users/{uid}",
            "r-user-patch",
            Some(patch_name),
        ),
        (
            "PUT /scim/v2/Users/{uid}",
            "r-user-put",
            Some(r#"{"userName": "audited"}"#),
        ),
        (
            "POST /scim/v2/Groups",
            "r-group-create",
            Some(r#"{"displayName": "G"}"#),
        ),
        (
            "PATCH /scim/v2/Groups/{gid}",
            "r-group-patch",
            Some(add_member),
        ),
        (
            "PUT /scim/v2/Groups/{gid}",
            "r-group-put",
            Some(r#"{"displayName": "G2"}"#),
        ),
        ("DELETE /scim/v2/Groups/{gid}", "r-group-delete", None),
        ("PATCH /scim/v2/Me", "r-me", Some(nick)),
        ("POST /scim/v2/Bulk", "r-bulk", Some(bulk)),
        ("POST /api/v1/scim/Users", "r-odm-create", Some(&odm_user)),
        ("DELETE /api/v1/scim/Users/{oid}", "r-odm-delete", None),
        ("GET /scim/v2/Me", "r-read", None),
    ];
    let mut ids: Vec<(&str, String)> = Vec::new();
    let mut bulked = String::new();
    for (what, rid, body) in steps {
        let fill = |t: &str| ids.iter().fold(t.to_owned(), |t, (k, v)| t.replace(k, v));
        let body = body.map(|b| serde_json::from_str(&fill(b)).unwrap());
        let r = send(&app, &fill(what), rid, body).await;
        let key = match rid {
            "r-user-create" => "{uid}",
            "r-group-create" => "{gid}",
            "r-odm-create" => "{oid}",
            _ => "",
        };
        if !key.is_empty() {
            ids.push((key, r.body["id"].as_str().unwrap().to_owned()));
        }
        if rid == "r-bulk" {
            let loc = r.body["Operations"][0]["location"].as_str().unwrap();
            bulked = loc.rsplit('/').next().unwrap().to_owned();
        }
    }
    let id = |k: &str| ids.iter().find(|(key, _)| *key == k).unwrap().1.clone();
    let (uid, gid, oid) = (id("{uid}"), id("{gid}"), id("{oid}"));
    // A read changes nothing, so it leaves no audit row.
    assert_eq!(audited(&app, "r-read").await, []);

    let row = |action: &str, target: &str| (admin.clone(), action.to_owned(), target.to_owned());
    for (rid, action, target) in [
        ("r-user-create", "user.create", &uid),
        ("r-user-patch", "user.update", &uid),
        ("r-user-put", "user.update", &uid),
        ("r-group-create", "group.create", &gid),
        ("r-group-patch", "group.update", &gid),
        ("r-group-put", "group.update", &gid),
        ("r-group-delete", "group.delete", &gid),
        ("r-me", "user.update", &admin),
        ("r-odm-create", "user.create", &oid),
        ("r-odm-delete", "user.update", &oid),
    ] {
        assert_eq!(audited(&app, rid).await, [row(action, target)], "{rid}");
    }
    // Bulk operations carry the request id of the /Bulk request.
    assert_eq!(
        audited(&app, "r-bulk").await,
        [row("user.create", &bulked), row("user.delete", &uid)]
    );

    // The operator's changes name the operator.
    let op = operator();
    let name = roster_core::UserName::parse("bulked").unwrap();
    let ctx = roster_store::WriteCtx {
        gate: None,
        request_id: Some("r-operator".into()),
    };
    let t = roster_core::secret::generate_token();
    app.store
        .create_token(&op.token_admin(), &ctx, &name, None, &t, None)
        .await
        .unwrap();
    app.store
        .revoke_tokens(&op.token_admin(), &ctx, &name, None)
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
    // A user update that sets permissions (the console's, CVAT's groups) writes a grant or
    // revoke row for each one that changed, beside its user.update; unchanged ones none.
    let ctx = roster_store::WriteCtx {
        gate: None,
        request_id: Some("r-set-permissions".into()),
    };
    let bulked_id = uuid::Uuid::parse_str(&bulked).unwrap();
    let set = |wanted: Vec<(roster_core::Permission, bool)>| {
        move |u: &mut roster_core::User| {
            u.set_permissions = Some(wanted.clone());
            Ok(())
        }
    };
    use roster_core::Permission::{ManageGroups, ManageOrganization};
    let edit = set(vec![(ManageGroups, true), (ManageOrganization, false)]);
    app.store
        .update_user(&op.user_admin().editor(), &ctx, bulked_id, None, &edit)
        .await
        .unwrap();
    let edit = set(vec![(ManageGroups, false), (ManageOrganization, false)]);
    app.store
        .update_user(&op.user_admin().editor(), &ctx, bulked_id, None, &edit)
        .await
        .unwrap();
    let target = |p: &str| format!("{bulked} {p}");
    assert_eq!(
        audited(&app, "r-set-permissions").await,
        [
            (
                "test".to_owned(),
                "permission.grant".to_owned(),
                target("manage-groups")
            ),
            ("test".to_owned(), "user.update".to_owned(), bulked.clone()),
            (
                "test".to_owned(),
                "permission.revoke".to_owned(),
                target("manage-groups")
            ),
            ("test".to_owned(), "user.update".to_owned(), bulked.clone()),
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
