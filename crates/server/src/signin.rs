//! Password sign-ins whatever the dialect: HTTP Basic on every request (with a short memory
//! of verified credentials, so argon2id runs once rather than per request) and sessions
//! opened by a login (cookies and a login key, stored so every node sees them).
//!
//! A remembered Basic credential is keyed by a salted SHA-256 of the header, never the
//! password, and holds the user and their password stamp; every request still reads the
//! user in one indexed statement that checks they are active and the stamp unchanged, so a
//! password change, deactivation or deletion refuses it on every node at once.

use std::net::IpAddr;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use base64::Engine;
use roster_core::{secret, Principal};
use roster_store::{Login, NewSession, SessionKind};

use crate::app::AppState;
use crate::http::ApiError;

/// How long a verified Basic credential is remembered (it is re-checked against the user's
/// row on every request meanwhile), and how many at most.
const REMEMBER_FOR: Duration = Duration::from_secs(300);
const REMEMBERED: usize = 10_000;
/// Longest Basic header payload looked at (base64 of a userName, a colon and a password).
const MAX_BASIC_LEN: usize = 1024;

/// Why HTTP Basic is refused to a user who enrolled TOTP.
pub const BASIC_WITH_TOTP: &str = "this account signs in with a second factor (TOTP), which HTTP Basic cannot carry: use an API token or an OAuth access token";

/// What a password sign-in brings besides the password.
#[derive(Debug, Clone, Copy)]
pub enum SecondFactor<'a> {
    /// A TOTP or recovery code, if the client sent one (the console's field, the OAuth
    /// password grant's `totp`, CVAT login's `totp`).
    Code(Option<&'a str>),
    /// HTTP Basic: a request has no room for a code.
    Unavailable,
}

/// The outcome of a password sign-in.
#[derive(Debug)]
pub enum Verdict {
    Valid(Login),
    /// Unknown login or wrong password (one answer for both).
    Invalid,
    /// The password was right; the user enrolled TOTP and no code came.
    CodeRequired,
    /// The password was right; the code was wrong, or used already.
    CodeInvalid,
    /// The password was right, the user enrolled TOTP, and the way in cannot carry a code.
    CodeImpossible,
}

impl Verdict {
    pub fn valid(self) -> Option<Login> {
        match self {
            Verdict::Valid(l) => Some(l),
            _ => None,
        }
    }
}

#[derive(Clone, Copy)]
struct Remembered {
    user_seq: i64,
    stamp: i64,
    at: Instant,
}

pub struct SignIn {
    remembered: quick_cache::sync::Cache<String, Remembered>,
    salt: String,
    session_ttl: Duration,
    /// Console sessions: absolute and idle time-outs.
    console_ttl: Duration,
    console_idle: Duration,
}

/// A new session's secrets, to hand to the client (only their hashes are stored).
pub struct OpenedSession {
    pub session_id: String,
    pub key: String,
    pub csrf: String,
}

/// What an unknown login is checked against, so it costs what a wrong password costs.
static DUMMY_PHC: LazyLock<String> =
    LazyLock::new(|| secret::hash_password(&secret::random_secret("")).unwrap_or_default());

impl SignIn {
    pub fn new(session_ttl: Duration) -> Self {
        Self {
            remembered: quick_cache::sync::Cache::new(REMEMBERED),
            salt: secret::random_secret(""),
            session_ttl,
            console_ttl: Duration::from_secs(12 * 3600),
            console_idle: Duration::from_secs(30 * 60),
        }
    }

    /// Sets the console's absolute and idle session time-outs.
    pub fn with_console(mut self, ttl: Duration, idle: Duration) -> Self {
        self.console_ttl = ttl;
        self.console_idle = idle;
        self
    }

    /// The console's (absolute, idle) session time-outs.
    pub fn console_timeouts(&self) -> (Duration, Duration) {
        (self.console_ttl, self.console_idle)
    }

    pub fn session_ttl(&self) -> Duration {
        self.session_ttl
    }

    /// Checks `password` for the active user `login` names (userName or email) under the
    /// password rate limits, then their second factor if they enrolled one. A wrong code
    /// counts as a failed password (the limits bound guessing codes too); a missing one
    /// counts as neither.
    pub async fn check_password(
        &self,
        state: &AppState,
        ip: Option<IpAddr>,
        login: &str,
        password: &str,
        second: SecondFactor<'_>,
    ) -> Result<Verdict, ApiError> {
        if password.len() > secret::MAX_PASSWORD_LEN || login.len() > 512 {
            return Ok(Verdict::Invalid);
        }
        let found = state.store.login(login).await?;
        let account = found.as_ref().map(|l| l.user_seq);
        if let Some(ip) = ip {
            state.limits.limits.before_password(ip, account).await?;
        }
        let phc = found
            .as_ref()
            .and_then(|l| l.password_hash.clone())
            .unwrap_or_else(|| DUMMY_PHC.clone());
        let ok = state.passwords.verify(password.to_owned(), phc).await?;
        let ok = ok && found.as_ref().is_some_and(|l| l.password_hash.is_some());
        let (Some(found), true) = (found, ok) else {
            if let Some(a) = account {
                state.limits.limits.after_password(a, false).await;
            }
            return Ok(Verdict::Invalid);
        };
        let seq = found.user_seq;
        let verdict = self.second_factor(state, found, second).await?;
        match &verdict {
            Verdict::Valid(_) => {
                state.limits.limits.after_password(seq, true).await;
                // Bookkeeping: a failure here must not refuse a correct password.
                if let Err(e) = state.store.record_sign_in(seq).await {
                    tracing::warn!(error = %e, "could not record a sign-in");
                }
            }
            Verdict::CodeInvalid => state.limits.limits.after_password(seq, false).await,
            _ => {}
        }
        Ok(verdict)
    }

