//! First-start bootstrap of the initial admin.

use anyhow::bail;
use roster_core::policy::Operator;
use roster_core::{secret, NewUser, UserName};
use roster_store::{Bootstrap, Store, StoreError, WriteCtx};

use crate::cli::ServeArgs;

/// The bootstrap the settings ask for, checked (and the password hashed) before anything
/// is written: `None` without the three settings.
pub fn prepare(args: &ServeArgs) -> anyhow::Result<Option<Bootstrap>> {
    match (&args.bootstrap_admin, &args.bootstrap_password, &args.bootstrap_token) {
        (Some(admin), Some(password), Some(token)) => {
            if token.chars().count() < secret::MIN_TOKEN_LEN {
                bail!(
                    "ROSTER_BOOTSTRAP_TOKEN must have at least {} characters (e.g. `openssl rand -hex 32`)",
                    secret::MIN_TOKEN_LEN
                );
            }
            args.password_policy()
                .check(password, admin, &[])
                .map_err(|e| anyhow::anyhow!("ROSTER_BOOTSTRAP_PASSWORD: {e}"))?;
            let hash = secret::hash_password(password)?;
            let mut user = NewUser::new(UserName::parse(admin)?);
            user.display_name = Some(admin.clone());
            user.password_hash = Some(hash);
            Ok(Some(Bootstrap {
                admin: user,
                token: secret::from_secret(token.clone()),
            }))
        }
        (None, None, None) => Ok(None),
        _ => bail!("ROSTER_BOOTSTRAP_ADMIN, ROSTER_BOOTSTRAP_PASSWORD and ROSTER_BOOTSTRAP_TOKEN must be set together"),
    }
}

/// Creates the first admin on an empty database when the settings asked for one
/// ([`prepare`]); true when the database is empty and they did not (the console's first-run
/// setup is then offered).
pub async fn run(store: &dyn Store, prepared: Option<Bootstrap>) -> anyhow::Result<bool> {
    match prepared {
        Some(b) => {
            let admin = b.admin.user_name.as_str().to_owned();
            let operator = Operator::local("bootstrap");
            match store.bootstrap(&operator, &WriteCtx::default(), &b).await {
                Ok(true) => tracing::info!(
                    admin = %admin,
                    "bootstrap: created the first admin with every permission and the given API token"
                ),
                // A node that started at the same moment won the race: same outcome.
                Ok(false) | Err(StoreError::Conflict(_)) => tracing::info!(
                    "bootstrap: the database already has users; ROSTER_BOOTSTRAP_* are ignored"
                ),
                Err(e) => return Err(e.into()),
            }
        }
        None => {
            let reader = Operator::local("bootstrap").user_admin().reader();
            let empty = store
                .list_users(&reader, &Default::default())
                .await?
                .items
                .is_empty();
            return Ok(empty);
        }
    }
    Ok(false)
}

/// The first administrator the console's first-run setup asks for: created only on an empty
/// directory (false otherwise), with every permission and the given token.
pub async fn first_admin(store: &dyn Store, ctx: &WriteCtx, b: &Bootstrap) -> anyhow::Result<bool> {
    match store
        .bootstrap(&Operator::local("console:setup"), ctx, b)
        .await
    {
        Ok(created) => Ok(created),
        Err(StoreError::Conflict(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
