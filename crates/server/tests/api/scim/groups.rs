//! `/scim/v2/Groups`: members on create, PATCH answers, large member batches.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn groups_take_members_and_patch_answers_200() {
    let app = TestApp::spawn().await;
    let a = app.create_user("a").await;
    let b = app.create_user("b").await;
    let r = app
        .scim_admin(
            Method::POST,
            "/Groups",
            json!({"displayName": "Eng", "members": [{"value": a}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        r.body["members"].as_array().unwrap().len(),
        1,
        "the caller is not added at /scim/v2"
    );
    let path = format!("/Groups/{}", r.body["id"].as_str().unwrap());
    let r = app
        .scim_patch(
            &path,
            ADMIN_TOKEN,
            json!([
                {"op": "Add", "path": "members", "value": [{"value": a}, {"value": b}]},
                {"op": "remove", "path": "members", "value": [{"value": a}]},
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["members"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["members"][0]["value"], json!(b));
    let f = app
        .scim(
            Method::GET,
            &format!("/Groups?filter=members.value%20eq%20%22{b}%22&excludedAttributes=members"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(f.body["totalResults"], 1, "{}", f.text);
    assert!(f.body["Resources"][0].get("members").is_none());
    // Deleting a user removes their memberships.
    app.scim(Method::DELETE, &format!("/Users/{b}"), ADMIN_TOKEN, None)
        .await;
    let g = app.scim(Method::GET, &path, ADMIN_TOKEN, None).await;
    assert_eq!(g.body["members"], json!([]));
}

#[tokio::test]
async fn ten_thousand_members_in_one_patch() {
    let app = TestApp::spawn().await;
    // Seed users straight through the store: this test is about the PATCH, not 10k POSTs.
    let mut ids = Vec::new();
    for i in 0..10_000 {
        let u =
            roster_core::NewUser::new(roster_core::UserName::parse(&format!("bulk{i}")).unwrap());
        ids.push(
            app.store
                .create_user(&operator().user_admin(), &Default::default(), &u)
                .await
                .unwrap()
                .id
                .to_string(),
        );
    }
    let g = app
        .scim_admin(Method::POST, "/Groups", json!({"displayName": "everyone"}))
        .await;
    let path = format!("/Groups/{}", g.body["id"].as_str().unwrap());
    let members: Vec<_> = ids.iter().map(|id| json!({"value": id})).collect();
    let t = std::time::Instant::now();
    let r = app
        .scim_patch(
            &format!("{path}?excludedAttributes=members"),
            ADMIN_TOKEN,
            json!([{"op": "add", "path": "members", "value": members}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    eprintln!("10,000-member PATCH took {:?}", t.elapsed());
    assert!(r.body.get("members").is_none());
    let full = app.scim(Method::GET, &path, ADMIN_TOKEN, None).await;
    assert_eq!(full.body["members"].as_array().unwrap().len(), 10_000);
    // Adding members that are already there is not an error and changes nothing.
    let again = app
        .scim_patch(
            &format!("{path}?attributes=displayName"),
            ADMIN_TOKEN,
            json!([{"op": "add", "path": "members", "value": [{"value": ids[0]}]}]),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    let list = app
        .scim(
            Method::GET,
            "/Groups?excludedAttributes=members",
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert!(list.body["Resources"][0].get("members").is_none());
    assert_eq!(list.body["Resources"][0]["displayName"], "everyone");
}
