//! Lists and searches: sorting, projection, `.search`, conditional GET, deep pages.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn sorting_projection_search_and_conditional_get() {
    let app = TestApp::spawn().await;
    for (n, d) in [("carol", "Zed"), ("alice", "Yan"), ("bob", "Xu")] {
        app.scim_admin(
            Method::POST,
            "/Users",
            json!({"userName": n, "displayName": d, "name": {"familyName": d}}),
        )
        .await;
    }
    let names = |r: &Resp| -> Vec<String> {
        r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap().to_owned())
            .collect()
    };
    let r = app
        .scim(Method::GET, "/Users?sortBy=userName", ADMIN_TOKEN, None)
        .await;
    assert_eq!(names(&r), ["admin", "alice", "bob", "carol"]);
    let r = app
        .scim(
            Method::GET,
            "/Users?sortBy=name.familyName&sortOrder=descending",
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(
        names(&r),
        ["carol", "alice", "bob", "admin"],
        "users without a value sort last"
    );
    assert_scim_error(
        &app.scim(Method::GET, "/Users?sortBy=emails", ADMIN_TOKEN, None)
            .await,
        400,
        Some("invalidValue"),
    );
    assert_scim_error(
        &app.scim(
            Method::GET,
            "/Users?sortBy=userName&sortOrder=sideways",
            ADMIN_TOKEN,
            None,
        )
        .await,
        400,
        Some("invalidValue"),
    );

    let r = app
        .scim(
            Method::GET,
            "/Users?attributes=userName&filter=userName%20eq%20%22bob%22",
            ADMIN_TOKEN,
            None,
        )
        .await;
    let u = &r.body["Resources"][0];
    assert_eq!(
        u.as_object().unwrap().keys().cloned().collect::<Vec<_>>(),
        ["id", "schemas", "userName"]
    );
    let r = app
        .scim(
            Method::GET,
            "/Users?excludedAttributes=meta,name&count=1",
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert!(
        r.body["Resources"][0].get("meta").is_none() && r.body["Resources"][0].get("id").is_some()
    );

    let s = app
        .scim_admin(Method::POST, "/Users/.search", json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "displayName sw \"Y\" or displayName sw \"Z\"", "sortBy": "userName", "attributes": ["userName"], "startIndex": 1, "count": 10}))
        .await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.text);
    assert_eq!(names(&s), ["alice", "carol"]);
    let bad = app
        .scim_admin(
            Method::POST,
            "/Users/.search",
            json!({"filter": "userName pr"}),
        )
        .await;
    assert_scim_error(&bad, 400, Some("invalidSyntax"));
    app.scim_admin(Method::POST, "/Groups", json!({"displayName": "Yankees"}))
        .await;
    let all = app
        .scim_admin(Method::POST, "/.search", json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "displayName sw \"Y\""}))
        .await;
    assert_eq!(all.body["totalResults"], 2, "{}", all.text);

    let id = s.body["Resources"][0]["id"].as_str().unwrap().to_owned();
    let first = app
        .scim(Method::GET, &format!("/Users/{id}"), ADMIN_TOKEN, None)
        .await;
    let etag = first.headers["etag"].to_str().unwrap().to_owned();
    let again = app
        .raw(
            Method::GET,
            &format!("/scim/v2/Users/{id}"),
            &[
                ("Authorization", &format!("Bearer {ADMIN_TOKEN}")),
                ("If-None-Match", &etag),
            ],
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.text.is_empty());
    let changed = app
        .raw(
            Method::GET,
            &format!("/scim/v2/Users/{id}"),
            &[
                ("Authorization", &format!("Bearer {ADMIN_TOKEN}")),
                ("If-None-Match", "W/\"0\""),
            ],
            None,
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK);
}

