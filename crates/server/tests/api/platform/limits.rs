//! Rate limits: a burst gets 429 with `Retry-After` and the `RateLimit` headers in each
//! dialect's own format and recovers after the wait; valid credentials are not limited by
//! others' failures; two nodes sharing Redis enforce one limit; Redis going away lets
//! requests through.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use roster_server::http::limits::{Kind, Limits, RateLimits, RateSpec};

use crate::helpers::{urlencode, TestApp, ADMIN_TOKEN};

async fn limits(anonymous: &str, passwords: &str, redis: Option<(&str, &str)>) -> Arc<RateLimits> {
    let specs = [
        (Kind::Anonymous, RateSpec::parse(anonymous).unwrap()),
        (Kind::Passwords, RateSpec::parse(passwords).unwrap()),
        (Kind::PerCredential, None),
    ];
    let (url, prefix) = redis.unzip();
    Arc::new(RateLimits {
        limits: Limits::new(&specs, url, prefix.unwrap_or("t"))
            .await
            .unwrap(),
        trusted_proxies: Vec::new(),
    })
}

fn assert_429(r: &crate::helpers::Resp) {
    assert_eq!(r.status, 429, "{}", r.text);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(r.headers.contains_key("ratelimit-policy") && r.headers.contains_key("ratelimit"));
}

#[tokio::test]
async fn bursts_get_429_in_each_dialects_format_and_recover() {
    // (dialect, a request with a bad credential, how its 429 body looks)
    type Check = fn(&serde_json::Value) -> bool;
    type Case<'a> = (&'a str, Method, &'a str, Vec<(&'a str, &'a str)>, Check);
    let cases: [Case; 4] = [
        (
            "scim",
            Method::GET,
            "/scim/v2/Users",
            vec![("Authorization", "Bearer wrong-token-0123456789")],
            |b| {
                b["status"] == "429"
                    && b["schemas"][0] == "urn:ietf:params:scim:api:messages:2.0:Error"
            },
        ),
        (
            "odm",
            Method::GET,
            "/api/v1/scim/Users",
            vec![("Genestack-API-Token", "wrong-token-0123456789")],
            |b| b["status"] == "429" || b["error"].is_object(),
        ),
        (
            "sailpoint",
            Method::GET,
            "/v3/auth-users/ef38f94347e94562b5bb8424a56397d8",
            vec![("Authorization", "Bearer wrong")],
            |b| b["message"]["text"].is_string(),
        ),
        (
            "discovery",
            Method::GET,
            "/scim/v2/ServiceProviderConfig",
            vec![],
            |b| b["status"] == "429",
        ),
    ];
    for (name, method, path, headers, body_ok) in cases {
        let app = TestApp::spawn_limited(limits("1/s,2", "off", None).await).await;
        for _ in 0..2 {
            let r = app.raw(method.clone(), path, &headers, None).await;
            assert_ne!(r.status, 429, "{name}: within the burst: {}", r.text);
        }
        let r = app.raw(method.clone(), path, &headers, None).await;
        assert_429(&r);
        assert!(body_ok(&r.body), "{name}: {}", r.text);
        assert!(
            r.headers["content-type"].to_str().unwrap().contains("json"),
            "{name}"
        );
        // A valid credential is not held back by the failures from the same address.
        let ok = app
            .scim(Method::GET, "/Users?count=1", ADMIN_TOKEN, None)
            .await;
        assert_eq!(ok.status, 200, "{name}");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let r = app.raw(method.clone(), path, &headers, None).await;
        assert_ne!(
            r.status, 429,
            "{name}: recovered after the wait: {}",
            r.text
        );
    }
}

#[tokio::test]
async fn failed_client_secrets_and_passwords_are_limited_but_good_grants_are_not() {
    let app = TestApp::spawn_limited(limits("1/min,3", "1/min,2", None).await).await;
    let body = serde_json::json!({"schemas": [crate::helpers::USER_URN], "userName": "pam", "password": "a long enough password"});
    assert_eq!(
        app.scim_admin(Method::POST, "/Users", body).await.status,
        201
    );
    let (id, secret) = app.client_for("pam").await;
    let good = format!(
        "grant_type=client_credentials&client_id={id}&client_secret={}",
        urlencode(&secret)
    );
    // Good grants are authenticated: many of them pass whatever the anonymous limit.
    for _ in 0..10 {
        assert_eq!(app.form("/oauth/token", &[], &good).await.status, 200);
    }
    let bad = format!("grant_type=client_credentials&client_id={id}&client_secret=wrong");
    for _ in 0..3 {
        assert_eq!(app.form("/oauth/token", &[], &bad).await.status, 401);
    }
    let r = app.form("/oauth/token", &[], &bad).await;
    assert_429(&r);
    assert_eq!(r.body["error"], "temporarily_unavailable", "{}", r.text);

    // Passwords: two verifications from this address, then 429 before argon2 runs.
    let pw = |p: &str| {
        format!(
            "grant_type=password&username=pam&password={}&client_id={id}&client_secret={}",
            urlencode(p),
            urlencode(&secret)
        )
    };
    assert_eq!(
        app.form("/oauth/token", &[], &pw("wrong password 1"))
            .await
            .status,
        400
    );
    assert_eq!(
        app.form("/oauth/token", &[], &pw("a long enough password"))
            .await
            .status,
        200
    );
    let r = app
        .form("/oauth/token", &[], &pw("a long enough password"))
        .await;
    assert_429(&r);
}

/// A redis-server of the test's own on a free port (so the test can stop it).
struct RedisServer {
    child: Child,
    url: String,
}

impl RedisServer {
    fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .ok()?;
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(Self {
                    child,
                    url: format!("redis://127.0.0.1:{port}"),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn two_nodes_sharing_redis_enforce_one_limit_and_fail_open_without_it() {
    let redis =
        RedisServer::start().expect("redis-server (Debian package redis-server) must be installed");
    let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    let shared = || {
        limits(
            "1/min,4",
            "off",
            Some((redis.url.as_str(), prefix.as_str())),
        )
    };
    let (la, lb) = (shared().await, shared().await);
    let a = TestApp::spawn_limited(la.clone()).await;
    let b = a.node_limited(lb.clone()).await;
    // Both nodes connect in the background.
    for _ in 0..200 {
        if la.limits.redis_connected() && lb.limits.redis_connected() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(la.limits.redis_connected() && lb.limits.redis_connected());
    let bad = [("Authorization", "Bearer wrong-token-0123456789")];
    let mut statuses = Vec::new();
    for i in 0..6 {
        let node = if i % 2 == 0 { &a } else { &b };
        statuses.push(
            node.raw(Method::GET, "/scim/v2/Users", &bad, None)
                .await
                .status
                .as_u16(),
        );
    }
    // Four in the shared burst, then both nodes refuse: one limit, not one per node.
    assert_eq!(statuses, vec![401, 401, 401, 401, 429, 429], "{statuses:?}");

    drop(redis);
    tokio::time::sleep(Duration::from_millis(100)).await;
    for node in [&a, &b] {
        let r = node.raw(Method::GET, "/scim/v2/Users", &bad, None).await;
        assert_eq!(
            r.status, 401,
            "Redis gone: requests go through (fail open): {}",
            r.text
        );
        assert_eq!(
            node.scim(Method::GET, "/Users?count=1", ADMIN_TOKEN, None)
                .await
                .status,
            200
        );
    }
}
