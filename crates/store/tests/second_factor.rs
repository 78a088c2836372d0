//! TOTP enrolments and console sessions on the test engine: a code's step is spent once, a
//! recovery code once, a pending enrolment changes nothing until confirmed, an enrolled
//! user's remembered Basic credential stops working, and a session cookie of one kind never
//! opens a session of the other.

mod common;

use roster_core::policy::Operator;
use roster_core::{NewUser, UserName};
use roster_store::{NewSession, SessionKey, SessionKind, WriteCtx};

async fn user(store: &dyn roster_store::Store, name: &str) -> roster_core::User {
    let mut new = NewUser::new(UserName::parse(name).unwrap());
    new.password_hash = Some("$argon2id$placeholder".into());
    store
        .create_user(&common::admin(), &WriteCtx::default(), &new)
        .await
        .unwrap()
}

#[tokio::test]
async fn totp_steps_and_recovery_codes_are_good_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = common::fresh_store(dir.path(), "totp").await;
    let u = user(store.as_ref(), "ana").await;
    let by = Operator::local("test").token_admin();
    let ctx = WriteCtx::default();

    // Basic's remembered credential works before the enrolment.
    assert!(store
        .principal_with_password(u.seq, 0)
        .await
        .unwrap()
        .is_some());
    store.begin_totp(&by, u.id, "sealed-1").await.unwrap();
    // Pending: nothing changes at sign-in, and no step can be spent.
    assert!(store
        .principal_with_password(u.seq, 0)
        .await
        .unwrap()
        .is_some());
    assert!(!store.use_totp_step(u.seq, 5).await.unwrap());
    // A restarted enrolment replaces the pending secret; the old one cannot confirm.
    store.begin_totp(&by, u.id, "sealed-2").await.unwrap();
    let hashes = vec!["h1".to_owned(), "h2".to_owned()];
    assert!(!store
        .confirm_totp(&by, &ctx, u.id, "sealed-1", 10, &hashes)
        .await
        .unwrap());
    assert!(store
        .confirm_totp(&by, &ctx, u.id, "sealed-2", 10, &hashes)
        .await
        .unwrap());
    let t = store.totp(u.seq).await.unwrap().unwrap();
    assert!(t.enrolled_at.is_some());
    assert_eq!((t.last_step, t.recovery_left), (10, 2));
    // Enrolled: a second enrolment is refused until a reset.
    assert!(store.begin_totp(&by, u.id, "sealed-3").await.is_err());
    // Basic cannot carry a code: the remembered credential is refused now.
    assert!(store
        .principal_with_password(u.seq, 0)
        .await
        .unwrap()
        .is_none());

    // The confirming step and older ones are spent; a newer one once.
    assert!(!store.use_totp_step(u.seq, 10).await.unwrap());
    assert!(!store.use_totp_step(u.seq, 9).await.unwrap());
    assert!(store.use_totp_step(u.seq, 11).await.unwrap());
    assert!(!store.use_totp_step(u.seq, 11).await.unwrap());

    assert!(store.use_recovery_code(u.seq, "h1").await.unwrap());
    assert!(!store.use_recovery_code(u.seq, "h1").await.unwrap());
    assert!(!store.use_recovery_code(u.seq, "nope").await.unwrap());
    assert_eq!(store.totp(u.seq).await.unwrap().unwrap().recovery_left, 1);

    // Another user's handle cannot touch it; a reset removes codes too, and is audited.
    let other = user(store.as_ref(), "bo").await;
    let own = roster_core::Principal {
        user_seq: other.seq,
        user_id: other.id,
        user_name: "bo".into(),
        permissions: Default::default(),
    };
    assert!(store
        .reset_totp(&own.self_service().token_admin(), &ctx, u.id)
        .await
        .is_err());
    assert!(store.reset_totp(&by, &ctx, u.id).await.unwrap());
    assert!(store.totp(u.seq).await.unwrap().is_none());
    assert!(!store.use_recovery_code(u.seq, "h2").await.unwrap());
    assert!(store
        .principal_with_password(u.seq, 0)
        .await
        .unwrap()
        .is_some());
    let rows = store
        .audit_rows(
            &Operator::local("test").audit_reader(),
            &roster_store::AuditQuery {
                target: Some(u.id.to_string()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    assert!(
        actions.contains(&"totp.enrol") && actions.contains(&"totp.reset"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn session_kinds_and_idle_time_outs() {
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = common::fresh_store(dir.path(), "sessions").await;
    let u = user(store.as_ref(), "cy").await;
    let now = roster_core::now_micros();
    let open = |id: &'static str, kind, idle_micros| NewSession {
        id_hash: id,
        key_hash: id,
        csrf_hash: "c",
        user_seq: u.seq,
        password_stamp: 0,
        expires_at: now + 3_600_000_000,
        kind,
        idle_micros,
    };
    store
        .create_session(&open("console-1", SessionKind::Console, 600_000_000))
        .await
        .unwrap();
    store
        .create_session(&open("api-1", SessionKind::Api, 0))
        .await
        .unwrap();
    // An idle time-out of 1 µs has passed by the time it is read.
    store
        .create_session(&open("console-idle", SessionKind::Console, 1))
        .await
        .unwrap();

    assert!(store
        .session(SessionKey::Console("console-1"))
        .await
        .unwrap()
        .is_some());
    assert!(store
        .session(SessionKey::Cookie("console-1"))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .session(SessionKey::Console("api-1"))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .session(SessionKey::Cookie("api-1"))
        .await
        .unwrap()
        .is_some());
    assert!(store
        .session(SessionKey::Console("console-idle"))
        .await
        .unwrap()
        .is_none());

    let listed = store.sessions_of(u.seq).await.unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    let console = listed.iter().find(|s| s.kind == "console").unwrap();
    assert_eq!(
        store
            .end_sessions_of(u.seq, Some(console.seq))
            .await
            .unwrap(),
        1
    );
    assert!(store
        .session(SessionKey::Console("console-1"))
        .await
        .unwrap()
        .is_none());
    // Everywhere: the rest, of both kinds.
    assert_eq!(store.end_sessions_of(u.seq, None).await.unwrap(), 2);
    assert!(store
        .session(SessionKey::Cookie("api-1"))
        .await
        .unwrap()
        .is_none());
}
