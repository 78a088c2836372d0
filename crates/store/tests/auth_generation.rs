//! The generation of the authentication data (migration 0023): every change that can alter
//! what an API token lets its caller do moves it, in the same transaction; the writes of
//! ordinary traffic (a profile edit, a new user, a membership, a token's last use) do not,
//! or every node's principal cache would be emptied all the time.

mod common;

use roster_core::group::{GroupChange, MemberOp};
use roster_core::policy::Operator;
use roster_core::{secret, NewGroup, NewMember, NewUser, Permission, UserName};
use roster_store::{Store, WriteCtx};

async fn generation(store: &dyn Store) -> i64 {
    store.auth_generation().await.unwrap()
}

/// Runs `step` and says whether the generation moved (it never goes back).
async fn moves<F: std::future::Future<Output = ()>>(store: &dyn Store, step: F) -> bool {
    let before = generation(store).await;
    step.await;
    let after = generation(store).await;
    assert!(
        after >= before,
        "the generation went back: {before} → {after}"
    );
    after != before
}

/// Edits user `id` as the operator.
async fn edit(store: &dyn Store, id: uuid::Uuid, f: impl Fn(&mut roster_core::User) + Send + Sync) {
    let f = move |u: &mut roster_core::User| {
        f(u);
        Ok(())
    };
    store
        .update_user(
            &common::admin().editor(),
            &WriteCtx::default(),
            id,
            None,
            &f,
        )
        .await
        .unwrap();
}

fn name(n: &str) -> UserName {
    UserName::parse(n).unwrap()
}

#[tokio::test]
async fn what_changes_a_principal_moves_the_generation_and_nothing_else_does() {
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = common::fresh_store(dir.path(), "auth_gen").await;
    let s = store.as_ref();
    let ctx = WriteCtx::default();
    let op = Operator::local("test");
    let tokens = op.token_admin();

    let mut ann = None;
    assert!(
        !moves(s, async {
            let u = s
                .create_user(&common::admin(), &ctx, &NewUser::new(name("ann")))
                .await
                .unwrap();
            ann = Some(u);
        })
        .await,
        "a new user moved it"
    );
    let ann = ann.unwrap();
    let token = secret::generate_token();
    assert!(
        !moves(s, async {
            s.create_token(&tokens, &ctx, &name("ann"), Some("ci"), &token, None)
                .await
                .unwrap();
        })
        .await,
        "a new token moved it"
    );

    // The principal is read with the generation of the same statement; its first use is
    // written down (last_used_at), which moves nothing.
    let mut seen = None;
    assert!(
        !moves(s, async {
            seen = s.principal_for_token(&token.hash).await.unwrap();
        })
        .await,
        "recording a token's last use moved it"
    );
    let grant = seen.expect("the new token is valid");
    assert_eq!(grant.principal.user_id, ann.id);
    assert_eq!(grant.generation, generation(s).await);

    assert!(
        !moves(s, async {
            edit(s, ann.id, |u| u.display_name = Some("Ann".into())).await;
        })
        .await,
        "a profile edit moved it"
    );
    let g = s
        .create_group(
            &op.group_manager().creator(),
            &ctx,
            &NewGroup {
                display_name: "ops".into(),
                external_id: None,
                members: vec![],
            },
        )
        .await
        .unwrap();
    assert!(
        !moves(s, async {
            let change = GroupChange {
                display_name: None,
                external_id: None,
                members: vec![MemberOp::Add(vec![NewMember::new(ann.id, None)])],
            };
            s.modify_group(&op.group_manager().editor(g.id), &ctx, None, &change)
                .await
                .unwrap();
        })
        .await,
        "a membership moved it"
    );

    for (what, granted) in [("a grant", true), ("a grant taken back", false)] {
        assert!(
            moves(s, async {
                s.set_permission(
                    &common::admin(),
                    &ctx,
                    &name("ann"),
                    Permission::ManageGroups,
                    granted,
                )
                .await
                .unwrap();
            })
            .await,
            "{what} did not move it"
        );
    }
    assert!(
        moves(s, async {
            edit(s, ann.id, |u| {
                u.user_name = UserName::parse("ann.b").unwrap()
            })
            .await;
        })
        .await,
        "a rename did not move it"
    );
    assert!(
        moves(s, async {
            edit(s, ann.id, |u| u.active = false).await;
        })
        .await,
        "a deactivation did not move it"
    );
    assert!(s.principal_for_token(&token.hash).await.unwrap().is_none());
    assert!(
        moves(s, async {
            edit(s, ann.id, |u| u.active = true).await;
        })
        .await,
        "a reactivation did not move it"
    );
    // Deactivation revoked the token for good.
    assert!(s.principal_for_token(&token.hash).await.unwrap().is_none());
    let token = secret::generate_token();
    s.create_token(&tokens, &ctx, &name("ann.b"), Some("ci"), &token, None)
        .await
        .unwrap();
    assert!(s.principal_for_token(&token.hash).await.unwrap().is_some());
    assert!(
        moves(s, async {
            let n = s
                .revoke_tokens(&tokens, &ctx, &name("ann.b"), Some("ci"))
                .await
                .unwrap();
            assert_eq!(n, 1);
        })
        .await,
        "a revocation did not move it"
    );
    assert!(s.principal_for_token(&token.hash).await.unwrap().is_none());

    let second = secret::generate_token();
    s.create_token(&tokens, &ctx, &name("ann.b"), None, &second, None)
        .await
        .unwrap();
    assert!(s.principal_for_token(&second.hash).await.unwrap().is_some());
    assert!(
        moves(s, async {
            s.delete_user(&common::admin(), &ctx, ann.id, None)
                .await
                .unwrap();
        })
        .await,
        "deleting the user did not move it"
    );
    assert!(s.principal_for_token(&second.hash).await.unwrap().is_none());
}

