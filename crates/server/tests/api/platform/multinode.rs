//! Two `roster serve` processes on one database: what one node writes, the other sees at
//! once, and concurrency control holds across them.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::process::{run, start, stop, Proc, BOOT_TOKEN};

struct Cluster {
    a: Proc,
    b: Proc,
    db: String,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
}

async fn cluster() -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::helpers::fresh_database_url(dir.path()).await;
    // Both nodes start together: migrations and bootstrap must tolerate the race.
    let (a, b) = tokio::join!(start(&db, true), start(&db, true));
    Cluster {
        a,
        b,
        db,
        _dir: dir,
        http: reqwest::Client::new(),
    }
}

impl Cluster {
    fn node(&self, i: usize) -> &str {
        if i.is_multiple_of(2) {
            &self.a.base
        } else {
            &self.b.base
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: String,
        token: &str,
        if_match: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value, Option<String>) {
        let mut req = self.http.request(method, url).bearer_auth(token);
        if let Some(m) = if_match {
            req = req.header("If-Match", m);
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/scim+json")
                .body(b.to_string());
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let etag = res
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = res.json::<Value>().await.unwrap_or(Value::Null);
        (status, body, etag)
    }

    /// A new user (created through node A) with manage-organization, and a token of theirs.
    async fn operator(&self, name: &str) -> String {
        let (s, _, _) = self
            .send(
                reqwest::Method::POST,
                format!("{}/scim/v2/Users", self.a.base),
                BOOT_TOKEN,
                None,
                Some(json!({"userName": name})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        assert!(run(&self.db, &["user", "grant", name, "manage-organization"]).0);
        let (ok, out, err) = run(&self.db, &["token", "issue", "--user", name]);
        assert!(ok, "{err}");
        out.trim().to_owned()
    }

    fn stop(self) {
        stop(self.a);
        stop(self.b);
    }
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

#[tokio::test]
async fn if_match_patches_through_both_nodes_never_lose_an_update() {
    let c = Arc::new(cluster().await);
    let (s, u, _) = c
        .send(
            reqwest::Method::POST,
            format!("{}/scim/v2/Users", c.a.base),
            BOOT_TOKEN,
            None,
            Some(json!({"userName": "contended"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let id = u["id"].as_str().unwrap().to_owned();
    let limit = Arc::new(Semaphore::new(32));
    let mut tasks = Vec::new();
    for i in 0..400 {
        let (c, id, limit) = (c.clone(), id.clone(), limit.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire().await.unwrap();
            let url = format!("{}/scim/v2/Users/{id}", c.node(i));
            let (_, _, etag) = c
                .send(reqwest::Method::GET, url.clone(), BOOT_TOKEN, None, None)
                .await;
            let body = patch(
                json!([{"op": "replace", "path": "displayName", "value": format!("writer {i}")}]),
            );
            c.send(
                reqwest::Method::PATCH,
                url,
                BOOT_TOKEN,
                etag.as_deref(),
                Some(body),
            )
            .await
            .0
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::OK => ok += 1,
            StatusCode::PRECONDITION_FAILED => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(ok >= 1);
    let (_, u, _) = c
        .send(
            reqwest::Method::GET,
            format!("{}/scim/v2/Users/{id}", c.b.base),
            BOOT_TOKEN,
            None,
            None,
        )
        .await;
    // Version 1 is the create; every successful PATCH adds exactly one.
    assert_eq!(
        u["meta"]["version"],
        json!(format!("W/\"{}\"", 1 + ok)),
        "{ok} successful writes"
    );
    Arc::into_inner(c).unwrap().stop();
}

#[tokio::test]
async fn user_name_uniqueness_holds_across_nodes() {
    let c = Arc::new(cluster().await);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let name = if i % 3 == 0 { "Twin" } else { "twin" };
            c.send(
                reqwest::Method::POST,
                format!("{}/scim/v2/Users", c.node(i)),
                BOOT_TOKEN,
                None,
                Some(json!({"userName": name})),
            )
            .await
            .0
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        49,
        "{statuses:?}"
    );
    let (_, l, _) = c
        .send(
            reqwest::Method::GET,
            format!(
                "{}/scim/v2/Users?filter=userName%20eq%20%22TWIN%22",
                c.b.base
            ),
            BOOT_TOKEN,
            None,
            None,
        )
        .await;
    assert_eq!(l["totalResults"], 1);
    Arc::into_inner(c).unwrap().stop();
}

#[tokio::test]
async fn deactivation_and_revocation_on_one_node_are_seen_by_the_other_at_once() {
    let c = cluster().await;
    let t1 = c.operator("ops1").await;
    let t2 = c.operator("ops2").await;
    let list_b = |t: String| {
        let c = &c;
        async move {
            c.send(
                reqwest::Method::GET,
                format!("{}/scim/v2/Users?count=1", c.b.base),
                &t,
                None,
                None,
            )
            .await
            .0
        }
    };
    assert_eq!(list_b(t1.clone()).await, StatusCode::OK);
    assert_eq!(list_b(t2.clone()).await, StatusCode::OK);
    // Deactivate ops1 through node A; node B refuses its token on the very next request.
    let (_, l, _) = c
        .send(
            reqwest::Method::GET,
            format!(
                "{}/scim/v2/Users?filter=userName%20eq%20%22ops1%22",
                c.a.base
            ),
            BOOT_TOKEN,
            None,
            None,
        )
        .await;
    let id = l["Resources"][0]["id"].as_str().unwrap().to_owned();
    let (s, _, _) = c
        .send(
            reqwest::Method::PATCH,
            format!("{}/scim/v2/Users/{id}", c.a.base),
            BOOT_TOKEN,
            None,
            Some(patch(
                json!([{"op": "replace", "path": "active", "value": false}]),
            )),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list_b(t1).await, StatusCode::UNAUTHORIZED);
    // Revoke ops2's tokens out of band (the CLI is a third client of the database).
    let (ok, _, err) = run(&c.db, &["token", "revoke", "--user", "ops2"]);
    assert!(ok, "{err}");
    assert_eq!(list_b(t2.clone()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        c.send(
            reqwest::Method::GET,
            format!("{}/scim/v2/Users", c.a.base),
            &t2,
            None,
            None
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    c.stop();
}

/// Node B serves the caller's principal from its cache once it has seen the token: taking a
/// permission away out of band (the CLI, a third client) must still count on the next
/// request there, and so must giving it back.
#[tokio::test]
async fn a_permission_taken_away_is_seen_by_a_node_that_has_the_token_cached() {
    let c = cluster().await;
    let t = c.operator("ops3").await;
    let create_on_b = |name: &'static str| {
        let (c, t) = (&c, t.clone());
        async move {
            c.send(
                reqwest::Method::POST,
                format!("{}/scim/v2/Users", c.b.base),
                &t,
                None,
                Some(json!({"userName": name})),
            )
            .await
            .0
        }
    };
    // Twice: the second request is served from B's cache.
    assert_eq!(create_on_b("made-1").await, StatusCode::CREATED);
    assert_eq!(create_on_b("made-2").await, StatusCode::CREATED);
    let (ok, _, err) = run(&c.db, &["user", "revoke", "ops3", "manage-organization"]);
    assert!(ok, "{err}");
    assert_eq!(create_on_b("made-3").await, StatusCode::FORBIDDEN);
    assert!(run(&c.db, &["user", "grant", "ops3", "manage-organization"]).0);
    assert_eq!(create_on_b("made-4").await, StatusCode::CREATED);
    let (_, l, _) = c
        .send(
            reqwest::Method::GET,
            format!(
                "{}/scim/v2/Users?filter=userName%20sw%20%22made-%22",
                c.a.base
            ),
            BOOT_TOKEN,
            None,
            None,
        )
        .await;
    assert_eq!(l["totalResults"], 3, "{l}");
    c.stop();
}

#[tokio::test]
async fn concurrent_membership_changes_through_both_nodes_lose_no_member() {
    let c = Arc::new(cluster().await);
    let mut ids = Vec::new();
    for i in 0..60 {
        let (s, u, _) = c
            .send(
                reqwest::Method::POST,
                format!("{}/scim/v2/Users", c.node(i)),
                BOOT_TOKEN,
                None,
                Some(json!({"userName": format!("m{i}")})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        ids.push(u["id"].as_str().unwrap().to_owned());
    }
    let (s, g, _) = c
        .send(
            reqwest::Method::POST,
            format!("{}/scim/v2/Groups", c.a.base),
            BOOT_TOKEN,
            None,
            Some(json!({"displayName": "busy"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let gid = g["id"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let (c, id, gid) = (c.clone(), id.clone(), gid.clone());
        tasks.push(tokio::spawn(async move {
            let body = patch(json!([{"op": "add", "path": "members", "value": [{"value": id}]}]));
            c.send(
                reqwest::Method::PATCH,
                format!(
                    "{}/scim/v2/Groups/{gid}?excludedAttributes=members",
                    c.node(i)
                ),
                BOOT_TOKEN,
                None,
                Some(body),
            )
            .await
            .0
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    let (_, g, _) = c
        .send(
            reqwest::Method::GET,
            format!("{}/scim/v2/Groups/{gid}", c.b.base),
            BOOT_TOKEN,
            None,
            None,
        )
        .await;
    let mut got: Vec<String> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_owned())
        .collect();
    got.sort();
    ids.sort();
    assert_eq!(got, ids);
    assert_eq!(
        g["meta"]["version"],
        json!(format!("W/\"{}\"", 1 + ids.len()))
    );
    Arc::into_inner(c).unwrap().stop();
}