#[tokio::test]
async fn deep_pages_are_the_same_rows_as_a_full_listing() {
    let app = TestApp::spawn().await;
    for i in 0..40 {
        let u =
            roster_core::NewUser::new(roster_core::UserName::parse(&format!("p{i:02}")).unwrap());
        let u = app
            .store
            .create_user(&operator().user_admin(), &Default::default(), &u)
            .await
            .unwrap();
        if i % 3 == 0 {
            app.scim(
                Method::PATCH,
                &format!("/Users/{}", u.id),
                ADMIN_TOKEN,
                Some(patch(
                    json!([{"op": "replace", "path": "active", "value": false}]),
                )),
            )
            .await;
        }
    }
    let names = |r: &Resp| -> Vec<String> {
        r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = names(
        &app.scim(Method::GET, "/Users?count=100", ADMIN_TOKEN, None)
            .await,
    );
    let mut paged = Vec::new();
    for start in (1..=41).step_by(7) {
        paged.extend(names(
            &app.scim(
                Method::GET,
                &format!("/Users?startIndex={start}&count=7"),
                ADMIN_TOKEN,
                None,
            )
            .await,
        ));
    }
    assert_eq!(paged, all);
    // With a filter (ODM lists active users only) the seek keeps the filter.
    let active: Vec<String> = names(
        &app.odm(Method::GET, "/Users?count=100", ADMIN_TOKEN, None)
            .await,
    );
    let page = names(
        &app.odm(
            Method::GET,
            "/Users?startIndex=11&count=5",
            ADMIN_TOKEN,
            None,
        )
        .await,
    );
    assert_eq!(page, active[10..15]);
    let f = names(
        &app.scim(
            Method::GET,
            "/Users?filter=userName%20sw%20%22p1%22&startIndex=3&count=3",
            ADMIN_TOKEN,
            None,
        )
        .await,
    );
    // `/scim/v2` lists the newest first.
    assert_eq!(f, ["p17", "p16", "p15"]);
}

#[tokio::test]
async fn lists_and_the_root_search_show_the_newest_first_unless_sorted() {
    let app = TestApp::spawn().await;
    // Created alternately: u-a, g-a, u-b, g-b, u-c, g-c (then admin is the oldest).
    for x in ["a", "b", "c"] {
        let r = app
            .scim_admin(
                Method::POST,
                "/Users",
                json!({"userName": format!("u-{x}"), "displayName": format!("N {x} user")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let r = app
            .scim_admin(
                Method::POST,
                "/Groups",
                json!({"displayName": format!("N {x} group")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let labels = |r: &Resp| -> Vec<String> {
        r.body["Resources"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", r.text))
            .iter()
            .map(|v| {
                v["userName"]
                    .as_str()
                    .or(v["displayName"].as_str())
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let users = app.scim(Method::GET, "/Users", ADMIN_TOKEN, None).await;
    assert_eq!(labels(&users), ["u-c", "u-b", "u-a", "admin"]);
    let groups = app.scim(Method::GET, "/Groups", ADMIN_TOKEN, None).await;
    assert_eq!(labels(&groups), ["N c group", "N b group", "N a group"]);

    let search = |extra: serde_json::Value| {
        let mut body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        app.scim_admin(Method::POST, "/.search", body)
    };
    // One list over both types, newest first; pages cut through it.
    let r = search(json!({})).await;
    assert_eq!(
        labels(&r),
        [
            "N c group",
            "u-c",
            "N b group",
            "u-b",
            "N a group",
            "u-a",
            "admin"
        ]
    );
    assert_eq!(r.body["totalResults"], 7);
    let r = search(json!({"startIndex": 2, "count": 3})).await;
    assert_eq!(labels(&r), ["u-c", "N b group", "u-b"]);
    assert_eq!(
        (
            r.body["totalResults"].clone(),
            r.body["itemsPerPage"].clone()
        ),
        (json!(7), json!(3))
    );
    let r = search(json!({"startIndex": 7, "count": 3})).await;
    assert_eq!(labels(&r), ["admin"]);
    let r = search(json!({"startIndex": 8})).await;
    assert!(labels(&r).is_empty());
    assert_eq!(r.body["totalResults"], 7);
    // A sort orders both types together.
    let r = search(json!({"sortBy": "displayName", "filter": "displayName sw \"N\""})).await;
    assert_eq!(
        labels(&r),
        ["N a group", "u-a", "N b group", "u-b", "N c group", "u-c"]
    );
    let r = search(json!({"sortBy": "displayName", "sortOrder": "descending",
                          "filter": "displayName sw \"N\"", "count": 2}))
    .await;
    assert_eq!(labels(&r), ["u-c", "N c group"]);
    // A sort only users have leaves the groups out.
    let r = search(json!({"sortBy": "userName"})).await;
    assert_eq!(labels(&r), ["admin", "u-a", "u-b", "u-c"]);
    assert_eq!(r.body["totalResults"], 4);
}
