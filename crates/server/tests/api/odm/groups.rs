use reqwest::{Method, StatusCode};
use roster_core::Permission;
use serde_json::json;

use crate::helpers::*;

struct World {
    app: TestApp,
    alice: String,
    alice_token: String,
    bob: String,
    bob_token: String,
}

/// alice and bob are plain users (no permissions).
async fn world() -> World {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice").await;
    let bob = app.create_user("bob").await;
    let alice_token = app.token_for("alice").await;
    let bob_token = app.token_for("bob").await;
    World {
        app,
        alice,
        alice_token,
        bob,
        bob_token,
    }
}

async fn create_group(app: &TestApp, token: &str, name: &str) -> String {
    let r = app
        .odm(Method::POST, "/Groups", token, Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": []})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn create_makes_the_caller_group_admin_and_names_are_not_unique() {
    let w = world().await;
    let r = w
        .app
        .odm(
            Method::POST,
            "/Groups",
            &w.alice_token,
            Some(json!({"displayName": "Curators", "externalId": "gx", "unknownAttr": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let g = &r.body;
    assert_eq!(
        g["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:Group"])
    );
    assert_eq!(g["displayName"], "Curators");
    assert_eq!(g["externalId"], "gx");
    assert_eq!(g["meta"]["resourceType"], "Group");
    let m = &g["members"][0];
    assert_eq!(m["value"], json!(w.alice));
    assert_eq!(m["role"], "admin");
    assert_eq!(m["display"], "alice display");
    assert_eq!(
        m["$ref"],
        format!("{}/api/v1/scim/Users/{}", w.app.base, w.alice)
    );
    let second = create_group(&w.app, &w.alice_token, "Curators").await;
    assert_ne!(second, g["id"].as_str().unwrap());
    let with_members = w
        .app
        .odm(
            Method::POST,
            "/Groups",
            &w.alice_token,
            Some(json!({"displayName": "X", "members": [{"value": w.bob}]})),
        )
        .await;
    assert_scim_error(&with_members, 400, Some("invalidValue"));
    let no_name = w
        .app
        .odm(
            Method::POST,
            "/Groups",
            &w.alice_token,
            Some(json!({"members": []})),
        )
        .await;
    assert_scim_error(&no_name, 400, Some("invalidValue"));
}

#[tokio::test]
async fn visibility_follows_membership_unless_manage_groups() {
    let w = world().await;
    let g = create_group(&w.app, &w.alice_token, "Team").await;
    let path = format!("/Groups/{g}");
    assert_eq!(
        w.app
            .odm(Method::GET, &path, &w.alice_token, None)
            .await
            .status,
        StatusCode::OK
    );
    assert_scim_error(
        &w.app.odm(Method::GET, &path, &w.bob_token, None).await,
        404,
        None,
    );
    assert_eq!(
        w.app
            .odm(Method::GET, "/Groups", &w.bob_token, None)
            .await
            .body["totalResults"],
        0
    );
    assert_eq!(
        w.app
            .odm(Method::GET, "/Groups", &w.alice_token, None)
            .await
            .body["totalResults"],
        1
    );
    // The admin holds manage-groups and sees everything.
    assert_eq!(
        w.app
            .odm(Method::GET, &path, ADMIN_TOKEN, None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        w.app
            .odm(Method::GET, "/Groups", ADMIN_TOKEN, None)
            .await
            .body["totalResults"],
        1
    );
    w.app.grant("bob", Permission::ManageGroups).await;
    assert_eq!(
        w.app
            .odm(Method::GET, &path, &w.bob_token, None)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn find_filters_by_display_name_and_excludes_members() {
    let w = world().await;
    create_group(&w.app, &w.alice_token, "Curators").await;
    create_group(&w.app, &w.alice_token, "Readers").await;
    let r = w
        .app
        .odm(
            Method::GET,
            "/Groups?filter=displayname%20EQ%20%22curators%22&excludedAttributes=members",
            &w.alice_token,
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    assert_eq!(r.body["Resources"][0]["displayName"], "Curators");
    assert!(r.body["Resources"][0].get("members").is_none());
    let r = w
        .app
        .odm(
            Method::GET,
            "/Groups?startIndex=2&count=1",
            &w.alice_token,
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 2);
    assert_eq!(r.body["Resources"][0]["displayName"], "Readers");
    assert_eq!(
        r.body["Resources"][0]["members"][0]["value"],
        json!(w.alice)
    );
    for bad in [
        "externalId%20eq%20%22x%22",
        "displayName%20co%20%22x%22",
        "displayName%20eq%20%22a%22%20and%20displayName%20eq%20%22b%22",
    ] {
        assert_scim_error(
            &w.app
                .odm(
                    Method::GET,
                    &format!("/Groups?filter={bad}"),
                    &w.alice_token,
                    None,
                )
                .await,
            400,
            Some("invalidFilter"),
        );
    }
    let g = w
        .app
        .odm(Method::GET, "/Groups", &w.alice_token, None)
        .await
        .body["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = w
        .app
        .odm(
            Method::GET,
            &format!("/Groups/{g}?excludedAttributes=members"),
            &w.alice_token,
            None,
        )
        .await;
    assert!(r.body.get("members").is_none());
    assert_eq!(r.body["displayName"], "Curators");
}

#[tokio::test]
async fn patch_members_roles_and_attributes() {
    let w = world().await;
    let g = create_group(&w.app, &w.alice_token, "Team").await;
    let path = format!("/Groups/{g}");
    let r = w
        .app
        .odm_patch(
            &path,
            &w.alice_token,
            json!([
                {"op": "add", "path": "members", "value": {"value": w.bob}},
                {"op": "replace", "value": {"displayName": "Team 2", "externalId": "t2"}},
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert!(r.text.is_empty());
    let got = w.app.odm(Method::GET, &path, &w.bob_token, None).await;
    assert_eq!(got.body["displayName"], "Team 2");
    assert_eq!(got.body["externalId"], "t2");
    let members = got.body["members"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    let bob = members.iter().find(|m| m["value"] == json!(w.bob)).unwrap();
    assert_eq!(bob["role"], "member");
    // A plain member may not modify or delete.
    let r = w
        .app
        .odm_patch(
            &path,
            &w.bob_token,
            json!([{"op": "replace", "value": {"displayName": "Mine"}}]),
        )
        .await;
    assert_scim_error(&r, 403, None);
    assert_scim_error(
        &w.app.odm(Method::DELETE, &path, &w.bob_token, None).await,
        403,
        None,
    );
    // The admin promotes bob; now bob may edit.
    let r = w
        .app
        .odm_patch(
            &path,
            &w.alice_token,
            json!([{"op": "add", "path": "members", "value": {"value": w.bob, "role": "admin"}}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = w
        .app
        .odm_patch(
            &path,
            &w.bob_token,
            json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", w.alice)}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let got = w.app.odm(Method::GET, &path, &w.bob_token, None).await;
    assert_eq!(
        got.body["members"],
        json!([{"value": w.bob, "$ref": format!("{}/api/v1/scim/Users/{}", w.app.base, w.bob), "display": "bob display", "type": "User", "role": "admin"}])
    );
    assert_scim_error(
        &w.app.odm(Method::GET, &path, &w.alice_token, None).await,
        404,
        None,
    );
}

#[tokio::test]
async fn failed_group_patch_changes_nothing() {
    let w = world().await;
    let g = create_group(&w.app, &w.alice_token, "Team").await;
    let path = format!("/Groups/{g}");
    let before = w.app.snapshot().await;
    for (ops, status, t) in [
        (
            json!([{"op": "replace", "value": {"displayName": "X"}}, {"op": "add", "path": "members", "value": {"value": uuid::Uuid::new_v4().to_string()}}]),
            400,
            "invalidValue",
        ),
        (
            json!([{"op": "add", "path": "members", "value": {"value": w.bob}}, {"op": "replace", "path": "id", "value": {"id": "x"}}]),
            400,
            "mutability",
        ),
        (
            json!([{"op": "add", "path": "members", "value": {"value": "not-a-uuid"}}]),
            400,
            "invalidValue",
        ),
        (
            json!([{"op": "remove", "path": "displayName"}]),
            400,
            "invalidValue",
        ),
        (
            json!([{"op": "add", "path": "members", "value": {"value": w.bob, "role": "owner"}}]),
            400,
            "invalidValue",
        ),
    ] {
        let r = w
            .app
            .odm(Method::PATCH, &path, &w.alice_token, Some(patch(ops)))
            .await;
        assert_scim_error(&r, status, Some(t));
    }
    assert_eq!(w.app.snapshot().await, before);
}

#[tokio::test]
async fn delete_matrix() {
    let w = world().await;
    let g = create_group(&w.app, &w.alice_token, "Team").await;
    let path = format!("/Groups/{g}");
    w.app
        .odm_patch(
            &path,
            &w.alice_token,
            json!([{"op": "add", "path": "members", "value": {"value": w.bob}}]),
        )
        .await;
    let carol = w.app.create_user("carol").await;
    let carol_token = w.app.token_for("carol").await;
    assert_scim_error(
        &w.app.odm(Method::DELETE, &path, &carol_token, None).await,
        403,
        None,
    );
    assert_scim_error(
        &w.app
            .odm_patch(
                &path,
                &carol_token,
                json!([{"op": "replace", "value": {"displayName": "x"}}]),
            )
            .await,
        403,
        None,
    );
    assert_scim_error(
        &w.app.odm(Method::DELETE, &path, &w.bob_token, None).await,
        403,
        None,
    );
    let r = w.app.odm(Method::DELETE, &path, &w.alice_token, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_scim_error(
        &w.app.odm(Method::GET, &path, ADMIN_TOKEN, None).await,
        404,
        None,
    );
    assert_scim_error(
        &w.app.odm(Method::DELETE, &path, ADMIN_TOKEN, None).await,
        404,
        None,
    );
    // Members are not deactivated.
    for id in [&w.alice, &w.bob, &carol] {
        assert_eq!(
            w.app
                .odm(Method::GET, &format!("/Users/{id}"), ADMIN_TOKEN, None)
                .await
                .body["active"],
            true
        );
    }
    // manage-groups deletes any group.
    let g2 = create_group(&w.app, &w.alice_token, "Other").await;
    w.app.grant("carol", Permission::ManageGroups).await;
    assert_eq!(
        w.app
            .odm(Method::DELETE, &format!("/Groups/{g2}"), &carol_token, None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn a_hidden_group_reads_exactly_like_a_missing_one() {
    let w = world().await;
    let g = create_group(&w.app, &w.alice_token, "Secret").await;
    let hidden = w
        .app
        .odm(Method::GET, &format!("/Groups/{g}"), &w.bob_token, None)
        .await;
    let missing_id = "00000000-0000-4000-8000-000000000000";
    let missing = w
        .app
        .odm(
            Method::GET,
            &format!("/Groups/{missing_id}"),
            &w.bob_token,
            None,
        )
        .await;
    assert_scim_error(&hidden, 404, None);
    assert_scim_error(&missing, 404, None);
    assert_eq!(
        hidden.body["detail"].as_str().unwrap().replace(&g, "ID"),
        missing.body["detail"]
            .as_str()
            .unwrap()
            .replace(missing_id, "ID"),
    );
    assert!(hidden.body["detail"]
        .as_str()
        .unwrap()
        .starts_with("There are no groups with the id"));
}
