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
use roster_store::{Login, NewSession};

use crate::app::AppState;
use crate::http::ApiError;

/// How long a verified Basic credential is remembered (it is re-checked against the user's
/// row on every request meanwhile), and how many at most.
const REMEMBER_FOR: Duration = Duration::from_secs(300);
const REMEMBERED: usize = 10_000;
/// Longest Basic header payload looked at (base64 of a userName, a colon and a password).
const MAX_BASIC_LEN: usize = 1024;

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
        }
    }

    pub fn session_ttl(&self) -> Duration {
        self.session_ttl
    }

    /// Checks `password` for the active user `login` names (userName or email) under the
    /// password rate limits; `None` when it does not match.
    pub async fn check_password(
        &self,
        state: &AppState,
        ip: Option<IpAddr>,
        login: &str,
        password: &str,
    ) -> Result<Option<Login>, ApiError> {
        if password.len() > secret::MAX_PASSWORD_LEN || login.len() > 512 {
            return Ok(None);
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
        if let Some(a) = account {
            state.limits.limits.after_password(a, ok).await;
        }
        if ok {
            if let Some(l) = &found {
                // Bookkeeping: a failure here must not refuse a correct password.
                if let Err(e) = state.store.record_sign_in(l.user_seq).await {
                    tracing::warn!(error = %e, "could not record a sign-in");
                }
            }
        }
        Ok(found.filter(|_| ok))
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
        let Some(found) = self.check_password(state, ip, &login, &password).await? else {
            return Ok(None);
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

    /// Stores a new session for a user whose password was just checked.
    pub async fn open(&self, state: &AppState, login: &Login) -> Result<OpenedSession, ApiError> {
        let opened = OpenedSession {
            session_id: secret::random_base32(32),
            key: secret::random_base32(32),
            csrf: secret::random_base32(32),
        };
        let ttl = i64::try_from(self.session_ttl.as_micros()).unwrap_or(i64::MAX);
        state
            .store
            .create_session(&NewSession {
                id_hash: &secret::hash_token(&opened.session_id),
                key_hash: &secret::hash_token(&opened.key),
                csrf_hash: &secret::hash_token(&opened.csrf),
                user_seq: login.user_seq,
                password_stamp: login.password_stamp,
                expires_at: roster_core::now_micros().saturating_add(ttl),
            })
            .await?;
        Ok(opened)
    }
}
