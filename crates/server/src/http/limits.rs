//! Rate limits: token buckets (GCRA) of three kinds, each keyed by client IP, account or
//! credential, in this process (`governor`) or, with `ROSTER_REDIS_URL`, in Redis so that
//! one limit holds across nodes (one atomic script per check). Redis trouble never refuses
//! a request: the check fails open and says so in the log.
//!
//! - [`Kind::Passwords`]: argon2id verifications per client IP, and failed ones per account
//!   (an account with recent failures has each further attempt counted, so guessing one
//!   account from many addresses slows down to the refill rate; tokens already issued keep
//!   working).
//! - [`Kind::Anonymous`]: unauthenticated requests and failed authentications per client IP.
//! - [`Kind::PerCredential`]: requests per signed-in user and credential kind (off unless set).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Passwords,
    Anonymous,
    PerCredential,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Passwords => "passwords",
            Kind::Anonymous => "anonymous",
            Kind::PerCredential => "per-credential",
        }
    }
}

/// `RATE[,BURST]`: `50/s`, `600/min`, `1000/h`, with a burst (default: one second's worth,
/// at least 1), or `off`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateSpec {
    /// Cells per `per`.
    pub count: u32,
    pub per: Duration,
    pub burst: u32,
}

impl RateSpec {
    pub fn parse(s: &str) -> Result<Option<Self>, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let bad = || format!("{s:?} is not a rate like 50/s, 600/min or 1000/h[,BURST], or off");
        let (rate, burst) = match s.split_once(',') {
            Some((r, b)) => (r.trim(), Some(b.trim())),
            None => (s, None),
        };
        let (n, unit) = rate.split_once('/').ok_or_else(bad)?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        let per = match unit.trim() {
            "s" | "sec" => Duration::from_secs(1),
            "m" | "min" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        if count == 0 {
            return Err(bad());
        }
        let per_second = (f64::from(count) / per.as_secs_f64()).ceil() as u32;
        let burst = match burst {
            Some(b) => b.parse().ok().filter(|b| *b > 0).ok_or_else(bad)?,
            None => per_second.max(1),
        };
        Ok(Some(Self { count, per, burst }))
    }

    /// Time between two cells.
    fn interval(&self) -> Duration {
        self.per / self.count
    }

    fn quota(&self) -> Quota {
        let burst = NonZeroU32::new(self.burst).unwrap_or(NonZeroU32::MIN);
        Quota::with_period(self.interval())
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst)
    }

    /// `RateLimit-Policy` of this spec (draft-ietf-httpapi-ratelimit-headers).
    fn policy(&self, kind: Kind) -> String {
        format!(
            "\"{}\";q={};w={}",
            kind.name(),
            self.burst,
            (self.interval() * self.burst).as_secs().max(1)
        )
    }
}

/// One kind's buckets in this process.
struct Local {
    spec: RateSpec,
    limiter: DefaultKeyedRateLimiter<String>,
}

/// Keys forgotten when idle; the maps are pruned when they grow past this.
const MAX_KEYS: usize = 100_000;
/// How long an account counts as under attack after a failed password.
const SUSPECT_FOR: Duration = Duration::from_secs(15 * 60);

/// GCRA in Redis: the key holds the theoretical arrival time (µs, Redis's clock). Allowed
/// when the new arrival time is within `burst × interval` of now; answers the µs to wait.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local wait = new_tat - now - tolerance
if wait > 0 then return wait end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
return 0
";

pub struct Limits {
    kinds: HashMap<Kind, Local>,
    redis: Option<Redis>,
    /// Accounts with a recent failed password (when it happened), bounded.
    suspects: Mutex<HashMap<i64, Instant>>,
    /// Checks that could not reach Redis and were let through.
    pub redis_failures: AtomicU64,
}

struct Redis {
    /// Set once the first connection succeeds; the manager reconnects by itself after.
    conn: Arc<tokio::sync::OnceCell<redis::aio::ConnectionManager>>,
    script: redis::Script,
    /// Prefix of every key (deployments sharing one Redis set their own).
    prefix: String,
}

