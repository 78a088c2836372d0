//! Every error under a dialect's prefix is JSON in that dialect's error format, whoever
//! produced it: a handler, an extractor, the router (unknown route, wrong method), the body
//! limit, or hyper itself (a URI over its 64 KiB limit); outside every dialect it is RFC 9457
//! problem JSON.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::*;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Format {
    /// RFC 7644 §3.12: schemas, status as a string, detail.
    Scim,
    /// ODM's BaseErrorResponse: {"error": {"message": ...}}.
    OdmBase,
    /// RFC 9457.
    Problem,
}

fn assert_format(r: &Resp, status: u16, format: Format, case: &str) {
    assert_eq!(r.status.as_u16(), status, "{case}: {}", r.text);
    let ct = r
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match format {
        Format::Scim => {
            assert_eq!(ct, "application/scim+json", "{case}");
            assert_eq!(
                r.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
                "{case}: {}",
                r.text
            );
            assert_eq!(r.body["status"], Value::from(status.to_string()), "{case}");
            assert!(
                r.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
                "{case}"
            );
        }
        Format::OdmBase => {
            assert_eq!(ct, "application/json", "{case}");
            assert!(
                r.body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
                "{case}: {}",
                r.text
            );
        }
        Format::Problem => {
            assert_eq!(ct, "application/problem+json", "{case}");
            assert_eq!(r.body["status"], Value::from(status), "{case}: {}", r.text);
            assert!(
                r.body["title"].is_string() && r.body["detail"].is_string(),
                "{case}"
            );
        }
    }
    if status == 401 {
        assert!(
            r.headers.contains_key("www-authenticate"),
            "{case}: no challenge"
        );
    }
}

/// A request too long for reqwest (whose URI type stops at 64 KiB), written by hand on a
/// connection of its own; the answer is parsed just enough for [`assert_format`].
async fn raw_get(app: &TestApp, path: &str) -> Resp {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let code: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut headers = reqwest::header::HeaderMap::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(": ") {
            headers.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
    }
    Resp {
        status: StatusCode::from_u16(code).unwrap(),
        headers,
        body: serde_json::from_str(body).unwrap_or(Value::Null),
        text: body.chars().take(500).collect(),
    }
}

/// A request on a connection of its own.
async fn fresh(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Resp {
    if path.len() > 60_000 {
        return raw_get(app, path).await;
    }
    // A client of its own: hyper closes the connection after an error it answers itself.
    let mut r = send_with(
        &reqwest::Client::new(),
        &app.base,
        method,
        path,
        headers,
        body,
    )
    .await;
    r.text = r.text.chars().take(500).collect();
    r
}

/// name, method, path, headers, body, expected status and format.
type Case<'a> = (
    &'a str,
    Method,
    String,
    &'a [(&'a str, &'a str)],
    Option<Vec<u8>>,
    u16,
    Format,
);

#[tokio::test]
async fn errors_under_each_prefix_are_in_that_dialects_format() {
    let app = TestApp::spawn().await;
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let long_query = format!("filter={}", "a".repeat(100 * 1024));
    let big_body = vec![b'{'; 3 * 1024 * 1024];
    for (prefix, format, unauthenticated) in [
        ("/scim/v2", Format::Scim, Format::Scim),
        ("/api/v1/scim", Format::Scim, Format::OdmBase),
    ] {
        let h = [("Authorization", auth.as_str())];
        let json = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        let text = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "text/plain"),
        ];
        let cases: Vec<Case> = vec![
            (
                "bad percent-encoding in the path",
                Method::GET,
                format!("{prefix}/Users/%ff%fe"),
                &h,
                None,
                400,
                format,
            ),
            (
                "URI over hyper's limit",
                Method::GET,
                format!("{prefix}/Users?{long_query}"),
                &h,
                None,
                414,
                format,
            ),
            (
                "unknown route",
                Method::GET,
                format!("{prefix}/Nope"),
                &h,
                None,
                404,
                format,
            ),
            (
                "unknown route without credentials",
                Method::GET,
                format!("{prefix}/Nope/deeper"),
                &[],
                None,
                404,
                format,
            ),
            (
                "wrong method",
                Method::PUT,
                format!("{prefix}/Users"),
                &json,
                Some(b"{}".to_vec()),
                405,
                format,
            ),
            (
                "body over the limit",
                Method::POST,
                format!("{prefix}/Users"),
                &json,
                Some(big_body.clone()),
                413,
                format,
            ),
            (
                "unsupported media type",
                Method::POST,
                format!("{prefix}/Users"),
                &text,
                Some(b"x".to_vec()),
                415,
                format,
            ),
            (
                "malformed JSON",
                Method::POST,
                format!("{prefix}/Users"),
                &json,
                Some(b"{".to_vec()),
                400,
                format,
            ),
            (
                "query value that does not parse",
                Method::GET,
                format!("{prefix}/Users?count=many"),
                &h,
                None,
                400,
                format,
            ),
            (
                "no credentials",
                Method::GET,
                format!("{prefix}/Users"),
                &[],
                None,
                401,
                unauthenticated,
            ),
            (
                "unknown token",
                Method::GET,
                format!("{prefix}/Users"),
                &[("Authorization", "Bearer nope")],
                None,
                401,
                unauthenticated,
            ),
        ];
        for (name, method, path, headers, body, status, format) in cases {
            let r = fresh(&app, method, &path, headers, body).await;
            assert_format(&r, status, format, &format!("{prefix}: {name}"));
        }
    }
    // Outside every dialect.
    for (path, method, status) in [
        ("/nope", Method::GET, 404),
        ("/healthz", Method::POST, 405),
        (&*format!("/x?{long_query}"), Method::GET, 414),
    ] {
        let r = fresh(&app, method, path, &[], None).await;
        assert_format(&r, status, Format::Problem, path.get(..20).unwrap_or(path));
    }
    // The same connection keeps working after an error the router produced.
    let r = app.scim(Method::GET, "/Nope", ADMIN_TOKEN, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.scim(Method::GET, "/Users", ADMIN_TOKEN, None)
            .await
            .status,
        StatusCode::OK
    );
}
