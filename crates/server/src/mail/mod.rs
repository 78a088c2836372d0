//! Mail: password-reset and verification links, written to the outbox in the transaction
//! that stores their token ([`Mail::send_link`]), and the sender that delivers the outbox
//! over SMTP or, without a mail server, into `.eml` files ([`sender`]). Shared by every
//! dialect that sends such mail; the pages the links open are the `account` dialect's.

pub mod sender;
pub mod texts;

use std::sync::Arc;
use std::time::Duration;

use minijinja::Environment;
use roster_core::policy::AccountMailer;
use roster_core::sealed::ServerKey;
use roster_core::{secret, CoreError, User};
use roster_store::{LinkIssued, LinkPurpose, NewLink, NewMail, WriteCtx};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::AppState;
use crate::http::ApiError;
use texts::Lang;

/// Where mail goes.
#[derive(Debug, Clone)]
pub enum Transport {
    /// `smtp://`, `smtps://` (with `?tls=required` for STARTTLS): ROSTER_SMTP_URL.
    Smtp(String),
    /// One `.eml` file per mail in this directory (no ROSTER_SMTP_URL).
    Dir(std::path::PathBuf),
}

/// How mail is written and sent.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub transport: Transport,
    /// ROSTER_MAIL_FROM.
    pub from: lettre::message::Mailbox,
    /// Origins (`https://app.example.com`) a link may send the user on to once used.
    pub redirect_allowlist: Vec<String>,
    pub reset_ttl: Duration,
    pub verify_ttl: Duration,
    /// Wait before the first retry; it doubles per attempt up to [`sender::MAX_RETRY`].
    pub retry_base: Duration,
}

impl MailSettings {
    /// Mail into `dir` as files, the default lifetimes, no redirects.
    pub fn files(dir: std::path::PathBuf) -> Self {
        Self {
            transport: Transport::Dir(dir),
            from: default_from(),
            redirect_allowlist: Vec::new(),
            reset_ttl: Duration::from_secs(3600),
            verify_ttl: Duration::from_secs(86_400),
            retry_base: Duration::from_secs(15),
        }
    }
}

pub fn default_from() -> lettre::message::Mailbox {
    lettre::message::Mailbox::new(
        Some("Roster".into()),
        lettre::Address::new("roster", "localhost").unwrap_or_else(|_| unreachable_address()),
    )
}

#[expect(
    clippy::panic,
    reason = "a constant address that parses; covered by a test"
)]
fn unreachable_address() -> lettre::Address {
    panic!("roster@localhost is a valid address")
}

