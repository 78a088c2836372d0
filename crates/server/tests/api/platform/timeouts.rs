//! The request time-out never answers "failed" for a write that then commits: with a time-out
//! far shorter than a write takes, every request answered 503 left nothing behind and every
//! request answered 201 is there (THREAT-MODEL.md; it used to answer 503 and commit anyway).

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use roster_server::app::AppOptions;
use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_write_is_not_committed_and_a_committed_one_is_not_timed_out() {
    let (mut created, mut refused) = (Vec::new(), Vec::new());
    for (round, timeout_ms) in [(0, 0u64), (1, 1), (2, 3), (3, 10), (4, 50), (5, 500)] {
        let opts = AppOptions {
            request_timeout: Duration::from_millis(timeout_ms),
            ..AppOptions::default()
        };
        let app = Arc::new(TestApp::spawn_with(opts, None).await);
        let mut calls = Vec::new();
        for i in 0..64 {
            let app = app.clone();
            calls.push(tokio::spawn(async move {
                let name = format!("r{round}-u{i}");
                let r = app
                    .scim_admin(Method::POST, "/Users", json!({"userName": name}))
                    .await;
                (name, r)
            }));
        }
        let mut answers = Vec::new();
        for c in calls {
            answers.push(c.await.unwrap());
        }
        // Anything a refused request could still commit would have by now.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stored = app.snapshot().await;
        let exists = |name: &str| {
            stored
                .iter()
                .any(|u| u.contains(&format!("UserName({name:?})")))
        };
        for (name, r) in answers {
            match r.status {
                StatusCode::CREATED => {
                    assert!(exists(&name), "{name} answered 201 but is not stored");
                    created.push(name);
                }
                StatusCode::SERVICE_UNAVAILABLE => {
                    assert_scim_error(&r, 503, None);
                    assert!(!exists(&name), "{name} answered 503 but was stored");
                    refused.push(name);
                }
                other => panic!("{name}: {other} {}", r.text),
            }
        }
    }
    assert!(
        !refused.is_empty(),
        "no request ran into the time-out: the test tested nothing"
    );
    assert!(
        !created.is_empty(),
        "no request made it: the test tested nothing"
    );
}
