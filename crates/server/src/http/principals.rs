//! A node's cache of bearer tokens' principals (API tokens, and OAuth access tokens: JWTs):
//! an authenticated request costs one read of the directory's data instead of two (the
//! token's principal, then the data).
//!
//! A cached principal is used only after the generation of the authentication data
//! ([`roster_store::CredentialStore::auth_generation`]) has been read again by a read that
//! *started after the request arrived*, and found equal to the generation the principal was
//! read at. Every revocation, deactivation, rename or permission change moves the generation
//! (database triggers, migration 0023), so a change committed on any node is seen by the next
//! request on every node, exactly as without the cache. Without a generation read there would
//! be a window (a TTL) in which a revoked token still works; with a generation read per
//! request there would be no saving. So the reads are shared: requests that arrive while one
//! is running wait for the next, which starts as soon as that one ends, and one read answers
//! all of them (at c = 32 on PostgreSQL, one read per ~8 requests in PostgreSQL's log). A
//! request never uses a read that started before it arrived.
//!
//! An entry also ends when its token expires and [`LIFETIME`] after it was read, so that the
//! store keeps writing down an API token's last use (at most once a minute, see
//! `sql_store::tokens`). Unknown tokens are not cached: a token created later needs no bump.
//! Keys: an API token's SHA-256 (hex), `jwt:` and the claims a JWT is checked by.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use roster_core::Principal;
use roster_store::{Store, StoreError, TokenGrant};
use tokio::sync::oneshot;

/// How long an entry is used at most before the store is asked again.
pub const LIFETIME: Duration = Duration::from_secs(30);

/// Entries kept at most; a full cache is emptied (amortised O(1) per insert, and a flood of
/// distinct valid tokens only costs their owners the saving).
pub const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub struct PrincipalCache {
    entries: Mutex<Entries>,
    reads: Arc<GenerationReads>,
}

#[derive(Default)]
struct Entries {
    /// The newest generation seen; entries of older ones are gone.
    generation: Option<i64>,
    by_hash: HashMap<String, Entry>,
}

struct Entry {
    principal: Principal,
    generation: i64,
    expires_at: Option<i64>,
    read_at: Instant,
}

/// The outcome of one lookup, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Hit,
    Miss,
    /// Cached, but the generation had moved.
    Stale,
}

impl PrincipalCache {
    /// The principal of the valid API token with SHA-256 `hash`, as of a moment after this
    /// call began.
    pub async fn principal_for_token(
        &self,
        store: &Arc<dyn Store>,
        hash: &str,
    ) -> Result<Option<Principal>, StoreError> {
        self.principal(store, hash, None, || store.principal_for_token(hash))
            .await
    }

    /// The principal `fetch` reads from the store, or the one it read last time under `key`
    /// if the generation has not moved since (checked by a read that started after this call
    /// began). `ends_at` (microseconds) bounds the entry beside the grant's own expiry.
    pub async fn principal<F, Fut>(
        &self,
        store: &Arc<dyn Store>,
        key: &str,
        ends_at: Option<i64>,
        fetch: F,
    ) -> Result<Option<Principal>, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Option<TokenGrant>, StoreError>>,
    {
        let outcome = match self.cached(key) {
            None => Outcome::Miss,
            Some((principal, generation)) => match self.reads.current(store).await {
                Some(now) if now == generation => {
                    count(Outcome::Hit);
                    return Ok(Some(principal));
                }
                Some(now) => {
                    self.reset(now);
                    Outcome::Stale
                }
                // The shared read failed: the full lookup below reports what is wrong.
                None => Outcome::Miss,
            },
        };
        count(outcome);
        let Some(mut grant) = fetch().await? else {
            return Ok(None);
        };
        grant.expires_at = match (grant.expires_at, ends_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.insert(key, &grant);
        Ok(Some(grant.principal))
    }

    fn cached(&self, hash: &str) -> Option<(Principal, i64)> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let e = entries.by_hash.get(hash)?;
        let live = e.read_at.elapsed() < LIFETIME
            && e.expires_at.is_none_or(|t| t > roster_core::now_micros())
            && entries.generation == Some(e.generation);
        live.then(|| (e.principal.clone(), e.generation))
    }

    /// Forgets every entry older than generation `now`.
    fn advance(&self, now: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.generation.is_none_or(|g| g < now) {
            entries.generation = Some(now);
            entries.by_hash.clear();
        }
    }

    /// Makes `now`, read after a request arrived, the cache's generation whatever it was:
    /// also when it went back (a database dropped and created again under this node, whose
    /// counter started elsewhere), which [`Self::advance`] alone would never accept.
    fn reset(&self, now: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.generation != Some(now) {
            entries.generation = Some(now);
            entries.by_hash.clear();
        }
    }

