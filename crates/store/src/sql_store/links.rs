//! [`LinkStore`]: password-reset and verification links, each stored with its mail in one
//! transaction.

use async_trait::async_trait;
use roster_core::policy::{AccountMailer, Actor};
use roster_core::user::fold;
use roster_core::Entity;
use uuid::Uuid;

use super::{outbox, users, SqlStore};
use crate::args;
use crate::audit::Action;
use crate::db::{Backend, Exec};
use crate::{
    LinkInfo, LinkIssued, LinkPurpose, LinkState, LinkStore, MailFor, NewLink, Redeem, Result,
    StoreError, WriteCtx,
};

/// Links expired this long ago are deleted when the user gets a new one.
const FORGET_AFTER_MICROS: i64 = 86_400_000_000;

/// The link with this hash and purpose, as of `now`.
async fn state(
    ex: &mut dyn Exec,
    hash: &str,
    purpose: LinkPurpose,
    now: i64,
    lock: &str,
) -> Result<LinkState> {
    let Some(row) = ex
        .fetch_optional(
            &format!(
                "SELECT user_seq, email, redirect_url, expires_at, used_at FROM one_time_tokens \
                 WHERE token_hash = ? AND purpose = ?{lock}"
            ),
            &args![hash, purpose.as_str()],
        )
        .await?
    else {
        return Ok(LinkState::Unknown);
    };
    if row.opt_int("used_at")?.is_some() {
        return Ok(LinkState::Spent);
    }
    let expires_at = row.int("expires_at")?;
    if expires_at <= now {
        return Ok(LinkState::Expired);
    }
    let seq = row.int("user_seq")?;
    let Some(user) = users::load(ex, "u.seq = ?", seq.into(), "").await? else {
        return Ok(LinkState::Unknown);
    };
    Ok(LinkState::Valid(LinkInfo {
        user,
        purpose,
        email: row.text("email")?,
        redirect_url: row.opt_text("redirect_url")?,
        expires_at,
    }))
}

#[async_trait]
impl<B: Backend> LinkStore for SqlStore<B> {
    async fn issue_link(
        &self,
        by: &AccountMailer,
        ctx: &WriteCtx,
        id: Uuid,
        link: &NewLink<'_>,
        mail: MailFor<'_>,
    ) -> Result<LinkIssued> {
        if !by.may_mail(id) {
            return Err(StoreError::NotFound(Entity::User(id)));
        }
        let lock = self.db.dialect().lock_for_update;
        let mut w = self.write(by.actor(), ctx).await?;
        // The lock makes two requests for one user take turns, so the interval holds.
        let user = users::load(w.ex(), "u.id = ?", id.to_string().into(), lock)
            .await?
            .ok_or(StoreError::NotFound(Entity::User(id)))?;
        let now = roster_core::now_micros();
        let last = w
            .ex()
            .fetch_one(
                "SELECT MAX(created_at) AS last FROM one_time_tokens \
                 WHERE user_seq = ? AND purpose = ?",
                &args![user.seq, link.purpose.as_str()],
            )
            .await?
            .opt_int("last")?;
        let interval = link.min_interval_micros;
        if let Some(last) = last.filter(|l| now - l < interval) {
            let wait = (last + interval - now).max(0);
            return Ok(LinkIssued::TooSoon {
                retry_after_secs: u64::try_from((wait + 999_999) / 1_000_000).unwrap_or(60),
            });
        }
        let new = mail(&user)?;
        // A new link of a purpose ends the earlier ones (they read as spent: "a newer one
        // was sent"); links expired a day ago are forgotten.
        w.ex()
            .execute(
                "UPDATE one_time_tokens SET used_at = ? \
                 WHERE user_seq = ? AND purpose = ? AND used_at IS NULL",
                &args![now, user.seq, link.purpose.as_str()],
            )
            .await?;
        w.ex()
            .execute(
                "DELETE FROM one_time_tokens WHERE user_seq = ? AND purpose = ? AND expires_at < ?",
                &args![user.seq, link.purpose.as_str(), now - FORGET_AFTER_MICROS],
            )
            .await?;
        w.ex()
            .execute(
                "INSERT INTO one_time_tokens (token_hash, user_seq, purpose, email, redirect_url, \
                 created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                &args![
                    link.hash,
                    user.seq,
                    link.purpose.as_str(),
                    new.recipient.as_str(),
                    link.redirect_url,
                    now,
                    link.expires_at
                ],
            )
            .await?;
        let mail_id =
            outbox::insert(w.ex(), link.purpose.as_str(), Some(user.seq), &new, now).await?;
        w.commit(
            Action::LinkIssue,
            &format!("{id} {}", link.purpose.as_str()),
        )
        .await?;
        Ok(LinkIssued::Queued { mail_id })
    }

    async fn link(&self, hash: &str, purpose: LinkPurpose) -> Result<LinkState> {
        let mut r = self.db.reader().await?;
        state(&mut *r, hash, purpose, roster_core::now_micros(), "").await
    }

    async fn redeem_link(
        &self,
        ctx: &WriteCtx,
        hash: &str,
        purpose: LinkPurpose,
        redeem: Redeem<'_>,
    ) -> Result<LinkState> {
        let lock = self.db.dialect().lock_for_update;
        let now = roster_core::now_micros();
        // Peek first: the write is attributed to the link's owner, whom only the link names.
        let owner = match self.link(hash, purpose).await? {
            LinkState::Valid(info) => info.user.id,
            other => return Ok(other),
        };
        let mut w = self.write(&Actor::User(owner), ctx).await?;
        let info = match state(w.ex(), hash, purpose, now, lock).await? {
            LinkState::Valid(info) if info.user.id == owner => info,
            LinkState::Valid(_) => return Ok(LinkState::Unknown),
            other => return Ok(other),
        };
        let spent = w
            .ex()
            .execute(
                "UPDATE one_time_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL",
                &args![now, hash],
            )
            .await?;
        if spent != 1 {
            return Ok(LinkState::Spent);
        }
        let seq = info.user.seq;
        // The address proves itself only while it is still the user's.
        let address = fold(&info.email);
        let still_theirs = info.user.emails.iter().any(|e| fold(&e.value) == address);
        if still_theirs {
            w.ex()
                .execute(
                    "UPDATE users SET verified_email = ? WHERE seq = ?",
                    &args![address.as_str(), seq],
                )
                .await?;
        }
        let id = info.user.id.to_string();
        match redeem {
            Redeem::VerifyEmail => {
                w.commit(Action::EmailVerify, &id).await?;
            }
            Redeem::SetPassword { hash: phc } => {
                // Tokens issued from the next whole second on stay valid (JWTs carry
                // seconds), so a sign-in right after the reset works.
                let tokens_after = now - now.rem_euclid(1_000_000);
                w.ex()
                    .execute(
                        "UPDATE users SET password_hash = ?, password_changed_at = ?, \
                         tokens_after = ?, version = version + 1, modified_at = ? WHERE seq = ?",
                        &args![phc, now, tokens_after, now, seq],
                    )
                    .await?;
                w.ex()
                    .execute(
                        "UPDATE refresh_tokens SET revoked_at = ? WHERE user_seq = ? AND revoked_at IS NULL",
                        &args![now, seq],
                    )
                    .await?;
                if still_theirs {
                    w.audit(Action::EmailVerify, &id).await?;
                }
                w.commit(Action::PasswordChange, &format!("{id} reset link"))
                    .await?;
            }
        }
        Ok(LinkState::Valid(info))
    }
}
