//! The operator's commands (`roster token ...`, `roster user ...`): they act on the database
//! directly, as the [`Operator`], and work while servers run on it.

use std::time::Duration;

use anyhow::Context;
use roster_core::policy::Operator;
use roster_core::{format_micros, secret, Permission, UserName};
use roster_store::{Store, WriteCtx};

use crate::cli::{TokenCommand, UserCommand};

pub async fn token(store: &dyn Store, cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Issue {
            user,
            name,
            expires_in,
        } => {
            let token = secret::generate_token();
            let expires_at = expires_in.map(|d: Duration| {
                roster_core::now_micros()
                    .saturating_add(i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
            });
            store
                .create_token(
                    &Operator::local("cli:token-issue").token_admin(),
                    &WriteCtx::default(),
                    &UserName::parse(&user)?,
                    name.as_deref(),
                    &token,
                    expires_at,
                )
                .await
                .with_context(|| format!("cannot issue a token for {user:?}"))?;
            println!("{}", token.secret);
            eprintln!("issued {} to {user}", token.public_id);
        }
        TokenCommand::List { user } => {
            let tokens = store
                .list_tokens(
                    &Operator::local("cli:token-list").token_admin(),
                    &UserName::parse(&user)?,
                )
                .await
                .with_context(|| format!("cannot list the tokens of {user:?}"))?;
            let when = |t: Option<i64>| t.map_or_else(|| "-".to_owned(), format_micros);
            println!("NAME\tID\tCREATED\tLAST USED\tEXPIRES\tREVOKED");
            for t in tokens {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    t.name.as_deref().unwrap_or("-"),
                    t.public_id,
                    format_micros(t.created_at),
                    when(t.last_used_at),
                    when(t.expires_at),
                    when(t.revoked_at)
                );
            }
        }
        TokenCommand::Revoke { user, name } => {
            let n = store
                .revoke_tokens(
                    &Operator::local("cli:token-revoke").token_admin(),
                    &WriteCtx::default(),
                    &UserName::parse(&user)?,
                    name.as_deref(),
                )
                .await
                .with_context(|| format!("cannot revoke the tokens of {user:?}"))?;
            if n == 0 && name.is_some() {
                anyhow::bail!(
                    "{user} has no live token named {:?}",
                    name.unwrap_or_default()
                );
            }
            eprintln!("revoked {n} token(s) of {user}");
        }
    }
    Ok(())
}

pub async fn user(store: &dyn Store, cmd: UserCommand) -> anyhow::Result<()> {
    let (username, permission, granted) = match cmd {
        UserCommand::Grant {
            username,
            permission,
        } => (username, permission, true),
        UserCommand::Revoke {
            username,
            permission,
        } => (username, permission, false),
    };
    let p: Permission = permission.parse().map_err(anyhow::Error::msg)?;
    store
        .set_permission(
            &Operator::local("cli:user-permission").user_admin(),
            &WriteCtx::default(),
            &UserName::parse(&username)?,
            p,
            granted,
        )
        .await
        .with_context(|| format!("cannot change the permissions of {username:?}"))?;
    eprintln!(
        "{} {p} {} {username}",
        if granted { "granted" } else { "revoked" },
        if granted { "to" } else { "from" }
    );
    Ok(())
}
