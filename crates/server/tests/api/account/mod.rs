//! Password-reset and verification links: the API that queues them (`/api/v1/accounts`),
//! the outbox row written with the token, and the pages the links open (`/account`). The
//! mail itself is read from the outbox through the store and opened with the test server
//! key; delivery over real SMTP and the browser are the platform suite's
//! (`sdk-tests/platform/test_mail.py`).

use std::time::Duration;

use reqwest::Method;
use roster_core::UserName;
use roster_server::mail::{Body, MailSettings};
use roster_store::{LinkPurpose, LinkState, NewLink, WriteCtx};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

const LANDING: &str = "http://127.0.0.1:9";

fn settings(dir: &std::path::Path) -> MailSettings {
    let mut s = MailSettings::files(dir.join("mail"));
    s.redirect_allowlist = vec![LANDING.into()];
    s
}

async fn app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_mail(settings(dir.path()), false).await;
    drop(dir);
    app
}

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn user_with_email(app: &TestApp, name: &str, locale: Option<&str>) -> String {
    let mut body = json!({
        "schemas": [USER_URN], "userName": name, "name": {"givenName": "Ann"},
        "emails": [{"value": format!("{name}@example.com"), "primary": true}],
    });
    if let Some(l) = locale {
        body["locale"] = json!(l);
    }
    let r = app.scim_admin(Method::POST, "/Users", body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn ask(app: &TestApp, id: &str, what: &str, token: &str, body: Option<Value>) -> Resp {
    let auth = format!("Bearer {token}");
    let body = body.map(|b| b.to_string().into_bytes());
    app.raw(
        Method::POST,
        &format!("/api/v1/accounts/{id}/{what}"),
        &[("Authorization", &auth), ("Host", "evil.example")],
        body,
    )
    .await
}

/// The newest mail in the outbox: (recipient, subject, text part, html part).
async fn last_mail(app: &TestApp) -> (String, String, String, String) {
    let rows = app.store.list_mail(&operator(), None, 1).await.unwrap();
    let m = rows.first().expect("a mail in the outbox");
    let plain = test_server_key()
        .open(&roster_store::mail_record(&m.message_id), &m.body_sealed)
        .unwrap();
    let body: Body = serde_json::from_slice(&plain).unwrap();
    (m.recipient.clone(), m.subject.clone(), body.text, body.html)
}

/// The link in a mail's text part.
fn link_in(text: &str) -> String {
    text.split_whitespace()
        .find(|w| w.contains("/account/"))
        .expect("a link in the mail")
        .to_owned()
}

fn token_of(link: &str) -> String {
    link.split("token=").nth(1).unwrap().to_owned()
}

async fn page(app: &TestApp, path: &str, cookie: Option<&str>, form: Option<String>) -> Resp {
    let mut h = vec![];
    if let Some(c) = cookie {
        h.push(("Cookie", c));
    }
    let (method, body) = match form {
        Some(f) => {
            h.push(("Content-Type", "application/x-www-form-urlencoded"));
            (Method::POST, Some(f.into_bytes()))
        }
        None => (Method::GET, None),
    };
    send_with(&browser(), &app.base, method, path, &h, body).await
}

/// The form's CSRF cookie and field value.
fn csrf(r: &Resp) -> (String, String) {
    let set = r.headers["set-cookie"].to_str().unwrap();
    let cookie = set.split(';').next().unwrap().to_owned();
    let field = r
        .text
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(cookie, format!("roster_csrf={field}"));
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    (cookie, field)
}

fn assert_hardened(r: &Resp) {
    let h = &r.headers;
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["cache-control"], "no-store");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(
        !csp.contains("script-src") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
}

async fn password_grant(app: &TestApp, name: &str, password: &str) -> Resp {
    let (id, secret) = app.client_for(name).await;
    app.form(
        "/oauth/token",
        &[],
        &format!(
            "grant_type=password&username={name}&password={}&client_id={id}&client_secret={}",
            urlencode(password),
            urlencode(&secret)
        ),
    )
    .await
}

#[tokio::test]
async fn a_reset_link_sets_the_password_once_and_proves_the_address() {
    let app = app().await;
    let id = user_with_email(&app, "rita", Some("de-DE")).await;
    let r = ask(
        &app,
        &id,
        "password-reset",
        ADMIN_TOKEN,
        Some(json!({"redirectUrl": format!("{LANDING}/welcome")})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);

    // One mail to her address, in German, its link on the server's own URL (the request
    // said Host: evil.example).
    let (to, subject, text, html) = last_mail(&app).await;
    assert_eq!(to, "rita@example.com");
    assert_eq!(subject, "Setzen Sie Ihr Passwort zurück");
    assert!(text.contains("Hallo Ann,"), "{text}");
    let link = link_in(&text);
    assert!(
        link.starts_with(&format!("{}/account/reset-password?token=", app.base)),
        "{link}"
    );
    assert!(!text.contains("evil.example") && !html.contains("evil.example"));
    let token = token_of(&link);
    assert_eq!(token.len(), 43, "256 bits in base64url");
    let path = link.strip_prefix(&app.base).unwrap().to_owned();

    // The form, hardened, with its CSRF pair; nothing changes by looking at it.
    let form = page(&app, &path, None, None).await;
    assert_eq!(form.status, 200, "{}", form.text);
    assert_hardened(&form);
    assert!(form.text.contains("<form method=\"post\""));
    assert!(!form.text.contains("<script"));
    let (cookie, field) = csrf(&form);

    let post = |pw: &str, confirm: &str, csrf: &str| {
        format!(
            "token={token}&csrf={csrf}&password={}&confirm={}",
            urlencode(pw),
            urlencode(confirm)
        )
    };
    let before = app.snapshot().await;
    // No CSRF cookie, a wrong field, two different passwords, a short one, her own name:
    // each shows the form again with the reason and changes nothing.
    let refusals = [
        (
            None,
            post("a-new-password-1", "a-new-password-1", &field),
            "abgelaufen",
        ),
        (
            Some(cookie.as_str()),
            post("a-new-password-1", "a-new-password-1", "x"),
            "abgelaufen",
        ),
        (
            Some(cookie.as_str()),
            post("a-new-password-1", "a-new-password-2", &field),
            "stimmen nicht",
        ),
        (
            Some(cookie.as_str()),
            post("short", "short", &field),
            "mindestens 12",
        ),
        (
            Some(cookie.as_str()),
            post("rita@example.com", "rita@example.com", &field),
            "Benutzername",
        ),
    ];
    for (c, body, why) in refusals {
        let r = page(&app, "/account/reset-password", c, Some(body)).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.text.contains(why), "{why}: {}", r.text);
        assert!(r.text.contains("<form"), "the form again");
        assert_hardened(&r);
    }
    assert_eq!(app.snapshot().await, before);
    let old = password_grant(&app, "rita", "a-new-password-1").await;
    assert_eq!(old.status, 400, "no password yet: {}", old.text);

    // The real thing: on to the allowed redirect.
    let done = page(
        &app,
        "/account/reset-password",
        Some(&cookie),
        Some(post("a-new-password-1", "a-new-password-1", &field)),
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.text);
    assert_eq!(done.headers["location"], format!("{LANDING}/welcome"));
    assert!(done.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains(&format!("form-action 'self' {LANDING}")));
    let signed_in = password_grant(&app, "rita", "a-new-password-1").await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text);
    let user = app
        .store
        .get_user(
            &operator().user_admin().reader(),
            Uuid::parse_str(&id).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(
        user.email_verified(),
        "following the mailed link proves the address"
    );

    // Spent: the link and its form are refused, the password stays.
    for (c, f) in [
        (None, None),
        (
            Some(cookie.as_str()),
            Some(post("another-password-9", "another-password-9", &field)),
        ),
    ] {
        let p = if f.is_some() {
            "/account/reset-password"
        } else {
            path.as_str()
        };
        let r = page(&app, p, c, f).await;
        assert_eq!(r.status, 410, "{}", r.text);
        assert!(
            r.text.contains("used already"),
            "no user known: English; {}",
            r.text
        );
        assert_hardened(&r);
    }
    assert_eq!(
        password_grant(&app, "rita", "another-password-9")
            .await
            .status,
        400
    );
    // A tampered token is unknown.
    let mut bad = token.clone();
    bad.replace_range(..1, if bad.starts_with('A') { "B" } else { "A" });
    let r = page(
        &app,
        &format!("/account/reset-password?token={bad}"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.text.contains("not valid") || r.text.contains("ungültig"),
        "{}",
        r.text
    );

    let audit = app
        .store
        .audit_rows(&operator().audit_reader(), &Default::default())
        .await
        .unwrap();
    let actions: Vec<&str> = audit
        .iter()
        .map(|a| a.action.as_str())
        .filter(|a| !a.starts_with("oauth-client"))
        .take(3)
        .collect();
    assert_eq!(
        actions,
        ["user.password", "user.email-verify", "account-link.issue"]
    );
    assert_eq!(
        audit[0].actor.as_deref(),
        Some(id.as_str()),
        "the change is the link owner's"
    );
}

#[tokio::test]
async fn a_verification_link_proves_the_address_until_it_changes() {
    let app = app().await;
    let id = user_with_email(&app, "vera", None).await;
    let r = ask(&app, &id, "email-verification", ADMIN_TOKEN, None).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let (to, subject, text, _) = last_mail(&app).await;
    assert_eq!(
        (to.as_str(), subject.as_str()),
        ("vera@example.com", "Confirm your email address")
    );
    let link = link_in(&text);
    let path = link.strip_prefix(&app.base).unwrap().to_owned();
    let uid = Uuid::parse_str(&id).unwrap();
    let reader = operator().user_admin().reader();
    let verified = || async {
        app.store
            .get_user(&reader, uid)
            .await
            .unwrap()
            .unwrap()
            .email_verified()
    };
    assert!(!verified().await);

    let r = page(&app, &path, None, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.contains("vera@example.com is confirmed"),
        "{}",
        r.text
    );
    assert_hardened(&r);
    assert!(verified().await);
    let again = page(&app, &path, None, None).await;
    assert_eq!(again.status, 410, "single use: {}", again.text);

    // Another address is not the one she proved.
    let r = app
        .scim_patch(
            &format!("/Users/{id}"),
            ADMIN_TOKEN,
            json!([{"op": "replace", "path": "emails", "value": [{"value": "vera@new.example", "primary": true}]}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!verified().await);
}

#[tokio::test]
async fn asking_for_links_is_bounded_and_checked() {
    let app = app().await;
    let id = user_with_email(&app, "otto", None).await;
    let other = user_with_email(&app, "olga", None).await;
    let otto = app.token_for("otto").await;
    let before = app
        .store
        .list_mail(&operator(), None, 100)
        .await
        .unwrap()
        .len();

    // A user may ask for themselves, not for others; an unknown or malformed id is 404.
    let r = ask(&app, &other, "password-reset", &otto, None).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    assert_eq!(
        ask(
            &app,
            &Uuid::new_v4().to_string(),
            "password-reset",
            ADMIN_TOKEN,
            None
        )
        .await
        .status,
        404
    );
    assert_eq!(
        ask(&app, "not-an-id", "password-reset", ADMIN_TOKEN, None)
            .await
            .status,
        404
    );
    assert_eq!(
        ask(&app, &id, "password-reset", "nope", None).await.status,
        401
    );
    // A redirect off the allow-list, a bad body: 400, nothing queued.
    for body in [
        json!({"redirectUrl": "https://evil.example/x"}),
        json!({"redirectUrl": "javascript:alert(1)"}),
        json!({"redirectUrl": 7}),
        json!({"redirect": LANDING}),
        json!([1]),
    ] {
        let r = ask(&app, &id, "password-reset", ADMIN_TOKEN, Some(body.clone())).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert_eq!(r.body["status"], 400);
    }
    // A user without an address has nothing to send to.
    let r = app
        .scim_admin(
            Method::POST,
            "/Users",
            json!({"schemas": [USER_URN], "userName": "bare"}),
        )
        .await;
    let bare = r.body["id"].as_str().unwrap().to_owned();
    let r = ask(&app, &bare, "email-verification", ADMIN_TOKEN, None).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.body["detail"].as_str().unwrap().contains("no email"),
        "{}",
        r.text
    );
    assert_eq!(
        app.store
            .list_mail(&operator(), None, 100)
            .await
            .unwrap()
            .len(),
        before
    );

    // Once a minute per purpose: the second is 429 with Retry-After, the other purpose goes.
    assert_eq!(
        ask(&app, &id, "password-reset", &otto, None).await.status,
        202
    );
    let r = ask(&app, &id, "password-reset", ADMIN_TOKEN, None).await;
    assert_eq!(r.status, 429, "{}", r.text);
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(r.headers["content-type"], "application/problem+json");
    assert_eq!(
        ask(&app, &id, "email-verification", ADMIN_TOKEN, None)
            .await
            .status,
        202
    );
    assert_eq!(
        app.store
            .list_mail(&operator(), None, 100)
            .await
            .unwrap()
            .len(),
        before + 2
    );
}

#[tokio::test]
async fn a_newer_link_ends_the_older_one_and_links_expire() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.reset_ttl = Duration::from_secs(1);
    let app = TestApp::spawn_mail(s, false).await;
    let id = user_with_email(&app, "nina", None).await;
    let uid = Uuid::parse_str(&id).unwrap();
    let mailer = operator().account_mailer();
    let issue = |hash: String| {
        let store = app.store.clone();
        let mailer = mailer.clone();
        async move {
            let mail = |u: &roster_core::User| {
                Ok(roster_store::NewMail {
                    message_id: format!("{}@test", Uuid::new_v4()),
                    recipient: u.mail_address().unwrap().to_owned(),
                    subject: "s".into(),
                    body_sealed: String::new(),
                })
            };
            let link = NewLink {
                purpose: LinkPurpose::PasswordReset,
                hash: &hash,
                expires_at: roster_core::now_micros() + 3_600_000_000,
                redirect_url: None,
                min_interval_micros: 0,
            };
            store
                .issue_link(&mailer, &WriteCtx::default(), uid, &link, &mail)
                .await
                .unwrap()
        }
    };
    issue("a".repeat(64)).await;
    issue("b".repeat(64)).await;
    let first = app
        .store
        .link(&"a".repeat(64), LinkPurpose::PasswordReset)
        .await
        .unwrap();
    assert!(matches!(first, LinkState::Spent), "{first:?}");
    let second = app
        .store
        .link(&"b".repeat(64), LinkPurpose::PasswordReset)
        .await
        .unwrap();
    assert!(matches!(second, LinkState::Valid(_)), "{second:?}");
    // A link of another purpose is no reset link.
    let other = app
        .store
        .link(&"b".repeat(64), LinkPurpose::EmailVerification)
        .await
        .unwrap();
    assert!(matches!(other, LinkState::Unknown), "{other:?}");

    // Through the API with a one-second lifetime: expired by the time it is opened.
    let id = user_with_email(&app, "nils", None).await;
    let r = ask(&app, &id, "password-reset", ADMIN_TOKEN, None).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let (_, _, text, _) = last_mail(&app).await;
    let path = link_in(&text).strip_prefix(&app.base).unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = page(&app, &path, None, None).await;
    assert_eq!(r.status, 410, "{}", r.text);
    assert!(r.text.contains("expired"), "{}", r.text);
    let name = UserName::parse("nils").unwrap();
    let u = app
        .store
        .find_user_by_name(&operator().user_admin().reader(), &name)
        .await
        .unwrap()
        .unwrap();
    assert!(!u.email_verified(), "an expired link proves nothing");
}

#[tokio::test]
async fn without_smtp_mail_is_written_to_files_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail");
    let app = TestApp::spawn_mail(settings(dir.path()), true).await;
    let id = user_with_email(&app, "fred", None).await;
    assert_eq!(
        ask(&app, &id, "password-reset", ADMIN_TOKEN, None)
            .await
            .status,
        202
    );
    let mut files = Vec::new();
    for _ in 0..100 {
        files = std::fs::read_dir(&maildir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        if !files.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(files.len(), 1, "one .eml in {}", maildir.display());
    let eml = std::fs::read_to_string(&files[0]).unwrap();
    assert!(eml.contains("To: fred@example.com"), "{eml}");
    assert!(eml.contains("multipart/alternative"), "{eml}");
    assert!(eml.contains("Message-ID: <"), "{eml}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the link is for the owner only: {mode:o}");
    }
    // Sent: recorded, and the sealed body is gone from the database.
    let mut sent = Vec::new();
    for _ in 0..100 {
        sent = app
            .store
            .list_mail(&operator(), Some("sent"), 10)
            .await
            .unwrap();
        if !sent.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body_sealed, "");
    assert_eq!(sent[0].attempts, 1);
    drop(dir);
}

#[tokio::test]
async fn a_claimed_mail_is_nobody_elses_until_its_lease_runs_out() {
    let app = app().await;
    let id = user_with_email(&app, "lena", None).await;
    assert_eq!(
        ask(&app, &id, "password-reset", ADMIN_TOKEN, None)
            .await
            .status,
        202
    );
    let now = roster_core::now_micros();
    // A node claims it and dies mid-send: the mail stays claimed for its lease only.
    let dead = app
        .store
        .claim_mail("dead-node", now, now + 300_000, 10)
        .await
        .unwrap();
    assert_eq!((dead.len(), dead[0].attempts), (1, 1));
    let now = roster_core::now_micros();
    assert!(app
        .store
        .claim_mail("live-node", now, now + 60_000_000, 10)
        .await
        .unwrap()
        .is_empty());
    tokio::time::sleep(Duration::from_millis(350)).await;
    let now = roster_core::now_micros();
    let live = app
        .store
        .claim_mail("live-node", now, now + 60_000_000, 10)
        .await
        .unwrap();
    assert_eq!(
        (live.len(), live[0].attempts),
        (1, 2),
        "retried after the lease"
    );
    // The dead node's late outcome is not recorded; the live node's is.
    assert!(!app
        .store
        .finish_mail(live[0].id, "dead-node", roster_store::MailOutcome::Sent)
        .await
        .unwrap());
    assert!(app
        .store
        .finish_mail(live[0].id, "live-node", roster_store::MailOutcome::Sent)
        .await
        .unwrap());
    assert_eq!(
        app.store
            .list_mail(&operator(), Some("sent"), 10)
            .await
            .unwrap()
            .len(),
        1
    );
}
