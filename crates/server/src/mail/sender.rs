//! The outbox sender: one task per node claims due mails with a lease, delivers them
//! (SMTP, or `.eml` files without a mail server) and records each outcome. A 4xx answer or
//! an unreachable server is retried with growing waits (from ROSTER_MAIL_RETRY_SECS, at most
//! [`MAX_RETRY`] apart) for [`GIVE_UP_AFTER`]; a 5xx answer fails the mail at once, with the
//! server's reason.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::{MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use roster_core::sealed::ServerKey;
use roster_store::{MailOutcome, MailRow, Store};

use super::{Body, Mail, Transport};

/// The longest wait between two attempts.
pub const MAX_RETRY: Duration = Duration::from_secs(300);
/// Transient failures are retried this long after the mail was queued.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);
/// How long a claim holds a mail: longer than one delivery may take ([`SMTP_TIMEOUT`]).
const LEASE: Duration = Duration::from_secs(120);
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Mails claimed at once (delivered concurrently, each within [`SMTP_TIMEOUT`]).
const BATCH: i64 = 10;
/// How often an idle sender looks for mail another node queued (or that came due).
const POLL: Duration = Duration::from_secs(5);

/// How a delivery went, before it is recorded.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    Transient(String),
    Permanent(String),
}

/// The wait before attempt `attempts + 1`, after `attempts` failed ones.
pub fn backoff(base: Duration, attempts: i64) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    base.saturating_mul(2u32.saturating_pow(doublings))
        .min(MAX_RETRY.max(base))
}

/// What a failed attempt leads to: another try later, or giving up.
pub fn next_step(
    base: Duration,
    row: &MailRow,
    now: i64,
    delivery: &Delivery,
) -> (Option<i64>, String) {
    match delivery {
        Delivery::Sent => (None, String::new()),
        Delivery::Permanent(e) => (None, e.clone()),
        Delivery::Transient(e) => {
            let age = Duration::from_micros(u64::try_from(now - row.created_at).unwrap_or(0));
            if age >= GIVE_UP_AFTER {
                (
                    None,
                    format!("gave up after 24 h of retries; last error: {e}"),
                )
            } else {
                let wait = i64::try_from(backoff(base, row.attempts).as_micros()).unwrap_or(0);
                (Some(now + wait), e.clone())
            }
        }
    }
}

/// Sends over SMTP, or writes files.
pub enum Outlet {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Dir(std::path::PathBuf),
}

impl Outlet {
    /// The transport of these settings; a malformed SMTP URL is refused here, at start.
    pub fn new(transport: &Transport) -> anyhow::Result<Self> {
        Ok(match transport {
            Transport::Smtp(url) => Outlet::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "ROSTER_SMTP_URL {} is not usable: {e}",
                            roster_store::redact(url)
                        )
                    })?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build(),
            ),
            Transport::Dir(dir) => Outlet::Dir(dir.clone()),
        })
    }

    async fn deliver(&self, message: Message, message_id: &str) -> Delivery {
        match self {
            Outlet::Smtp(smtp) => match smtp.send(message).await {
                Ok(_) => Delivery::Sent,
                Err(e) if e.is_permanent() => Delivery::Permanent(e.to_string()),
                Err(e) => Delivery::Transient(e.to_string()),
            },
            Outlet::Dir(dir) => match write_eml(dir, message_id, &message.formatted()).await {
                Ok(path) => {
                    tracing::info!(file = %path.display(), "mail written (no ROSTER_SMTP_URL)");
                    Delivery::Sent
                }
                Err(e) => Delivery::Transient(format!("cannot write into {}: {e}", dir.display())),
            },
        }
    }
}

/// Writes `<dir>/<message id>.eml` whole (a temporary file renamed), 0600: it holds a link.
async fn write_eml(
    dir: &std::path::Path,
    message_id: &str,
    bytes: &[u8],
) -> std::io::Result<std::path::PathBuf> {
    let name: String = message_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!("{name}.eml"));
    let tmp = dir.join(format!(".{name}.tmp"));
    let dir = dir.to_owned();
    let bytes = bytes.to_vec();
    let (p, t) = (path.clone(), tmp.clone());
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        std::fs::create_dir_all(&dir)?;
        let mut f = std::fs::OpenOptions::new();
        f.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut f, 0o600);
        let mut file = f.open(&t)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&t, &p)
    })
    .await
    .map_err(std::io::Error::other)??;
    Ok(path)
}

/// The message of an outbox row; `Err` when it cannot be built (a permanent failure).
pub fn message(mail: &Mail, key: &ServerKey, row: &MailRow) -> Result<Message, String> {
    let plain = key
        .open(
            &roster_store::mail_record(&row.message_id),
            &row.body_sealed,
        )
        .map_err(|e| format!("cannot open the sealed body: {e}"))?;
    let body: Body =
        serde_json::from_slice(&plain).map_err(|e| format!("the sealed body is damaged: {e}"))?;
    let to = row
        .recipient
        .parse::<lettre::message::Mailbox>()
        .map_err(|e| format!("recipient {:?} is not an address: {e}", row.recipient))?;
    Message::builder()
        .from(mail.settings.from.clone())
        .to(to)
        .subject(row.subject.clone())
        .message_id(Some(format!("<{}>", row.message_id)))
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::plain(body.text))
                .singlepart(SinglePart::html(body.html)),
        )
        .map_err(|e| format!("cannot build the message: {e}"))
}