    fn insert(&self, hash: &str, grant: &TokenGrant) {
        self.advance(grant.generation);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // A read that lost a race with a newer one: its principal may be out of date.
        if entries.generation != Some(grant.generation) {
            return;
        }
        if entries.by_hash.len() >= MAX_ENTRIES {
            entries.by_hash.clear();
        }
        entries.by_hash.insert(
            hash.to_owned(),
            Entry {
                principal: grant.principal.clone(),
                generation: grant.generation,
                expires_at: grant.expires_at,
                read_at: Instant::now(),
            },
        );
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().unwrap().by_hash.len()
    }
}

fn count(outcome: Outcome) {
    let outcome = match outcome {
        Outcome::Hit => "hit",
        Outcome::Miss => "miss",
        Outcome::Stale => "stale",
    };
    metrics::counter!("roster_principal_cache_total", "outcome" => outcome).increment(1);
}

/// Reads of the generation shared by the requests waiting for one (see the module docs).
#[derive(Default)]
struct GenerationReads {
    waiting: Mutex<Waiting>,
}

#[derive(Default)]
struct Waiting {
    /// A reader task is running (it takes `next` before each read).
    running: bool,
    /// Requests that arrived after the running read started.
    next: Vec<oneshot::Sender<Option<i64>>>,
}

impl GenerationReads {
    /// The generation as read by a read that started after this call; `None` when it could
    /// not be read.
    async fn current(self: &Arc<Self>, store: &Arc<dyn Store>) -> Option<i64> {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut w = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
            w.next.push(tx);
            !std::mem::replace(&mut w.running, true)
        };
        if start {
            // A task, not this request: a client that goes away must not end the reads the
            // others wait for.
            tokio::spawn(read_while_waited_for(self.clone(), store.clone()));
        }
        rx.await.ok().flatten()
    }
}

async fn read_while_waited_for(reads: Arc<GenerationReads>, store: Arc<dyn Store>) {
    // Should the task end any other way than below (a panic), the waiters are dropped (they
    // fall back to the full lookup) and the next request starts a new task.
    struct Guard {
        reads: Arc<GenerationReads>,
        armed: bool,
    }
    impl Drop for Guard {
        fn drop(&mut self) {
            if self.armed {
                let mut w = self.reads.waiting.lock().unwrap_or_else(|e| e.into_inner());
                w.running = false;
                w.next.clear();
            }
        }
    }
    let mut guard = Guard { reads, armed: true };
    loop {
        let batch = {
            let mut w = guard
                .reads
                .waiting
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if w.next.is_empty() {
                w.running = false;
                guard.armed = false;
                return;
            }
            std::mem::take(&mut w.next)
        };
        let now = match store.auth_generation().await {
            Ok(g) => Some(g),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the authentication generation");
                None
            }
        };
        for waiter in batch {
            let _ = waiter.send(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_core::PermissionSet;
    use uuid::Uuid;

    fn grant(generation: i64, expires_at: Option<i64>) -> TokenGrant {
        TokenGrant {
            principal: Principal {
                user_seq: 1,
                user_id: Uuid::nil(),
                user_name: "ann".into(),
                permissions: PermissionSet::default(),
            },
            generation,
            expires_at,
        }
    }

    #[test]
    fn an_entry_of_an_older_generation_is_not_used_nor_kept() {
        let c = PrincipalCache::default();
        c.insert("a", &grant(5, None));
        assert_eq!(c.cached("a").map(|(_, g)| g), Some(5));
        c.advance(6);
        assert!(c.cached("a").is_none());
        assert_eq!(c.len(), 0);
        // A read that started before the move and ended after it is not cached.
        c.insert("a", &grant(5, None));
        assert!(c.cached("a").is_none());
        c.insert("a", &grant(6, None));
        assert_eq!(c.cached("a").map(|(_, g)| g), Some(6));
    }

    #[test]
    fn a_generation_read_after_the_request_wins_even_when_it_went_back() {
        let c = PrincipalCache::default();
        c.insert("a", &grant(9, None));
        c.reset(3);
        assert!(c.cached("a").is_none());
        c.insert("a", &grant(3, None));
        assert_eq!(c.cached("a").map(|(_, g)| g), Some(3));
    }

    #[test]
    fn an_expired_token_is_not_served_from_the_cache() {
        let c = PrincipalCache::default();
        c.insert("a", &grant(1, Some(roster_core::now_micros() - 1)));
        assert!(c.cached("a").is_none());
        c.insert("b", &grant(1, Some(roster_core::now_micros() + 60_000_000)));
        assert!(c.cached("b").is_some());
    }

    #[test]
    fn a_full_cache_starts_again() {
        let c = PrincipalCache::default();
        for i in 0..MAX_ENTRIES {
            c.insert(&i.to_string(), &grant(1, None));
        }
        assert_eq!(c.len(), MAX_ENTRIES);
        c.insert("one more", &grant(1, None));
        assert_eq!(c.len(), 1);
    }
}