/// Connects to Redis, retrying every few seconds until it answers.
async fn connect(
    client: redis::Client,
    into: Arc<tokio::sync::OnceCell<redis::aio::ConnectionManager>>,
) {
    let mut logged = false;
    loop {
        let cfg = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(REDIS_TIMEOUT)
            .set_number_of_retries(1);
        match redis::aio::ConnectionManager::new_with_config(client.clone(), cfg).await {
            Ok(c) => {
                let _ = into.set(c);
                tracing::info!("rate limits are shared through Redis");
                return;
            }
            Err(e) if !logged => {
                tracing::warn!(error = %e, "cannot reach Redis (ROSTER_REDIS_URL); rate limits let requests through until it answers");
                logged = true;
            }
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

/// How long a check waits for Redis before it lets the request through.
const REDIS_TIMEOUT: Duration = Duration::from_millis(200);

impl Limits {
    /// The limits of these specs (`None`: that kind is off), in Redis at `redis_url` if given.
    pub async fn new(
        specs: &[(Kind, Option<RateSpec>)],
        redis_url: Option<&str>,
        redis_prefix: &str,
    ) -> anyhow::Result<Self> {
        let kinds = specs
            .iter()
            .filter_map(|(k, s)| {
                s.map(|spec| {
                    (
                        *k,
                        Local {
                            spec,
                            limiter: RateLimiter::keyed(spec.quota()),
                        },
                    )
                })
            })
            .collect();
        let redis = match redis_url {
            None => None,
            Some(url) => {
                let client = redis::Client::open(url)
                    .map_err(|e| anyhow::anyhow!("ROSTER_REDIS_URL: {e}"))?;
                let conn = Arc::new(tokio::sync::OnceCell::new());
                // Redis down at start is not fatal: the limits fail open until it answers.
                tokio::spawn(connect(client, conn.clone()));
                Some(Redis {
                    conn,
                    script: redis::Script::new(GCRA),
                    prefix: redis_prefix.to_owned(),
                })
            }
        };
        Ok(Self {
            kinds,
            redis,
            suspects: Mutex::new(HashMap::new()),
            redis_failures: AtomicU64::new(0),
        })
    }

    /// No limits at all (tests that measure something else).
    pub fn off() -> Self {
        Self {
            kinds: HashMap::new(),
            redis: None,
            suspects: Mutex::new(HashMap::new()),
            redis_failures: AtomicU64::new(0),
        }
    }

    pub fn enabled(&self, kind: Kind) -> bool {
        self.kinds.contains_key(&kind)
    }

    /// Takes one cell from `kind`'s bucket of `key`; over the limit, the 429 to answer.
    pub async fn check(&self, kind: Kind, key: &str) -> Result<(), ApiError> {
        let Some(local) = self.kinds.get(&kind) else {
            return Ok(());
        };
        let wait = match &self.redis {
            Some(r) => match self.check_redis(r, kind, &local.spec, key).await {
                Some(w) => w,
                None => return Ok(()),
            },
            None => {
                if local.limiter.len() > MAX_KEYS {
                    local.limiter.retain_recent();
                }
                match local.limiter.check_key(&key.to_owned()) {
                    Ok(()) => Duration::ZERO,
                    Err(not_until) => not_until.wait_time_from(DefaultClock::default().now()),
                }
            }
        };
        if wait.is_zero() {
            return Ok(());
        }
        super::metrics::rate_limited(kind.name());
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Err(ApiError::too_many_requests(
            format!(
                "too many requests ({} limit); retry in {secs} s",
                kind.name()
            ),
            secs.max(1),
            local.spec.policy(kind),
            format!("\"{}\";r=0;t={}", kind.name(), secs.max(1)),
        ))
    }

    /// The wait Redis says, or `None` when it could not say (the request goes through).
    async fn check_redis(
        &self,
        r: &Redis,
        kind: Kind,
        spec: &RateSpec,
        key: &str,
    ) -> Option<Duration> {
        let Some(conn) = r.conn.get() else {
            self.redis_unavailable("not connected yet");
            return None;
        };
        let mut conn = conn.clone();
        let interval = i64::try_from(spec.interval().as_micros()).unwrap_or(i64::MAX);
        let mut invocation = r.script.key(format!("{}:{}:{key}", r.prefix, kind.name()));
        invocation.arg(interval).arg(spec.burst);
        let call = invocation.invoke_async::<i64>(&mut conn);
        match tokio::time::timeout(REDIS_TIMEOUT, call).await {
            Ok(Ok(wait)) => Some(Duration::from_micros(u64::try_from(wait).unwrap_or(0))),
            Ok(Err(e)) => {
                self.redis_unavailable(&e.to_string());
                None
            }
            Err(_) => {
                self.redis_unavailable("no answer in time");
                None
            }
        }
    }

    fn redis_unavailable(&self, why: &str) {
        super::metrics::redis_failure();
        let n = self.redis_failures.fetch_add(1, Ordering::Relaxed);
        // One line per 1,000 failures: an outage must not flood the log.
        if n.is_multiple_of(1000) {
            tracing::warn!(
                error = why,
                failures = n + 1,
                "rate limits cannot reach Redis; letting requests through"
            );
        }
    }

    /// Before an argon2id verification: the client IP's bucket, and the account's if it
    /// failed recently.
    pub async fn before_password(&self, ip: IpAddr, account: Option<i64>) -> Result<(), ApiError> {
        self.check(Kind::Passwords, &format!("ip:{ip}")).await?;
        if let Some(a) = account {
            let suspect = self
                .suspects
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&a)
                .is_some_and(|t| t.elapsed() < SUSPECT_FOR);
            if suspect {
                self.check(Kind::Passwords, &format!("acct:{a}")).await?;
            }
        }
        Ok(())
    }

    /// After an argon2id verification of `account`: a failure counts against the account
    /// (and marks it, so further attempts are counted before they run); a success clears it.
    pub async fn after_password(&self, account: i64, ok: bool) {
        if self.mark(account, ok) {
            // The first failure takes its cell here (later ones in before_password).
            let _ = self
                .check(Kind::Passwords, &format!("acct:{account}"))
                .await;
        }
    }

    /// Records the outcome; true when this is the account's first recent failure.
    fn mark(&self, account: i64, ok: bool) -> bool {
        let mut s = self.suspects.lock().unwrap_or_else(|e| e.into_inner());
        if ok {
            s.remove(&account);
            return false;
        }
        if s.len() >= MAX_KEYS {
            s.retain(|_, t| t.elapsed() < SUSPECT_FOR);
        }
        s.insert(account, Instant::now()).is_none()
    }
}

/// The client's address: the peer's, or, when the peer is a trusted proxy, the nearest
/// address in `X-Forwarded-For` that is not one.
pub fn client_ip(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[ipnet::IpNet],
) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    Some(
        hops.into_iter()
            .rev()
            .find(|ip| !is_trusted(ip))
            .unwrap_or(peer),
    )
}

/// The limits and how to find a request's client, shared by every request.
pub struct RateLimits {
    pub limits: Limits,
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl RateLimits {
    pub fn off() -> Arc<Self> {
        Arc::new(Self {
            limits: Limits::off(),
            trusted_proxies: Vec::new(),
        })
    }
}

/// The client's address as [`client_ip`] finds it (`None` for internal sub-requests, which
/// have no connection of their own).
pub struct ClientIp(pub Option<IpAddr>);

impl axum::extract::FromRequestParts<crate::app::AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &crate::app::AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(ip_of(parts, state)))
    }
}

