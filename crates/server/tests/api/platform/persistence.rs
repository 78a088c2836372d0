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

#[tokio::test]
async fn every_change_leaves_an_audit_row_with_actor_and_request_id() {
    use sqlx::{ConnectOptions, Row};
    let app = TestApp::spawn().await;
    let r = app
        .raw(
            Method::POST,
            "/scim/v2/Users",
            &[
                ("Authorization", &format!("Bearer {ADMIN_TOKEN}")),
                ("Content-Type", "application/scim+json"),
                ("x-request-id", "req-audit-1"),
            ],
            Some(json!({"userName": "audited"}).to_string().into_bytes()),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.headers["x-request-id"], "req-audit-1");
    let id = r.body["id"].as_str().unwrap().to_owned();
    let q =
        "SELECT actor, action, target, request_id FROM audit_log WHERE request_id = 'req-audit-1'";
    let rows = if app.db_url.starts_with("postgres") {
        let mut c = app
            .db_url
            .parse::<sqlx::postgres::PgConnectOptions>()
            .unwrap()
            .connect()
            .await
            .unwrap();
        sqlx::query(q)
            .fetch_all(&mut c)
            .await
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.get::<String, _>(0),
                    r.get::<String, _>(1),
                    r.get::<String, _>(2),
                )
            })
            .collect::<Vec<_>>()
    } else {
        let mut c = app
            .db_url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .unwrap()
            .connect()
            .await
            .unwrap();
        sqlx::query(q)
            .fetch_all(&mut c)
            .await
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.get::<String, _>(0),
                    r.get::<String, _>(1),
                    r.get::<String, _>(2),
                )
            })
            .collect::<Vec<_>>()
    };
    let admin = app
        .store
        .find_user_by_name(
            &operator().user_admin().reader(),
            &roster_core::UserName::parse("admin").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        rows,
        vec![(admin.id.to_string(), "user.create".to_owned(), id)]
    );
}
