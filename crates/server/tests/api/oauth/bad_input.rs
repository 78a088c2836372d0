//! Bad input at the token endpoint: every case is a 400 or 401 with its RFC 6749 code,
//! never a 5xx, and nothing is issued.

use base64::Engine;

use crate::helpers::{urlencode, TestApp};

#[tokio::test]
async fn each_bad_request_gets_its_rfc6749_error_and_no_token() {
    let app = TestApp::spawn().await;
    app.create_user("ivy").await;
    let (id, secret) = app.client_for("ivy").await;
    let good = format!("client_id={id}&client_secret={}", urlencode(&secret));
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let big = "x".repeat(1024 * 1024);
    let form = "application/x-www-form-urlencoded";
    // (content type, Authorization, body, status, error)
    let cases: Vec<(&str, Option<String>, String, u16, &str)> = vec![
        (
            "application/json",
            None,
            format!(r#"{{"grant_type":"client_credentials","client_id":"{id}"}}"#),
            400,
            "invalid_request",
        ),
        (
            "text/plain",
            None,
            format!("grant_type=client_credentials&{good}"),
            400,
            "invalid_request",
        ),
        (form, None, good.clone(), 400, "invalid_request"),
        (
            form,
            None,
            format!("grant_type=client_credentials&grant_type=password&{good}"),
            400,
            "invalid_request",
        ),
        (
            form,
            None,
            format!("grant_type=client_credentials&{good}&client_id={id}"),
            400,
            "invalid_request",
        ),
        (
            form,
            None,
            format!("grant_type=client_credentials&client_id={big}&client_secret=x"),
            400,
            "invalid_request",
        ),
        (
            form,
            None,
            format!("grant_type=authorization_code&code=x&{good}"),
            400,
            "unsupported_grant_type",
        ),
        (
            form,
            None,
            format!("grant_type={big}&{good}"),
            400,
            "invalid_request",
        ),
        (
            form,
            None,
            format!("grant_type=client_credentials&scope=admin&{good}"),
            400,
            "invalid_scope",
        ),
        (
            form,
            None,
            "grant_type=client_credentials".into(),
            401,
            "invalid_client",
        ),
        (
            form,
            None,
            format!("grant_type=client_credentials&client_id={id}"),
            401,
            "invalid_client",
        ),
        (
            form,
            None,
            format!("grant_type=client_credentials&client_id={id}&client_secret=wrong"),
            401,
            "invalid_client",
        ),
        (
            form,
            None,
            format!(
                "grant_type=client_credentials&client_id=rc-nosuchclient&client_secret={}",
                urlencode(&secret)
            ),
            401,
            "invalid_client",
        ),
        (
            form,
            Some("Basic !!notbase64".into()),
            "grant_type=client_credentials".into(),
            401,
            "invalid_client",
        ),
        (
            form,
            Some(format!("Basic {}", b64("no-colon"))),
            "grant_type=client_credentials".into(),
            401,
            "invalid_client",
        ),
        (
            form,
            Some(format!("Basic {}", b64(&format!("{id}:wrong")))),
            "grant_type=client_credentials".into(),
            401,
            "invalid_client",
        ),
        (
            form,
            Some(format!("Basic {}", b64(&format!("{id}:{secret}")))),
            format!(
                "grant_type=client_credentials&client_secret={}",
                urlencode(&secret)
            ),
            400,
            "invalid_request",
        ),
        (
            form,
            None,
            format!("grant_type=password&username=ivy&{good}"),
            400,
            "invalid_request",
        ),
        (
            form,
            None,
            format!("grant_type=password&username=ivy&password=x&{good}"),
            400,
            "invalid_grant",
        ),
        (
            form,
            None,
            format!("grant_type=refresh_token&{good}"),
            400,
            "invalid_request",
        ),
        (
            form,
            None,
            format!("grant_type=refresh_token&refresh_token=rrt_forged&{good}"),
            400,
            "invalid_grant",
        ),
        (
            form,
            None,
            "grant_type=client_credentials&%ZZ=1".into(),
            401,
            "invalid_client",
        ),
    ];
    // What the 401s of presented credentials said: the same, whether or not the id exists.
    let mut failed = Vec::new();
    for (ct, auth, body, status, error) in cases {
        let mut h = vec![("Content-Type", ct)];
        if let Some(a) = &auth {
            h.push(("Authorization", a.as_str()));
        }
        let r = app
            .raw(
                reqwest::Method::POST,
                "/oauth/token",
                &h,
                Some(body.clone().into_bytes()),
            )
            .await;
        let shown: String = body.chars().take(80).collect();
        assert_eq!(
            r.status.as_u16(),
            status,
            "{ct} {auth:?} {shown}: {}",
            r.text
        );
        assert_eq!(r.body["error"], error, "{ct} {auth:?} {shown}: {}", r.text);
        assert!(r.body.get("access_token").is_none());
        assert!(!r.text.contains(&secret));
        if status == 401 {
            assert!(r.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic"));
        }
        if status == 401 && (body.contains("client_secret=") || auth.is_some()) {
            failed.push(r.body["error_description"].clone());
        }
    }
    assert!(failed.len() >= 4, "{failed:?}");
    assert!(
        failed.iter().all(|d| d
            .as_str()
            .unwrap()
            .starts_with("client authentication failed")),
        "{failed:?}"
    );
    let wrong_secret = &failed[0];
    let unknown_id = &failed[1];
    assert_eq!(wrong_secret, unknown_id);
    // Wrong method and unknown paths under the prefix answer in the same format.
    let r = app
        .raw(reqwest::Method::GET, "/oauth/token", &[], None)
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"].as_str()),
        (405, Some("invalid_request"))
    );
    let r = app
        .raw(reqwest::Method::POST, "/oauth/nothing", &[], None)
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"].as_str()),
        (404, Some("invalid_request"))
    );
}