pub fn ip_of(parts: &axum::http::request::Parts, state: &crate::app::AppState) -> Option<IpAddr> {
    ip_from(&parts.extensions, &parts.headers, state)
}

/// [`ip_of`] from a request's extensions and headers.
pub fn ip_from(
    extensions: &axum::http::Extensions,
    headers: &HeaderMap,
    state: &crate::app::AppState,
) -> Option<IpAddr> {
    let peer = extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    client_ip(peer, headers, &state.limits.trusted_proxies)
}

/// Counts a request without a valid credential against its client's anonymous bucket.
pub async fn count_anonymous(
    state: &crate::app::AppState,
    ip: Option<IpAddr>,
) -> Result<(), ApiError> {
    match ip {
        Some(ip) => {
            state
                .limits
                .limits
                .check(Kind::Anonymous, &format!("ip:{ip}"))
                .await
        }
        None => Ok(()),
    }
}

/// The anonymous limit on routes outside every dialect (`/healthz`, `/openapi.json`).
pub async fn anonymous_layer(
    axum::extract::State(state): axum::extract::State<crate::app::AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let ip = ip_from(req.extensions(), req.headers(), &state);
    super::envelope::AccessSlot::note(req.extensions(), "roster", ip);
    if let Err(e) = count_anonymous(&state, ip).await {
        return e.into_response();
    }
    next.run(req).await
}

impl Limits {
    /// Whether the limits are kept in Redis and it answered at least once.
    pub fn redis_connected(&self) -> bool {
        self.redis.as_ref().is_some_and(|r| r.conn.initialized())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        let s = RateSpec::parse("50/s").unwrap().unwrap();
        assert_eq!((s.count, s.per, s.burst), (50, Duration::from_secs(1), 50));
        let s = RateSpec::parse("600/min,20").unwrap().unwrap();
        assert_eq!(
            (s.count, s.burst, s.interval()),
            (600, 20, Duration::from_millis(100))
        );
        assert_eq!(RateSpec::parse("off").unwrap(), None);
        for bad in ["", "50", "0/s", "5/week", "5/s,0", "x/s"] {
            assert!(RateSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_burst_then_429_with_retry_after() {
        let spec = RateSpec::parse("1/min,3").unwrap();
        let l = Limits::new(&[(Kind::Anonymous, spec)], None, "t")
            .await
            .unwrap();
        for _ in 0..3 {
            l.check(Kind::Anonymous, "ip:1").await.unwrap();
        }
        let e = l.check(Kind::Anonymous, "ip:1").await.unwrap_err();
        assert_eq!(e.status().as_u16(), 429);
        assert!(
            (1..=60).contains(&e.retry_after().unwrap()),
            "{:?}",
            e.retry_after()
        );
        // Another key, and another kind (off), are not affected.
        l.check(Kind::Anonymous, "ip:2").await.unwrap();
        l.check(Kind::PerCredential, "ip:1").await.unwrap();
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "203.0.113.9, 10.0.0.7".parse().unwrap());
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let direct: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(
            client_ip(Some(proxy), &h, &trusted),
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(client_ip(Some(direct), &h, &trusted), Some(direct));
        assert_eq!(
            client_ip(Some(proxy), &HeaderMap::new(), &trusted),
            Some(proxy)
        );
    }
}
