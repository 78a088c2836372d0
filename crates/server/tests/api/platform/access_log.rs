//! The access log: one `roster::access` line per request with the route template, status,
//! principal and client, never a credential or a query value; `ROSTER_ACCESS_LOG=off`
//! silences it.

use super::process::{start, start_with, stop, BOOT_TOKEN};

#[tokio::test]
async fn one_line_per_request_without_secrets_and_off_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::helpers::fresh_database_url(dir.path()).await;
    let p = start(&db, true).await;
    let http = reqwest::Client::new();
    let secret_query = "filter=userName%20eq%20%22query-secret-value%22";
    let r = http
        .get(format!("{}/scim/v2/Users?{secret_query}", p.base))
        .bearer_auth(BOOT_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .post(format!("{}/oauth/token?client_secret=in-the-query", p.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "rc-x"),
            ("client_secret", "body-secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .get(format!("{}/api/v1/scim/Users/some-id", p.base))
        .header("Genestack-API-Token", "wrong-token-value")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let log = p.log();
    stop(p);
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("roster::access"))
        .collect();
    // /healthz polls of the start-up are requests too; the three above must be there.
    let scim = lines
        .iter()
        .find(|l| l.contains("route=/scim/v2/Users "))
        .expect("the SCIM line");
    for field in [
        "dialect=scim",
        "method=GET",
        "status=200",
        "latency_ms=",
        "client_ip=127.0.0.1",
        "request_id=",
    ] {
        assert!(scim.contains(field), "{field} missing: {scim}");
    }
    assert!(
        !scim.contains("principal=- "),
        "the principal is named: {scim}"
    );
    assert!(lines.iter().any(|l| l.contains("dialect=oauth ")
        && l.contains("route=/oauth/token ")
        && l.contains("status=401")));
    assert!(lines
        .iter()
        .any(|l| l.contains("route=/api/v1/scim/Users/{id} ") && l.contains("status=401")));
    for secret in [
        "query-secret-value",
        "in-the-query",
        "body-secret",
        "wrong-token-value",
        BOOT_TOKEN,
        "some-id",
    ] {
        assert!(!log.contains(secret), "{secret} is in the log");
    }

    let p = start_with(&db, false, |c| {
        c.env("ROSTER_ACCESS_LOG", "off");
    })
    .await;
    let r = http
        .get(format!("{}/scim/v2/Users", p.base))
        .bearer_auth(BOOT_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let log = p.log();
    stop(p);
    assert!(!log.contains("roster::access"), "{log}");
}
