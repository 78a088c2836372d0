//! GET /api/v1/audit: administrators read the trail newest first, filtered by actor, target,
//! action and time, keyset-paged; others get 403; bad parameters are 400 problem JSON.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, ADMIN_TOKEN};

async fn audit(app: &TestApp, query: &str, token: &str) -> crate::helpers::Resp {
    let auth = format!("Bearer {token}");
    app.raw(
        Method::GET,
        &format!("/api/v1/audit{query}"),
        &[("Authorization", &auth)],
        None,
    )
    .await
}

fn actions(r: &crate::helpers::Resp) -> Vec<String> {
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_audit_trail_filtered_and_paged() {
    let app = TestApp::spawn().await;
    let uid = app.create_user("aud").await;
    app.token_for("aud").await;
    let r = app
        .scim_patch(
            &format!("/Users/{uid}"),
            ADMIN_TOKEN,
            serde_json::json!([{"op": "replace", "path": "displayName", "value": "x"}]),
        )
        .await;
    assert_eq!(r.status, 200);
    let all = audit(&app, "", ADMIN_TOKEN).await;
    assert_eq!(all.status, 200, "{}", all.text);
    let acts = actions(&all);
    assert_eq!(
        acts.first().map(String::as_str),
        Some("user.update"),
        "newest first: {acts:?}"
    );
    assert!(acts.contains(&"token.issue".to_owned()) && acts.contains(&"bootstrap".to_owned()));

    // The row names what changed, never a value.
    assert_eq!(
        all.body["items"][0]["changes"],
        serde_json::json!(["displayName"])
    );
    let r = app
        .scim_patch(
            &format!("/Users/{uid}"),
            ADMIN_TOKEN,
            serde_json::json!([
                {"op": "replace", "path": "password", "value": "a new long passphrase"},
                {"op": "replace", "path": "name.familyName", "value": "Lovelace"},
            ]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rows = audit(
        &app,
        &format!("?target={uid}&action=user.update&count=1"),
        ADMIN_TOKEN,
    )
    .await;
    assert_eq!(
        rows.body["items"][0]["changes"],
        serde_json::json!(["name.familyName", "password"]),
        "{}",
        rows.text
    );
    assert!(
        !rows.text.contains("passphrase") && !rows.text.contains("argon2"),
        "{}",
        rows.text
    );
    // (The password change has a row of its own too: user.password.)
    let all = audit(&app, "", ADMIN_TOKEN).await;
    let acts = actions(&all);

    // Target: the user's own rows, including "<id> <token id>".
    let r = audit(&app, &format!("?target={uid}"), ADMIN_TOKEN).await;
    assert_eq!(
        actions(&r),
        vec![
            "user.update",
            "user.password",
            "user.update",
            "token.issue",
            "user.create"
        ],
        "{}",
        r.text
    );
    let r = audit(&app, "?action=token.issue", ADMIN_TOKEN).await;
    assert_eq!(actions(&r), vec!["token.issue"]);
    let admin_id = app.scim(Method::GET, "/Me", ADMIN_TOKEN, None).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = audit(&app, &format!("?actor={admin_id}"), ADMIN_TOKEN).await;
    assert_eq!(
        actions(&r),
        vec!["user.update", "user.password", "user.update"],
        "{}",
        r.text
    );
    assert!(r.body["items"][0]["requestId"].is_string());

    // Time range: nothing after now, everything before it.
    let future = "2999-01-01T00:00:00Z";
    assert_eq!(
        actions(&audit(&app, &format!("?since={future}"), ADMIN_TOKEN).await).len(),
        0
    );
    assert_eq!(
        actions(&audit(&app, &format!("?until={future}"), ADMIN_TOKEN).await).len(),
        acts.len()
    );

    // A window in the middle: exactly the rows stamped in it (the window is found as a
    // range of seq, then checked row by row).
    let stamps: Vec<(i64, String)> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["seq"].as_i64().unwrap(),
                i["at"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // The newest row's millisecond: the password change before it took an argon2id hash.
    let cut = stamps[0].1.clone();
    let seqs = |q: &str| {
        let app = &app;
        let q = q.to_owned();
        async move {
            let r = audit(app, &q, ADMIN_TOKEN).await;
            assert_eq!(r.status, 200, "{}", r.text);
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["seq"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    let after: Vec<i64> = stamps
        .iter()
        .filter(|(_, at)| *at >= cut)
        .map(|(s, _)| *s)
        .collect();
    let before: Vec<i64> = stamps
        .iter()
        .filter(|(_, at)| *at < cut)
        .map(|(s, _)| *s)
        .collect();
    assert!(!after.is_empty() && !before.is_empty());
    assert_eq!(seqs(&format!("?since={cut}")).await, after);
    assert_eq!(seqs(&format!("?until={cut}")).await, before);

    // Keyset paging: pages of 2 cover the whole trail exactly once.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = audit(&app, &format!("?count=2{cursor}"), ADMIN_TOKEN).await;
        let items = r.body["items"].as_array().unwrap().clone();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|i| i["seq"].as_i64().unwrap()));
        match &r.body["next"] {
            Value::Null => break,
            n => cursor = format!("&before={n}"),
        }
    }
    let mut sorted = seen.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(seen, sorted);
    assert_eq!(seen.len(), acts.len());

    // A group update names its parts too.
    let g = app
        .scim(
            Method::POST,
            "/Groups",
            ADMIN_TOKEN,
            Some(serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "audited"})),
        )
        .await;
    let gid = g.body["id"].as_str().unwrap().to_owned();
    let r = app
        .scim_patch(
            &format!("/Groups/{gid}"),
            ADMIN_TOKEN,
            serde_json::json!([
                {"op": "replace", "path": "displayName", "value": "renamed"},
                {"op": "add", "path": "members", "value": [{"value": uid}]},
            ]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rows = audit(
        &app,
        &format!("?target={gid}&action=group.update"),
        ADMIN_TOKEN,
    )
    .await;
    assert_eq!(
        rows.body["items"][0]["changes"],
        serde_json::json!(["displayName", "members"]),
        "{}",
        rows.text
    );

    // Only administrators; bad parameters are 400 problem JSON.
    let t = app.token_for("aud").await;
    let r = audit(&app, "", &t).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    for bad in [
        "?action=user.explode",
        "?count=0",
        "?count=5000",
        "?since=yesterday",
        "?before=x",
    ] {
        let r = audit(&app, bad, ADMIN_TOKEN).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        assert_eq!(r.body["status"], 400);
    }
    let r = app.raw(Method::GET, "/api/v1/audit", &[], None).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn retention_prunes_old_rows_in_batches_and_records_it() {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        app.create_user(&format!("old{i}")).await;
    }
    let before = audit(&app, "?count=1000", ADMIN_TOKEN).await.body["items"]
        .as_array()
        .unwrap()
        .len();
    assert!(before >= 7, "{before}");
    let keep_from = roster_core::now_micros();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    app.create_user("new").await;
    // Batches of 2: several transactions, all of the old rows, none of the new one.
    let n = app
        .store
        .prune_audit(&crate::helpers::operator(), keep_from, 2)
        .await
        .unwrap();
    assert_eq!(n as usize, before);
    let r = audit(&app, "", ADMIN_TOKEN).await;
    assert_eq!(
        actions(&r),
        vec!["audit.prune", "user.create"],
        "{}",
        r.text
    );
    assert!(r.body["items"][0]["target"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{before} rows")));
    assert_eq!(
        app.store
            .prune_audit(&crate::helpers::operator(), keep_from, 2)
            .await
            .unwrap(),
        0
    );
}