    /// The second step of a sign-in whose password was right: nothing to do for a user
    /// without TOTP; else the code (a TOTP code once per time step, or an unused recovery
    /// code). The caller counts a [`Verdict::CodeInvalid`] against the password limits.
    pub async fn second_factor(
        &self,
        state: &AppState,
        login: Login,
        second: SecondFactor<'_>,
    ) -> Result<Verdict, ApiError> {
        let Some(t) = state.store.totp(login.user_seq).await? else {
            return Ok(Verdict::Valid(login));
        };
        if t.enrolled_at.is_none() {
            return Ok(Verdict::Valid(login));
        }
        let code = match second {
            SecondFactor::Unavailable => return Ok(Verdict::CodeImpossible),
            SecondFactor::Code(None) => return Ok(Verdict::CodeRequired),
            SecondFactor::Code(Some(c)) if c.len() > 64 => return Ok(Verdict::CodeInvalid),
            SecondFactor::Code(Some(c)) => c,
        };
        let ok = if crate::totp::looks_like_recovery(code) {
            state
                .store
                .use_recovery_code(login.user_seq, &crate::totp::recovery_hash(code))
                .await?
        } else {
            let key = state.tokens.server_key();
            let Some(secret_b32) = crate::totp::open(key, login.user_seq, &t.secret_sealed) else {
                return Err(ApiError::internal(std::io::Error::other(
                    "the server key does not open a TOTP secret",
                )));
            };
            match crate::totp::check(&secret_b32, code, crate::totp::now_secs()) {
                // A code is good once: a step at or before the last one used is a replay.
                Some(step) => state.store.use_totp_step(login.user_seq, step).await?,
                None => false,
            }
        };
        Ok(if ok {
            Verdict::Valid(login)
        } else {
            Verdict::CodeInvalid
        })
    }

    /// The user of an `Authorization: Basic` payload, if it names an active user and their
    /// password.
    pub async fn basic(
        &self,
        state: &AppState,
        ip: Option<IpAddr>,
        payload: &str,
    ) -> Result<Option<Principal>, ApiError> {
        if payload.len() > MAX_BASIC_LEN {
            return Ok(None);
        }
        let key = secret::hash_token(&format!("{}:{payload}", self.salt));
        // One verification per credential at a time: a client that opens 32 connections
        // with the same Basic header makes one argon2id check, and the other 31 requests
        // wait for its outcome instead of filling the pool (and the rate limit) with copies.
        let guard = loop {
            match self.remembered.get_value_or_guard_async(&key).await {
                Ok(r) => {
                    if r.at.elapsed() < REMEMBER_FOR {
                        if let Some(p) = state
                            .store
                            .principal_with_password(r.user_seq, r.stamp)
                            .await?
                        {
                            return Ok(Some(p));
                        }
                    }
                    // Stale, or the password changed: verify again.
                    self.remembered.remove(&key);
                }
                Err(guard) => break guard,
            }
        };
        let Some((login, password)) = base64::engine::general_purpose::STANDARD
            .decode(payload)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.split_once(':').map(|(l, p)| (l.to_owned(), p.to_owned())))
        else {
            return Ok(None);
        };
        // A failure drops the guard without a value: the next waiter verifies for itself
        // (under the same rate limits).
        let found = match self
            .check_password(state, ip, &login, &password, SecondFactor::Unavailable)
            .await?
        {
            Verdict::Valid(l) => l,
            Verdict::CodeImpossible => return Err(ApiError::unauthenticated(BASIC_WITH_TOTP)),
            _ => return Ok(None),
        };
        let _ = guard.insert(Remembered {
            user_seq: found.user_seq,
            stamp: found.password_stamp,
            at: Instant::now(),
        });
        Ok(state
            .store
            .principal_with_password(found.user_seq, found.password_stamp)
            .await?)
    }

    /// Stores a new CVAT session for a user whose password was just checked.
    pub async fn open(&self, state: &AppState, login: &Login) -> Result<OpenedSession, ApiError> {
        self.open_kind(
            state,
            login,
            SessionKind::Api,
            self.session_ttl,
            Duration::ZERO,
        )
        .await
    }

    /// Stores a new session of `kind` that ends after `ttl`, or after `idle` without a
    /// request (zero: never idle).
    pub async fn open_kind(
        &self,
        state: &AppState,
        login: &Login,
        kind: SessionKind,
        ttl: Duration,
        idle: Duration,
    ) -> Result<OpenedSession, ApiError> {
        let opened = OpenedSession {
            session_id: secret::random_base32(32),
            key: secret::random_base32(32),
            csrf: secret::random_base32(32),
        };
        let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        state
            .store
            .create_session(&NewSession {
                id_hash: &secret::hash_token(&opened.session_id),
                key_hash: &secret::hash_token(&opened.key),
                csrf_hash: &secret::hash_token(&opened.csrf),
                user_seq: login.user_seq,
                password_stamp: login.password_stamp,
                expires_at: roster_core::now_micros().saturating_add(micros(ttl)),
                kind,
                idle_micros: micros(idle),
            })
            .await?;
        Ok(opened)
    }
}