/// The origin (`scheme://host[:port]`) of an absolute http(s) URL, lower-cased.
pub fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') || authority.contains('\\') {
        return None;
    }
    Some(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

/// The body of a mail as sealed in the outbox.
#[derive(Serialize, Deserialize)]
pub struct Body {
    pub text: String,
    pub html: String,
}

/// The mail service every dialect reaches through [`AppState::mail`].
pub struct Mail {
    pub settings: MailSettings,
    templates: Environment<'static>,
    /// Wakes this node's sender when a mail was queued here.
    pub queued: tokio::sync::Notify,
    /// The host of ROSTER_PUBLIC_URL, for Message-IDs.
    host: String,
}

impl Mail {
    pub fn new(settings: MailSettings, public_url: &str) -> Arc<Self> {
        let mut env = Environment::new();
        // Compiled into the binary; a syntax error fails the test that renders them.
        for (name, source) in [
            (
                "mail/link.txt",
                include_str!("../../templates/mail/link.txt"),
            ),
            (
                "mail/link.html",
                include_str!("../../templates/mail/link.html"),
            ),
            (
                "account/page.html",
                include_str!("../../templates/account/page.html"),
            ),
        ] {
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "a built-in template does not parse");
            }
        }
        let host = origin(public_url)
            .and_then(|o| o.split_once("://").map(|(_, h)| h.to_owned()))
            .map(|h| h.split(':').next().unwrap_or("localhost").to_owned())
            .unwrap_or_else(|| "localhost".into());
        Arc::new(Self {
            settings,
            templates: env,
            queued: tokio::sync::Notify::new(),
            host,
        })
    }

    pub fn render(&self, name: &str, ctx: minijinja::Value) -> Result<String, CoreError> {
        self.templates
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| CoreError::Internal(format!("template {name}: {e}")))
    }

    /// Whether a link may send the user on to `url` (its origin is allowed).
    pub fn redirect_allowed(&self, url: &str) -> bool {
        origin(url).is_some_and(|o| self.settings.redirect_allowlist.contains(&o))
    }

    fn ttl(&self, purpose: LinkPurpose) -> Duration {
        match purpose {
            LinkPurpose::PasswordReset => self.settings.reset_ttl,
            LinkPurpose::EmailVerification => self.settings.verify_ttl,
        }
    }

    /// Queues a link for user `id` to their own address, in their language. The API call
    /// answers at once; the sender delivers. `redirect` must be allowed (else 400, nothing
    /// stored); a second link of a purpose within a minute is 429.
    pub async fn send_link(
        &self,
        state: &AppState,
        by: &AccountMailer,
        ctx: &WriteCtx,
        id: Uuid,
        purpose: LinkPurpose,
        redirect: Option<&str>,
    ) -> Result<(), ApiError> {
        let redirect = redirect.map(str::trim).filter(|r| !r.is_empty());
        if let Some(r) = redirect {
            if r.len() > 2048 || !self.redirect_allowed(r) {
                return Err(ApiError::invalid_value(format!(
                    "redirectUrl must be an http(s) URL on an origin in ROSTER_REDIRECT_ALLOWLIST \
                     (allowed: {})",
                    if self.settings.redirect_allowlist.is_empty() {
                        "none".to_owned()
                    } else {
                        self.settings.redirect_allowlist.join(", ")
                    }
                )));
            }
        }
        let token = secret::random_secret("");
        let hash = secret::hash_token(&token);
        let now = roster_core::now_micros();
        let ttl = i64::try_from(self.ttl(purpose).as_micros()).unwrap_or(i64::MAX);
        let expires_at = now.saturating_add(ttl);
        let page = match purpose {
            LinkPurpose::PasswordReset => "reset-password",
            LinkPurpose::EmailVerification => "verify-email",
        };
        // Built on ROSTER_PUBLIC_URL, never on the request's Host header.
        let link = format!("{}/account/{page}?token={token}", state.public_url);
        let until = chrono::DateTime::from_timestamp_micros(expires_at)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default();
        let key = state.tokens.server_key();
        let write = |user: &User| -> Result<NewMail, CoreError> {
            self.compose(key, user, purpose, &link, &until)
        };
        let issued = state
            .store
            .issue_link(
                by,
                ctx,
                id,
                &NewLink {
                    purpose,
                    hash: &hash,
                    expires_at,
                    redirect_url: redirect,
                    min_interval_micros: roster_store::LINK_INTERVAL_MICROS,
                },
                &write,
            )
            .await?;
        match issued {
            LinkIssued::Queued { mail_id } => {
                tracing::info!(mail_id, kind = purpose.as_str(), user = %id, "mail queued");
                self.queued.notify_one();
                Ok(())
            }
            LinkIssued::TooSoon { retry_after_secs } => Err(ApiError::too_many_requests(
                format!(
                    "a {} mail was sent to this user less than a minute ago; retry in {retry_after_secs} s",
                    purpose.as_str()
                ),
                retry_after_secs,
                format!("\"{}\";q=1;w=60", purpose.as_str()),
                format!("\"{}\";r=0;t={retry_after_secs}", purpose.as_str()),
            )),
        }
    }

    /// The mail of a link for `user`, its body sealed.
    fn compose(
        &self,
        key: &ServerKey,
        user: &User,
        purpose: LinkPurpose,
        link: &str,
        until: &str,
    ) -> Result<NewMail, CoreError> {
        let email = user.mail_address().ok_or_else(|| {
            CoreError::invalid_value("the user has no email address to send the link to")
        })?;
        let lang = Lang::of_user(user);
        let t = texts::mail(lang, purpose, user, email, until);
        let ctx = minijinja::context! { t => &t, link => link, lang => lang.code() };
        let body = Body {
            text: self.render("mail/link.txt", ctx.clone())?,
            html: self.render("mail/link.html", ctx)?,
        };
        let message_id = format!("{}@{}", Uuid::new_v4(), self.host);
        let plain = serde_json::to_vec(&body).map_err(|e| CoreError::Internal(e.to_string()))?;
        Ok(NewMail {
            body_sealed: key.seal(&roster_store::mail_record(&message_id), &plain),
            message_id,
            recipient: email.to_owned(),
            subject: t.subject.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(
            origin("https://App.example.com/x?y#z").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            origin("http://127.0.0.1:9000").as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(origin("javascript:alert(1)"), None);
        assert_eq!(origin("//evil.example/"), None);
        assert_eq!(origin("https://good.example@evil.example/"), None);
        assert_eq!(origin("ftp://x.example"), None);
        let _ = default_from();
    }

    #[test]
    fn the_templates_render_and_escape() {
        let mail = Mail::new(MailSettings::files("/nonexistent".into()), "http://x");
        let out = mail
            .render(
                "mail/link.html",
                minijinja::context! { t => minijinja::context!{ greeting => "<b>" }, link => "http://x/?a=1&b=2", lang => "en" },
            )
            .unwrap();
        assert!(out.contains("&lt;b&gt;"), "{out}");
        assert!(out.contains("a=1&amp;b=2"), "{out}");
        let text = mail
            .render(
                "mail/link.txt",
                minijinja::context! { t => minijinja::context!{ greeting => "<b>" }, link => "http://x/?a=1&b=2", lang => "en" },
            )
            .unwrap();
        assert!(text.contains("<b>") && text.contains("a=1&b=2"), "{text}");
    }
}
