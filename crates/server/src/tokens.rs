//! OAuth access tokens, issued and checked: the signing keys every node shares (loaded from
//! the database, private halves opened with the server key), JWT issuance, and the check
//! the authentication seam runs on a Bearer JWT.
//!
//! A signature is checked once per token and remembered (a bounded cache keyed by the
//! token itself), but the token's user and client are looked up on every request, so a
//! deactivation, a deletion or a deleted client refuses the token on every node at once.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use roster_core::jwt::{self, Claims, JwtError, KeyPair, VerifyingKey};
use roster_core::policy::Operator;
use roster_core::sealed::ServerKey;
use roster_core::{secret, Principal};
use roster_store::{signing_key_record, SealedSecret, SigningKeyRecord, Store, StoreError};
use uuid::Uuid;

/// Verified tokens remembered (signature and claims); a token is about 400 bytes.
const VERIFIED_CACHE: usize = 20_000;
/// How often a node looks for a signing key another node (or `roster keys rotate`) added.
const RELOAD_EVERY: Duration = Duration::from_secs(10);
/// At most one reload per this for a token naming an unknown key (a forged `kid` must not
/// make every request a database query).
const UNKNOWN_KID_RELOAD: Duration = Duration::from_secs(1);

/// What a client credential and a refresh token look like: `rc-` and 20 base32 characters
/// (the client id, readable and stable), secrets of 256 bits.
pub fn new_client_id() -> String {
    format!("rc-{}", secret::random_base32(20))
}

/// 256 random bits, base64url, behind `prefix`.
pub fn new_secret(prefix: &str) -> String {
    secret::random_secret(prefix)
}

/// Prefix of client secrets and refresh tokens (greppable when leaked).
pub const CLIENT_SECRET_PREFIX: &str = "rcs_";
pub const REFRESH_PREFIX: &str = "rrt_";

/// A new client secret for client `client_id`: the secret, and what the store keeps.
pub fn seal_client_secret(key: &ServerKey, client_id: &str, secret: &str) -> SealedSecret {
    SealedSecret {
        hash: secret::hash_token(secret),
        sealed: key.seal(&roster_store::client_record(client_id), secret.as_bytes()),
    }
}

/// The caller's own OAuth client (created on first use), or with a new secret when
/// `rotate`: its id and current secret, for dialects that show them (Contabo's
/// `/v1/users/client`).
pub async fn own_client(
    state: &crate::AppState,
    caller: &crate::http::Caller,
    rotate: bool,
) -> Result<(String, String), crate::http::ApiError> {
    let p = caller.principal();
    let user = roster_core::UserName::parse(&p.user_name)?;
    client_of(
        state,
        &p.self_service().token_admin(),
        &caller.ctx(),
        &user,
        rotate,
    )
    .await
}

/// User `user`'s OAuth client as `by` may manage it (created on first use, a new secret when
/// `rotate`): its id and current secret.
pub async fn client_of(
    state: &crate::AppState,
    by: &roster_core::policy::TokenAdmin,
    ctx: &roster_store::WriteCtx,
    user: &roster_core::UserName,
    rotate: bool,
) -> Result<(String, String), crate::http::ApiError> {
    let key = state.tokens.server_key();
    let make = |id: &str| seal_client_secret(key, id, &new_secret(CLIENT_SECRET_PREFIX));
    let new_id = new_client_id();
    let store = state.store.as_ref();
    let c = if rotate {
        store
            .rotate_client_secret(by, ctx, user, &new_id, &make)
            .await?
    } else {
        store.ensure_client(by, ctx, user, &new_id, &make).await?
    };
    let plain = key
        .open(&roster_store::client_record(&c.client_id), &c.secret_sealed)
        .map_err(|e| {
            roster_core::CoreError::Internal(format!("cannot open a client secret: {e}"))
        })?;
    let secret = String::from_utf8(plain).map_err(|e| {
        roster_core::CoreError::Internal(format!("a client secret is not text: {e}"))
    })?;
    Ok((c.client_id, secret))
}

/// A new S3-style key pair: a 20-character access key (upper-case base32, like AWS's) and a
/// 40-character secret key (240 random bits), the secret sealed for the access key.
pub fn new_key_pair(key: &ServerKey) -> (String, String) {
    let access = format!("RK{}", secret::random_base32(18).to_ascii_uppercase());
    (access.clone(), seal_secret_key(key, &access))
}

/// A new secret key sealed for `access_key`.
pub fn seal_secret_key(key: &ServerKey, access_key: &str) -> String {
    let secret: String = new_secret("").chars().take(40).collect();
    key.seal(
        &roster_store::storage_credential_record(access_key),
        secret.as_bytes(),
    )
}

