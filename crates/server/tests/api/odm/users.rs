use reqwest::{Method, StatusCode};
use roster_core::Permission;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn create_returns_201_with_the_odm_user_shape() {
    let app = TestApp::spawn().await;
    let r = app
        .odm_admin(Method::POST, "/Users", user_body("bjensen"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.headers["content-type"], "application/scim+json");
    let u = &r.body;
    let id = u["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
    assert_eq!(u["schemas"], json!([USER_URN]));
    assert_eq!(u["userName"], "bjensen");
    assert_eq!(u["displayName"], "bjensen display");
    assert_eq!(u["active"], true);
    assert_eq!(
        u["emails"],
        json!([{"type": "work", "value": "bjensen@example.com", "primary": true}])
    );
    assert_eq!(u["meta"]["resourceType"], "User");
    assert_eq!(u["meta"]["version"], "W/\"1\"");
    assert_eq!(
        u["meta"]["location"],
        format!("{}/api/v1/scim/Users/{id}", app.base)
    );
    assert!(u["meta"]["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        r.headers["location"],
        format!("{}/api/v1/scim/Users/{id}", app.base)
    );
}

#[tokio::test]
async fn create_with_an_existing_login_updates_that_user() {
    let app = TestApp::spawn().await;
    let id = app.create_user("bjensen").await;
    let del = app
        .odm(Method::DELETE, &format!("/Users/{id}"), ADMIN_TOKEN, None)
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let mut body = user_body("BJensen");
    body["displayName"] = json!("Babs");
    let r = app.odm_admin(Method::POST, "/Users", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["id"], json!(id), "upsert keeps the id");
    assert_eq!(r.body["displayName"], "Babs");
    assert_eq!(r.body["userName"], "BJensen");
    assert_eq!(
        r.body["active"], true,
        "active: true in the body reactivates"
    );
    let got = app
        .odm(Method::GET, &format!("/Users/{id}"), ADMIN_TOKEN, None)
        .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["displayName"], "Babs");
}

#[tokio::test]
async fn create_rejects_password_permissions_and_second_email() {
    let app = TestApp::spawn().await;
    let before = app.snapshot().await;
    let mut b = user_body("x1");
    b["password"] = json!("secret");
    assert_scim_error(
        &app.odm_admin(Method::POST, "/Users", b).await,
        400,
        Some("invalidValue"),
    );
    let mut b = user_body("x2");
    b["emails"] =
        json!([{"type": "work", "value": "a@x.com"}, {"type": "work", "value": "b@x.com"}]);
    let r = app.odm_admin(Method::POST, "/Users", b).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(r.body["detail"].as_str().unwrap().contains("one email"));
    let mut b = user_body("x3");
    b["permissions"] = json!(["manage-organization"]);
    assert_scim_error(
        &app.odm_admin(Method::POST, "/Users", b).await,
        400,
        Some("invalidValue"),
    );
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn user_routes_need_manage_organization() {
    let app = TestApp::spawn().await;
    let id = app.create_user("plain").await;
    let t = app.token_for("plain").await;
    for (m, p, b) in [
        (Method::POST, "/Users".to_owned(), Some(user_body("other"))),
        (Method::GET, "/Users".to_owned(), None),
        (Method::GET, format!("/Users/{id}"), None),
        (
            Method::PATCH,
            format!("/Users/{id}"),
            Some(patch(
                json!([{"op": "replace", "value": {"displayName": "x"}}]),
            )),
        ),
        (Method::DELETE, format!("/Users/{id}"), None),
    ] {
        let r = app.odm(m.clone(), &p, &t, b).await;
        assert_scim_error(&r, 403, None);
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap()
                .contains("Manage organization"),
            "{m} {p}"
        );
    }
    app.grant("plain", Permission::ManageOrganization).await;
    assert_eq!(
        app.odm(Method::GET, "/Users", &t, None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn find_filters_pages_and_hides_inactive_users() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(app.create_user(&format!("user{i}")).await);
    }
    app.odm(
        Method::DELETE,
        &format!("/Users/{}", ids[4]),
        ADMIN_TOKEN,
        None,
    )
    .await;
    // admin + 4 active
    let all = app.odm(Method::GET, "/Users", ADMIN_TOKEN, None).await;
    assert_eq!(all.body["totalResults"], 5);
    assert_eq!(all.body["Resources"].as_array().unwrap().len(), 5);
    assert_eq!(
        all.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
    let page = app
        .odm(
            Method::GET,
            "/Users?startIndex=2&count=2",
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(page.body["totalResults"], 5);
    assert_eq!(page.body["startIndex"], 2);
    assert_eq!(page.body["itemsPerPage"], 2);
    assert_eq!(page.body["Resources"][0]["userName"], "user0");
    let by_name = app
        .odm(
            Method::GET,
            "/Users?filter=USERNAME%20Eq%20%22User2%22",
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(by_name.body["totalResults"], 1);
    assert_eq!(by_name.body["Resources"][0]["id"], json!(ids[2]));
    let by_email = app
        .odm(Method::GET, "/Users?filter=emails%5Btype%20eq%20%22work%22%20and%20value%20eq%20%22user3%40example.com%22%5D%20and%20userName%20eq%20%22user3%22", ADMIN_TOKEN, None)
        .await;
    assert_eq!(by_email.body["totalResults"], 1, "{}", by_email.text);
    assert_eq!(by_email.body["Resources"][0]["id"], json!(ids[3]));
    let inactive = app
        .odm(
            Method::GET,
            "/Users?filter=userName%20eq%20%22user4%22",
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(inactive.body["totalResults"], 0);
    assert_eq!(inactive.body["Resources"], json!([]));
    // The parameter name is case-sensitive: FILTER is ignored.
    let ignored = app
        .odm(
            Method::GET,
            "/Users?FILTER=userName%20eq%20%22user1%22",
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(ignored.body["totalResults"], 5);
    for bad in [
        "userName%20co%20%22u%22",
        "userName%20eq%20%22a%22%20or%20userName%20eq%20%22b%22",
        "userName%20pr",
    ] {
        let r = app
            .odm(
                Method::GET,
                &format!("/Users?filter={bad}"),
                ADMIN_TOKEN,
                None,
            )
            .await;
        assert_scim_error(&r, 400, Some("invalidFilter"));
    }
}

#[tokio::test]
async fn get_distinguishes_malformed_unknown_and_inactive() {
    let app = TestApp::spawn().await;
    let id = app.create_user("g1").await;
    assert_eq!(
        app.odm(Method::GET, &format!("/Users/{id}"), ADMIN_TOKEN, None)
            .await
            .body["userName"],
        "g1"
    );
    assert_scim_error(
        &app.odm(Method::GET, "/Users/not-a-uuid", ADMIN_TOKEN, None)
            .await,
        400,
        Some("invalidValue"),
    );
    assert_scim_error(
        &app.odm(
            Method::GET,
            &format!("/Users/{}", uuid::Uuid::new_v4()),
            ADMIN_TOKEN,
            None,
        )
        .await,
        404,
        None,
    );
    app.odm(Method::DELETE, &format!("/Users/{id}"), ADMIN_TOKEN, None)
        .await;
    assert_scim_error(
        &app.odm(Method::GET, &format!("/Users/{id}"), ADMIN_TOKEN, None)
            .await,
        404,
        None,
    );
    assert_scim_error(
        &app.odm(Method::DELETE, &format!("/Users/{id}"), ADMIN_TOKEN, None)
            .await,
        404,
        None,
    );
}

#[tokio::test]
async fn patch_edits_and_is_atomic() {
    let app = TestApp::spawn().await;
    let id = app.create_user("p1").await;
    let path = format!("/Users/{id}");
    let r = app
        .odm_patch(
            &path,
            ADMIN_TOKEN,
            json!([
                {"op": "replace", "value": {"displayName": "New", "externalId": "e-1"}},
                {"op": "replace", "path": "userName", "value": {"userName": "p1-renamed"}},
                {"op": "replace", "path": "name.familyName", "value": {"familyName": "ignored"}},
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["displayName"], "New");
    assert_eq!(r.body["externalId"], "e-1");
    assert_eq!(r.body["userName"], "p1-renamed");
    assert_eq!(r.body["meta"]["version"], "W/\"2\"");
    let r = app
        .odm_patch(
            &path,
            ADMIN_TOKEN,
            json!([{"op": "remove", "path": "externalId"}]),
        )
        .await;
    assert!(r.body.get("externalId").is_none(), "{}", r.text);
    // Only unknown attributes: 200, nothing changes.
    let r = app
        .odm_patch(
            &path,
            ADMIN_TOKEN,
            json!([{"op": "add", "path": "nickName", "value": {"nickName": "x"}}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    let before = app.snapshot().await;
    // A valid first operation, then a bad one: the whole PATCH fails.
    for (bad, scim_type) in [
        (
            json!({"op": "replace", "path": "id", "value": {"id": "x"}}),
            "mutability",
        ),
        (
            json!({"op": "replace", "value": {"active": "maybe"}}),
            "invalidValue",
        ),
    ] {
        let ops = json!([{"op": "replace", "value": {"displayName": "Half"}}, bad]);
        let r = app.odm_patch(&path, ADMIN_TOKEN, ops).await;
        assert_scim_error(&r, 400, Some(scim_type));
    }
    assert_eq!(
        app.snapshot().await,
        before,
        "a failed PATCH changes nothing"
    );

    app.create_user("taken").await;
    let r = app
        .odm_patch(
            &path,
            ADMIN_TOKEN,
            json!([{"op": "replace", "value": {"userName": "TAKEN"}}]),
        )
        .await;
    assert_scim_error(&r, 409, Some("uniqueness"));
    assert_eq!(app.snapshot().await.len(), before.len() + 1);
}

#[tokio::test]
async fn deleted_users_can_be_patched_and_lose_their_tokens() {
    let app = TestApp::spawn().await;
    let id = app.create_user("d1").await;
    app.grant("d1", Permission::ManageOrganization).await;
    let t = app.token_for("d1").await;
    assert_eq!(
        app.odm(Method::GET, "/Users", &t, None).await.status,
        StatusCode::OK
    );
    let r = app
        .odm(Method::DELETE, &format!("/Users/{id}"), ADMIN_TOKEN, None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.text.is_empty());
    let r = app.odm(Method::GET, "/Users", &t, None).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a deactivated user's token stops working"
    );
    let r = app
        .odm_patch(
            &format!("/Users/{id}"),
            ADMIN_TOKEN,
            json!([{"op": "replace", "value": {"displayName": "still here"}}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["active"], false);
    let r = app
        .odm_patch(
            &format!("/Users/{id}"),
            ADMIN_TOKEN,
            json!([{"op": "replace", "path": "active", "value": {"active": true}}]),
        )
        .await;
    assert_eq!(r.body["active"], true, "{}", r.text);
    assert_eq!(
        app.odm(Method::GET, "/Users", &t, None).await.status,
        StatusCode::UNAUTHORIZED,
        "reactivation never brings a revoked token back"
    );
    // Nor does ODM's upsert of the same login (a new hire with the old name).
    app.odm(Method::DELETE, &format!("/Users/{id}"), ADMIN_TOKEN, None)
        .await;
    let r = app.odm_admin(Method::POST, "/Users", user_body("d1")).await;
    assert_eq!(
        (r.status, r.body["active"].clone()),
        (StatusCode::CREATED, json!(true))
    );
    assert_eq!(
        app.odm(Method::GET, "/Users", &t, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    // The account works again with a token issued after the reactivation.
    let fresh = app.token_for("d1").await;
    assert_eq!(
        app.odm(Method::GET, "/Users", &fresh, None).await.status,
        StatusCode::OK
    );
}
