//! The database going away and coming back, and refusing to start on a database that is
//! unreachable or newer than the binary.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use roster_store::OpenOptions;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::process::run;
use crate::helpers::*;

/// A TCP proxy the test can cut and restore, standing between roster and PostgreSQL.
struct ChaosProxy {
    addr: String,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl ChaosProxy {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let up = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (up2, links2) = (up.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: the connection closes at once
                }
                let target = target.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                links2.lock().unwrap().push(link);
            }
        });
        Self { addr, up, links }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for l in self.links.lock().unwrap().drain(..) {
            l.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// `postgres://user@host:port/db?...` with host:port replaced.
fn via(url: &str, addr: &str) -> (String, String) {
    let after_scheme = url.find("://").unwrap() + 3;
    let authority_end = after_scheme + url[after_scheme..].find('/').unwrap();
    let host_start = url[after_scheme..authority_end]
        .rfind('@')
        .map_or(after_scheme, |i| after_scheme + i + 1);
    let target = url[host_start..authority_end].to_owned();
    (
        format!("{}{addr}{}", &url[..host_start], &url[authority_end..]),
        target,
    )
}

#[tokio::test]
#[ignore = "needs PostgreSQL (a TCP link to cut): scripts/test.sh runs it in its PostgreSQL half"]
async fn pg_only_a_lost_database_gives_fast_503s_and_the_node_recovers_by_itself() {
    assert!(
        std::env::var("ROSTER_TEST_DATABASE_URL")
            .unwrap_or_default()
            .starts_with("postgres"),
        "this test needs ROSTER_TEST_DATABASE_URL=postgres://..."
    );
    let dir = tempfile::tempdir().unwrap();
    let direct = fresh_database_url(dir.path()).await;
    let (_, target) = via(&direct, "x");
    let proxy = ChaosProxy::start(target).await;
    let (url, _) = via(&direct, &proxy.addr);
    let opts = OpenOptions {
        acquire_timeout: Duration::from_millis(800),
        ..OpenOptions::default()
    };
    let store = roster_store::open(&url, &opts).await.unwrap();
    let mut admin = roster_core::NewUser::new(roster_core::UserName::parse("admin").unwrap());
    admin.display_name = Some("Admin".into());
    store
        .bootstrap(
            &operator(),
            &Default::default(),
            &roster_store::Bootstrap {
                admin,
                token: roster_core::secret::from_secret(ADMIN_TOKEN.into()),
            },
        )
        .await
        .unwrap();
    let app = TestApp::serve(dir, url, store).await;
    let id = app.create_user("steady").await;
    let path = format!("/Users/{id}");

    proxy.cut();
    for _ in 0..3 {
        let t = Instant::now();
        let r = app.scim(Method::GET, &path, ADMIN_TOKEN, None).await;
        assert_scim_error(&r, 503, None);
        assert_eq!(r.headers["retry-after"], "1");
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "503 took {:?}",
            t.elapsed()
        );
    }
    let h = app.raw(Method::GET, "/healthz", &[], None).await;
    assert_eq!(h.status, StatusCode::SERVICE_UNAVAILABLE);
    let before = app
        .raw(
            Method::POST,
            "/scim/v2/Users",
            &[
                ("Authorization", &format!("Bearer {ADMIN_TOKEN}")),
                ("Content-Type", "application/scim+json"),
            ],
            Some(json!({"userName": "lost"}).to_string().into_bytes()),
        )
        .await;
    assert_eq!(before.status, StatusCode::SERVICE_UNAVAILABLE);

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = app.scim(Method::GET, &path, ADMIN_TOKEN, None).await;
        if r.status == StatusCode::OK {
            assert_eq!(r.body["userName"], "steady");
            break;
        }
        assert!(Instant::now() < deadline, "did not recover: {}", r.text);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The write that failed during the outage was not half-applied.
    let r = app
        .scim(
            Method::GET,
            "/Users?filter=userName%20eq%20%22lost%22",
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 0);
}

#[test]
fn refuses_to_start_when_the_database_stays_unreachable() {
    let t = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["serve"])
        .env(
            "ROSTER_DATABASE_URL",
            "postgres://postgres@127.0.0.1:1/nothing",
        )
        .env("ROSTER_DB_CONNECT_TIMEOUT_SECS", "1")
        .env("ROSTER_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unreachable"), "{err}");
    assert!(
        !err.contains("postgres@"),
        "credentials are redacted: {err}"
    );
    assert!(t.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn refuses_to_start_on_a_schema_newer_than_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(dir.path()).await;
    let store = roster_store::open(&url, &OpenOptions::default())
        .await
        .unwrap();
    store.close().await;
    // Pretend a newer roster applied migration 9999.
    if url.starts_with("postgres") {
        use sqlx::ConnectOptions;
        let mut c = url
            .parse::<sqlx::postgres::PgConnectOptions>()
            .unwrap()
            .connect()
            .await
            .unwrap();
        sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (9999, 'future', TRUE, '\\x00'::bytea, 0)")
            .execute(&mut c)
            .await
            .unwrap();
    } else {
        use sqlx::ConnectOptions;
        let mut c = url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .unwrap()
            .connect()
            .await
            .unwrap();
        sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (9999, 'future', TRUE, X'00', 0)")
            .execute(&mut c)
            .await
            .unwrap();
    }
    let (ok, _, err) = run(&url, &["token", "issue", "--user", "x"]);
    assert!(!ok);
    assert!(err.contains("newer than this roster binary"), "{err}");
}