/// Runs one statement on the test database directly (as another client of it would).
async fn raw(url: &str, sql: &str) {
    use sqlx::Connection;
    if common::on_postgres() {
        let mut db = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut db).await.unwrap();
    } else {
        let mut db = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut db).await.unwrap();
    }
}

/// The triggers see every writer, not only Roster's own statements: what ends a JWT (the
/// user's tokens_after, the client gone) moves the generation; rotating a client's secret,
/// which leaves its access tokens valid, does not.
#[tokio::test]
async fn what_ends_an_access_token_moves_the_generation_whoever_writes_it() {
    let dir = tempfile::tempdir().unwrap();
    let (url, store) = common::fresh_store(dir.path(), "auth_gen_raw").await;
    let s = store.as_ref();
    let u = s
        .create_user(
            &common::admin(),
            &WriteCtx::default(),
            &NewUser::new(name("cli")),
        )
        .await
        .unwrap();
    raw(
        &url,
        &format!(
            "INSERT INTO oauth_clients (user_seq, client_id, secret_hash, secret_sealed, created_at, rotated_at) \
             VALUES ({}, 'c-1', 'h', 's', 1, 1)",
            u.seq
        ),
    )
    .await;
    let grant = s
        .principal_for_client(u.id, "c-1", roster_core::now_micros() / 1_000_000)
        .await
        .unwrap()
        .expect("the client's owner");
    assert_eq!(grant.generation, generation(s).await);
    for (sql, moved) in [
        (
            "UPDATE oauth_clients SET secret_hash = 'h2', rotated_at = 2",
            false,
        ),
        ("UPDATE users SET modified_at = modified_at + 1", false),
        ("UPDATE users SET tokens_after = 5", true),
        ("UPDATE users SET tokens_after = 5", false),
        ("DELETE FROM oauth_clients", true),
    ] {
        assert_eq!(moves(s, raw(&url, sql)).await, moved, "{sql}");
    }
}