/// The secret key of a storage credential, opened.
pub fn open_secret_key(
    key: &ServerKey,
    c: &roster_store::StorageCredential,
) -> Result<String, roster_core::CoreError> {
    let plain = key
        .open(
            &roster_store::storage_credential_record(&c.access_key),
            &c.secret_sealed,
        )
        .map_err(|e| roster_core::CoreError::Internal(format!("cannot open a secret key: {e}")))?;
    String::from_utf8(plain)
        .map_err(|e| roster_core::CoreError::Internal(format!("a secret key is not text: {e}")))
}

struct KeySet {
    signer: Option<Arc<KeyPair>>,
    verifiers: HashMap<String, VerifyingKey>,
    loaded: Instant,
    unknown_kid_reload: Instant,
}

/// Issues and checks access tokens (one per server, shared by every request).
pub struct TokenService {
    key: ServerKey,
    issuer: Arc<str>,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    keys: RwLock<KeySet>,
    reload: tokio::sync::Mutex<()>,
    verified: quick_cache::sync::Cache<String, Arc<Claims>>,
}

/// An access token as issued.
pub struct Issued {
    pub token: String,
    pub expires_in: u64,
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

impl TokenService {
    pub fn new(key: ServerKey, issuer: &str, access_ttl: Duration, refresh_ttl: Duration) -> Self {
        let long_ago = Instant::now()
            .checked_sub(Duration::from_secs(3600))
            .unwrap_or_else(Instant::now);
        Self {
            key,
            issuer: issuer.trim_end_matches('/').into(),
            access_ttl,
            refresh_ttl,
            keys: RwLock::new(KeySet {
                signer: None,
                verifiers: HashMap::new(),
                loaded: long_ago,
                unknown_kid_reload: long_ago,
            }),
            reload: tokio::sync::Mutex::new(()),
            verified: quick_cache::sync::Cache::new(VERIFIED_CACHE),
        }
    }

    pub fn server_key(&self) -> &ServerKey {
        &self.key
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Keys that still verify some unexpired token, as JWKs (for `/.well-known/jwks.json`).
    pub async fn public_keys(&self, store: &dyn Store) -> Result<Vec<VerifyingKey>, StoreError> {
        self.refresh_keys(store, false).await?;
        let set = self.keys.read().unwrap_or_else(|e| e.into_inner());
        let mut keys: Vec<VerifyingKey> = set.verifiers.values().cloned().collect();
        keys.sort_by(|a, b| a.kid.cmp(&b.kid));
        Ok(keys)
    }

    /// Reloads the keys when they are older than [`RELOAD_EVERY`] (or `force`).
    async fn refresh_keys(&self, store: &dyn Store, force: bool) -> Result<(), StoreError> {
        let stale = |s: &KeySet| force || s.loaded.elapsed() >= RELOAD_EVERY;
        if !stale(&self.keys.read().unwrap_or_else(|e| e.into_inner())) {
            return Ok(());
        }
        let _one = self.reload.lock().await;
        if !force && !stale(&self.keys.read().unwrap_or_else(|e| e.into_inner())) {
            return Ok(());
        }
        let rows = store.signing_keys().await?;
        let oldest_useful = roster_core::now_micros()
            - i64::try_from((self.access_ttl + Duration::from_secs(jwt::LEEWAY_SECS)).as_micros())
                .unwrap_or(i64::MAX);
        let mut verifiers = HashMap::new();
        let mut signer = None;
        for r in &rows {
            if r.retired_at.is_some_and(|t| t < oldest_useful) {
                continue;
            }
            match VerifyingKey::new(r.kid.clone(), r.public_key.clone()) {
                Ok(v) => {
                    verifiers.insert(r.kid.clone(), v);
                }
                Err(e) => tracing::error!(kid = %r.kid, error = %e, "a signing key is unusable"),
            }
            if signer.is_none() && r.retired_at.is_none() {
                match self
                    .key
                    .open(&signing_key_record(&r.kid), &r.private_sealed)
                {
                    Ok(der) => {
                        signer = Some(Arc::new(KeyPair::from_der(
                            r.kid.clone(),
                            r.public_key.clone(),
                            &der,
                        )))
                    }
                    Err(e) => {
                        tracing::error!(kid = %r.kid, error = %e, "cannot open a signing key")
                    }
                }
            }
        }
        let mut set = self.keys.write().unwrap_or_else(|e| e.into_inner());
        set.signer = signer;
        set.verifiers = verifiers;
        set.loaded = Instant::now();
        Ok(())
    }

    /// Signs an access token for `owner`, obtained through client `client_id`.
    pub async fn issue(
        &self,
        store: &dyn Store,
        owner: &Principal,
        client_id: &str,
        scope: &str,
    ) -> Result<Issued, StoreError> {
        self.refresh_keys(store, false).await?;
        let signer = self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .signer
            .clone()
            .ok_or_else(|| StoreError::Config("no signing key can be opened".into()))?;
        let now = now_secs();
        let ttl = i64::try_from(self.access_ttl.as_secs()).unwrap_or(i64::MAX);
        let claims = Claims {
            iss: self.issuer.to_string(),
            sub: owner.user_id.to_string(),
            client_id: client_id.to_owned(),
            scope: scope.to_owned(),
            iat: now,
            exp: now.saturating_add(ttl),
            jti: Uuid::new_v4().simple().to_string(),
        };
        let token = signer.sign(&claims).map_err(StoreError::Config)?;
        Ok(Issued {
            token,
            expires_in: self.access_ttl.as_secs(),
        })
    }

    /// The claims of a token whose signature, algorithm, issuer and expiry hold.
    pub async fn claims(
        &self,
        store: &dyn Store,
        token: &str,
    ) -> Result<Result<Arc<Claims>, JwtError>, StoreError> {
        if let Some(c) = self.verified.get(token) {
            // Remembered tokens still expire.
            if c.exp + jwt::LEEWAY_SECS as i64 >= now_secs() {
                return Ok(Ok(c));
            }
            self.verified.remove(token);
            return Ok(Err(JwtError::Invalid("expired".into())));
        }
        let kid = match jwt::kid_of(token) {
            Ok(Some(k)) => k,
            Ok(None) => return Ok(Err(JwtError::UnknownKey(None))),
            Err(e) => return Ok(Err(e)),
        };
        self.refresh_keys(store, false).await?;
        let mut key = self.verifier(&kid);
        if key.is_none() && self.may_reload_for_unknown_kid() {
            self.refresh_keys(store, true).await?;
            key = self.verifier(&kid);
        }
        let Some(key) = key else {
            return Ok(Err(JwtError::UnknownKey(Some(kid))));
        };
        Ok(jwt::verify(token, &key, &self.issuer).map(|c| {
            let c = Arc::new(c);
            self.verified.insert(token.to_owned(), c.clone());
            c
        }))
    }

    /// The principal a Bearer JWT stands for, checked against the database now: `None`
    /// when the token is not valid or its user or client is gone or deactivated.
    pub async fn principal(
        &self,
        principals: &crate::http::principals::PrincipalCache,
        store: &Arc<dyn Store>,
        token: &str,
    ) -> Result<Option<Principal>, StoreError> {
        let claims = match self.claims(store.as_ref(), token).await? {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "a JWT was refused");
                return Ok(None);
            }
        };
        let Ok(user) = Uuid::parse_str(&claims.sub) else {
            return Ok(None);
        };
        // What the store checks a JWT by: the same three always get the same answer.
        let key = format!("jwt:{user}:{}:{}", claims.client_id, claims.iat);
        let ends_at = (claims.exp + jwt::LEEWAY_SECS as i64).saturating_mul(1_000_000);
        principals
            .principal(store, &key, Some(ends_at), || {
                store.principal_for_client(user, &claims.client_id, claims.iat)
            })
            .await
    }

