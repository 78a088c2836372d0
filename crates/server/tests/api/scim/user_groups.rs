//! A user's `groups` (RFC 7643 §4.1.2): read-only, `{value, $ref, display, type: "direct"}`
//! for every group the user is a member of, on every read of a user, shaped by
//! `attributes` / `excludedAttributes`, filterable, and limited to the groups the caller
//! may see.

use reqwest::{Method, StatusCode};
use roster_core::Permission;
use serde_json::{json, Value};

use crate::helpers::*;

/// The `value`s of a rendered user's groups, sorted.
fn group_ids(user: &Value) -> Vec<String> {
    let mut ids: Vec<String> = user["groups"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|g| g["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

async fn add_member(app: &TestApp, group: &str, user: &str) {
    let r = app
        .scim_patch(
            &format!("/Groups/{group}"),
            ADMIN_TOKEN,
            json!([{"op": "add", "path": "members", "value": [{"value": user}]}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn a_members_groups_are_on_every_read_of_the_user() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice").await;
    let bob = app.create_user("bob").await;
    let eng = app.create_group("Engineering").await;
    let ops = app.create_group("Operations").await;
    add_member(&app, &eng, &alice).await;
    add_member(&app, &ops, &alice).await;
    add_member(&app, &ops, &bob).await;
    let mut both = vec![eng.clone(), ops.clone()];
    both.sort();

    // GET: the whole shape of one entry.
    let r = app
        .scim(Method::GET, &format!("/Users/{alice}"), ADMIN_TOKEN, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(group_ids(&r.body), both);
    let entry = r.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["value"] == json!(eng))
        .unwrap()
        .clone();
    assert_eq!(
        entry,
        json!({"value": eng, "$ref": format!("{}/scim/v2/Groups/{eng}", app.base),
               "display": "Engineering", "type": "direct"})
    );

    // A list, a POST .search and the root .search show the same.
    let r = app
        .scim(Method::GET, "/Users?count=10", ADMIN_TOKEN, None)
        .await;
    let listed: Vec<&Value> = r.body["Resources"].as_array().unwrap().iter().collect();
    let of = |id: &str| {
        listed
            .iter()
            .find(|u| u["id"] == json!(id))
            .map(|u| group_ids(u))
            .unwrap()
    };
    assert_eq!(of(&alice), both);
    assert_eq!(of(&bob), vec![ops.clone()]);
    let admin = listed.iter().find(|u| u["userName"] == "admin").unwrap();
    assert!(admin.get("groups").is_none(), "no groups, no attribute");
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                        "filter": "userName eq \"bob\""});
    for path in ["/Users/.search", "/.search"] {
        let r = app.scim_admin(Method::POST, path, search.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        assert_eq!(
            group_ids(&r.body["Resources"][0]),
            vec![ops.clone()],
            "{path}"
        );
    }

    // Projections: asked for, left out, a sub-attribute only.
    let r = app
        .scim(
            Method::GET,
            &format!("/Users/{alice}?attributes=groups"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(group_ids(&r.body), both);
    assert!(r.body.get("userName").is_none());
    let r = app
        .scim(
            Method::GET,
            &format!("/Users/{alice}?excludedAttributes=groups"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert!(r.body.get("groups").is_none(), "{}", r.text);
    assert_eq!(r.body["userName"], "alice");
    let r = app
        .scim(
            Method::GET,
            "/Users?attributes=groups.display&filter=userName%20eq%20%22bob%22",
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(
        r.body["Resources"][0]["groups"],
        json!([{"display": "Operations"}])
    );

    // /Me, for a member without any permission.
    let token = app.token_for("bob").await;
    let r = app.scim(Method::GET, "/Me", &token, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(group_ids(&r.body), vec![ops.clone()]);

    // The answer of a write shows them too; a client cannot write them.
    let r = app
        .scim_patch(
            &format!("/Users/{bob}"),
            ADMIN_TOKEN,
            json!([{"op": "replace", "path": "displayName", "value": "Bob"}]),
        )
        .await;
    assert_eq!(group_ids(&r.body), vec![ops.clone()], "{}", r.text);
    let r = app
        .scim_patch(
            &format!("/Users/{bob}"),
            ADMIN_TOKEN,
            json!([{"op": "add", "path": "groups", "value": [{"value": eng}]}]),
        )
        .await;
    assert_scim_error(&r, 400, Some("mutability"));
    let mut put = user_body("bob");
    put["groups"] = json!([{"value": eng}]);
    let r = app
        .scim_admin(Method::PUT, &format!("/Users/{bob}"), put)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(group_ids(&r.body), vec![ops.clone()], "PUT ignores groups");

    // Leaving the group takes it off the user.
    let r = app
        .scim_patch(
            &format!("/Groups/{ops}"),
            ADMIN_TOKEN,
            json!([{"op": "remove", "path": format!("members[value eq \"{bob}\"]")}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .scim(Method::GET, &format!("/Users/{bob}"), ADMIN_TOKEN, None)
        .await;
    assert!(r.body.get("groups").is_none(), "{}", r.text);
}

#[tokio::test]
async fn users_filter_by_their_groups() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice").await;
    let bob = app.create_user("bob").await;
    app.create_user("carol").await;
    let eng = app.create_group("Engineering").await;
    let ops = app.create_group("Operations").await;
    add_member(&app, &eng, &alice).await;
    add_member(&app, &ops, &bob).await;
    add_member(&app, &ops, &alice).await;
    for (filter, want) in [
        (format!("groups.value eq \"{eng}\""), vec!["alice"]),
        // Ids compare in any case, as everywhere else.
        (
            format!("groups.value eq \"{}\"", ops.to_uppercase()),
            vec!["alice", "bob"],
        ),
        (format!("groups eq \"{ops}\""), vec!["alice", "bob"]),
        (
            format!("groups[value eq \"{eng}\" and type eq \"direct\"]"),
            vec!["alice"],
        ),
        ("groups.display sw \"oper\"".into(), vec!["alice", "bob"]),
        ("groups pr".into(), vec!["alice", "bob"]),
        ("not (groups pr)".into(), vec!["admin", "carol"]),
        (
            format!("groups.value eq \"{ops}\" and not (groups.value eq \"{eng}\")"),
            vec!["bob"],
        ),
    ] {
        let r = app.find_users(&filter, ADMIN_TOKEN).await;
        assert_eq!(r.status, StatusCode::OK, "{filter}: {}", r.text);
        assert_eq!(sorted_user_names(&r), want, "{filter}");
    }
    let r = app
        .find_users("groups.role eq \"admin\"", ADMIN_TOKEN)
        .await;
    assert_scim_error(&r, 400, Some("invalidFilter"));
    let r = app
        .scim(Method::GET, "/Users?sortBy=groups", ADMIN_TOKEN, None)
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
}

#[tokio::test]
async fn a_user_shows_only_the_groups_the_caller_may_see() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice").await;
    // An administrator of users who does not manage groups, in one group of two.
    app.create_user("hr").await;
    app.grant("hr", Permission::ManageOrganization).await;
    let hr = app.token_for("hr").await;
    let hr_id = app.scim(Method::GET, "/Me", &hr, None).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let shared = app.create_group("Shared").await;
    let hidden = app.create_group("Board").await;
    add_member(&app, &shared, &alice).await;
    add_member(&app, &shared, &hr_id).await;
    add_member(&app, &hidden, &alice).await;

    let r = app
        .scim(Method::GET, &format!("/Users/{alice}"), &hr, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(group_ids(&r.body), vec![shared.clone()]);
    let r = app.scim(Method::GET, "/Users", &hr, None).await;
    let listed = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == json!(alice))
        .cloned()
        .unwrap();
    assert_eq!(group_ids(&listed), vec![shared.clone()]);
    // Nor does a filter find the members of a group the caller cannot see.
    // (filter, what hr finds, what the administrator of groups finds)
    for (filter, want, all) in [
        (format!("groups.value eq \"{hidden}\""), 0, 1),
        (format!("groups.value eq \"{shared}\""), 2, 2),
        ("groups.display eq \"board\"".to_owned(), 0, 1),
    ] {
        let r = app.find_users(&filter, &hr).await;
        assert_eq!(r.body["totalResults"], want, "{filter}: {}", r.text);
        let r = app.find_users(&filter, ADMIN_TOKEN).await;
        assert_eq!(r.body["totalResults"], all, "{filter}: {}", r.text);
    }
    // The administrator of groups sees both.
    let r = app
        .scim(Method::GET, &format!("/Users/{alice}"), ADMIN_TOKEN, None)
        .await;
    let mut both = vec![shared, hidden];
    both.sort();
    assert_eq!(group_ids(&r.body), both);
}