/// Delivers one claimed mail and records the outcome.
async fn send_one(
    store: &dyn Store,
    mail: &Mail,
    outlet: &Outlet,
    key: &ServerKey,
    owner: &str,
    row: MailRow,
) {
    let delivery = match message(mail, key, &row) {
        Ok(m) => outlet.deliver(m, &row.message_id).await,
        Err(e) => Delivery::Permanent(e),
    };
    let now = roster_core::now_micros();
    let (retry_at, error) = next_step(mail.settings.retry_base, &row, now, &delivery);
    let outcome = match (&delivery, retry_at) {
        (Delivery::Sent, _) => MailOutcome::Sent,
        (_, Some(at)) => MailOutcome::Retry { at, error: &error },
        (_, None) => MailOutcome::Failed { error: &error },
    };
    crate::http::metrics::mail_delivery(match &outcome {
        MailOutcome::Sent => "sent",
        MailOutcome::Retry { .. } => "retry",
        MailOutcome::Failed { .. } => "failed",
    });
    match &outcome {
        MailOutcome::Sent => {
            tracing::info!(mail_id = row.id, message_id = %row.message_id, attempts = row.attempts, "mail sent")
        }
        MailOutcome::Retry { at, error } => tracing::warn!(
            mail_id = row.id,
            attempts = row.attempts,
            retry_in_s = (at - now) / 1_000_000,
            error,
            "mail not delivered; will retry"
        ),
        MailOutcome::Failed { error } => {
            tracing::error!(
                mail_id = row.id,
                attempts = row.attempts,
                error,
                "mail failed"
            )
        }
    }
    match store.finish_mail(row.id, owner, outcome).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(
                mail_id = row.id,
                "the mail's lease ran out before its outcome was recorded"
            )
        }
        Err(e) => {
            tracing::error!(mail_id = row.id, error = %roster_store::error_chain(&e), "cannot record a mail's outcome")
        }
    }
}

/// Runs the sender of this node until the process ends.
pub fn spawn(store: Arc<dyn Store>, mail: Arc<Mail>, outlet: Outlet, key: ServerKey) {
    let outlet = Arc::new(outlet);
    let key = Arc::new(key);
    let owner = format!("{}:{}", std::process::id(), uuid::Uuid::new_v4());
    tokio::spawn(async move {
        loop {
            let now = roster_core::now_micros();
            let lease = i64::try_from(LEASE.as_micros()).unwrap_or(i64::MAX);
            let claimed = match store.claim_mail(&owner, now, now + lease, BATCH).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %roster_store::error_chain(&e), "cannot claim mail from the outbox");
                    Vec::new()
                }
            };
            let full = claimed.len() as i64 == BATCH;
            let mut sends = tokio::task::JoinSet::new();
            for row in claimed {
                let (store, mail, outlet, key, owner) = (
                    store.clone(),
                    mail.clone(),
                    outlet.clone(),
                    key.clone(),
                    owner.clone(),
                );
                sends.spawn(async move {
                    send_one(store.as_ref(), &mail, &outlet, &key, &owner, row).await;
                });
            }
            while sends.join_next().await.is_some() {}
            if full {
                continue;
            }
            let wait = match store.next_mail_due().await {
                Ok(Some(due)) => Duration::from_micros(
                    u64::try_from(due - roster_core::now_micros()).unwrap_or(0),
                )
                .min(POLL),
                _ => POLL,
            };
            tokio::select! {
                () = mail.queued.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_five_minutes() {
        let base = Duration::from_secs(15);
        let waits: Vec<u64> = (1..=7).map(|n| backoff(base, n).as_secs()).collect();
        assert_eq!(waits, [15, 30, 60, 120, 240, 300, 300]);
        assert_eq!(backoff(base, 1000).as_secs(), 300);
    }

    fn row(created_at: i64, attempts: i64) -> MailRow {
        MailRow {
            id: 1,
            message_id: "m@x".into(),
            kind: "password-reset".into(),
            recipient: "a@example.com".into(),
            subject: "s".into(),
            body_sealed: String::new(),
            status: "queued".into(),
            attempts,
            next_attempt_at: 0,
            last_error: None,
            created_at,
            sent_at: None,
        }
    }

    #[test]
    fn transient_failures_retry_for_a_day_permanent_ones_fail_at_once() {
        let base = Duration::from_secs(15);
        let now = 100_000_000_000;
        let (at, _) = next_step(base, &row(now, 1), now, &Delivery::Transient("421".into()));
        assert_eq!(at, Some(now + 15_000_000));
        let day = 24 * 3600 * 1_000_000;
        let (at, why) = next_step(
            base,
            &row(now - day, 300),
            now,
            &Delivery::Transient("421 busy".into()),
        );
        assert_eq!(at, None);
        assert!(why.contains("gave up") && why.contains("421 busy"), "{why}");
        let (at, why) = next_step(
            base,
            &row(now, 1),
            now,
            &Delivery::Permanent("550 no".into()),
        );
        assert_eq!((at, why.as_str()), (None, "550 no"));
    }
}
