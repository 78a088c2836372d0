//! Password hashing and verification. argon2id costs about 19 MiB and tens of milliseconds
//! per call, so calls run on a small pool: at most `workers` at once (default: the number of
//! cores), a caller waits at most `wait` for a slot, and beyond that it is refused with 503
//! and `Retry-After`. 400 concurrent password changes then cost `workers` × 19 MiB, not 400 ×.
//! The one password policy lives here too, so every place that sets a password applies it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use roster_core::secret::{self, PasswordPolicy};
use roster_core::CoreError;
use tokio::sync::Semaphore;

pub struct Passwords {
    slots: Semaphore,
    wait: Duration,
    policy: PasswordPolicy,
    running: AtomicUsize,
    peak: AtomicUsize,
}

impl Passwords {
    pub fn new(workers: usize, wait: Duration, policy: PasswordPolicy) -> Self {
        Self {
            slots: Semaphore::new(workers.max(1)),
            wait,
            policy,
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// The number of cores, a 1 s wait, the default policy.
    pub fn with_defaults(policy: PasswordPolicy) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::new(cores, Duration::from_secs(1), policy)
    }

    pub fn policy(&self) -> &PasswordPolicy {
        &self.policy
    }

    /// The most hash or verify calls that ran at once so far.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CoreError> {
        let _slot = tokio::time::timeout(self.wait, self.slots.acquire())
            .await
            .map_err(|_| {
                CoreError::Unavailable("too many password checks at once; retry in a moment".into())
            })?
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        let now = self.running.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        let out = tokio::task::spawn_blocking(work).await;
        self.running.fetch_sub(1, Ordering::Relaxed);
        out.map_err(|e| CoreError::Internal(format!("password worker failed: {e}")))
    }

    /// An argon2id PHC string for `password` (the caller has applied the policy).
    pub async fn hash(&self, password: String) -> Result<String, CoreError> {
        self.run(move || secret::hash_password(&password)).await?
    }

    pub async fn verify(&self, password: String, phc: String) -> Result<bool, CoreError> {
        self.run(move || secret::verify_password(&password, &phc))
            .await
    }
}