    fn verifier(&self, kid: &str) -> Option<VerifyingKey> {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .verifiers
            .get(kid)
            .cloned()
    }

    fn may_reload_for_unknown_kid(&self) -> bool {
        let mut set = self.keys.write().unwrap_or_else(|e| e.into_inner());
        if set.unknown_kid_reload.elapsed() < UNKNOWN_KID_RELOAD {
            return false;
        }
        set.unknown_kid_reload = Instant::now();
        true
    }
}

/// Adds a signing key (sealed with `key`) that signs from now on; keys retired longer
/// ago than twice `access_ttl` are forgotten. Returns its kid.
pub async fn add_signing_key(
    store: &dyn Store,
    by: &Operator,
    key: &ServerKey,
    access_ttl: Duration,
) -> anyhow::Result<String> {
    let now = roster_core::now_micros();
    let kid = format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%d"),
        &Uuid::new_v4().simple().to_string()[..8]
    );
    let (pair, der) = KeyPair::generate(kid.clone()).map_err(anyhow::Error::msg)?;
    let record = SigningKeyRecord {
        kid: kid.clone(),
        public_key: pair.public_x.clone(),
        private_sealed: key.seal(&signing_key_record(&kid), &der),
        created_at: now,
        retired_at: None,
    };
    let keep = i64::try_from((access_ttl * 2).as_micros()).unwrap_or(i64::MAX);
    store
        .add_signing_key(by, &Default::default(), &record, now.saturating_sub(keep))
        .await?;
    Ok(kid)
}

/// Makes sure a key can sign: on a database without one, adds the first.
pub async fn ensure_signing_key(
    store: &dyn Store,
    by: &Operator,
    key: &ServerKey,
    access_ttl: Duration,
) -> anyhow::Result<()> {
    let keys = store.signing_keys().await?;
    if keys.iter().any(|k| k.retired_at.is_none()) {
        return Ok(());
    }
    let kid = add_signing_key(store, by, key, access_ttl).await?;
    tracing::info!(kid = %kid, "created the first OAuth signing key");
    Ok(())
}
