use std::sync::Arc;

use reqwest::{Method, StatusCode};
use roster_core::policy::Operator;
use roster_core::{secret, Email, NewUser, Permission, UserName};
use roster_server::app::AppOptions;
use roster_server::passwords::Passwords;
use roster_server::tokens::TokenService;
use roster_server::AppState;
use roster_store::{Bootstrap, OpenOptions, Store, WriteCtx};
use serde_json::{json, Value};
use tokio::sync::oneshot;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef0123456789";
pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    pub db_url: String,
    pub dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// The server key of in-process test servers: every node of a test's database shares it,
/// as real nodes must (`roster serve`'s own key handling is tested through the binary).
pub const TEST_SERVER_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

pub fn test_server_key() -> roster_core::sealed::ServerKey {
    roster_core::sealed::ServerKey::parse(TEST_SERVER_KEY).unwrap()
}

/// A token service with the test server key and a signing key in the database (what
/// `roster serve` sets up on start).
pub async fn test_tokens(store: &dyn Store, base: &str) -> TokenService {
    let key = test_server_key();
    let ttl = std::time::Duration::from_secs(3600);
    roster_server::tokens::ensure_signing_key(store, &operator(), &key, ttl)
        .await
        .unwrap();
    TokenService::new(key, base, ttl, std::time::Duration::from_secs(86_400))
}

/// A change to a test server's state before it serves (its limits, its mail).
type Adjust = Box<dyn FnOnce(&mut AppState) + Send>;

pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestApp {
    /// A fresh database with the bootstrap admin (token [`ADMIN_TOKEN`]).
    pub async fn spawn() -> Self {
        Self::spawn_with(AppOptions::default(), None).await
    }

    /// As [`TestApp::spawn`], with these settings (and password pool, when given).
    pub async fn spawn_with(opts: AppOptions, passwords: Option<Passwords>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db_url = fresh_database_url(dir.path()).await;
        let store = roster_store::open(&db_url, &OpenOptions::default())
            .await
            .unwrap();
        let mut admin = NewUser::new(UserName::parse("admin").unwrap());
        admin.display_name = Some("Admin".into());
        let created = store
            .bootstrap(
                &operator(),
                &WriteCtx::default(),
                &Bootstrap {
                    admin,
                    token: secret::from_secret(ADMIN_TOKEN.into()),
                },
            )
            .await
            .unwrap();
        assert!(created);
        Self::serve_opts(dir, db_url, store, opts, passwords).await
    }

    /// Serves an already opened store on a new ephemeral port.
    pub async fn serve(dir: tempfile::TempDir, db_url: String, store: Arc<dyn Store>) -> Self {
        Self::serve_opts(dir, db_url, store, AppOptions::default(), None).await
    }

    /// Another node of this one's database: its own connections, token cache and port, the
    /// same token issuer (nodes share ROSTER_PUBLIC_URL, which names the issuer).
    pub async fn second_node(&self) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = self.db_url.clone();
        let store = roster_store::open(&db, &OpenOptions::default())
            .await
            .unwrap();
        let issuer = Some(self.base.clone());
        Self::serve_full(dir, db, store, AppOptions::default(), None, issuer).await
    }

    pub async fn serve_opts(
        dir: tempfile::TempDir,
        db_url: String,
        store: Arc<dyn Store>,
        opts: AppOptions,
        passwords: Option<Passwords>,
    ) -> Self {
        Self::serve_full(dir, db_url, store, opts, passwords, None).await
    }

    /// A fresh database with the bootstrap admin, served with these rate limits.
    pub async fn spawn_limited(limits: Arc<roster_server::http::limits::RateLimits>) -> Self {
        let plain = Self::spawn().await;
        let mut node = plain.node_limited(limits).await;
        // The database's files live in the first app's directory: keep it.
        let (dir, _) = plain.stop().await;
        node.dir = dir;
        node
    }

    /// Another node of this one's database (as [`TestApp::second_node`]) with these limits.
    pub async fn node_limited(&self, limits: Arc<roster_server::http::limits::RateLimits>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = self.db_url.clone();
        let store = roster_store::open(&db, &OpenOptions::default())
            .await
            .unwrap();
        let issuer = Some(self.base.clone());
        let adjust: Adjust = Box::new(move |s| s.limits = limits);
        Self::serve_adjusted(dir, db, store, AppOptions::default(), None, issuer, adjust).await
    }

    /// A fresh database with the bootstrap admin, whose mail follows `settings`; no sender
    /// runs unless `send` (tests read the outbox through the store otherwise).
    pub async fn spawn_mail(settings: roster_server::mail::MailSettings, send: bool) -> Self {
        let plain = Self::spawn().await;
        let dir = tempfile::tempdir().unwrap();
        let db = plain.db_url.clone();
        let store = roster_store::open(&db, &OpenOptions::default())
            .await
            .unwrap();
        let issuer = Some(plain.base.clone());
        let sender_store = store.clone();
        let adjust: Adjust = Box::new(move |s| {
            let outlet = roster_server::mail::sender::Outlet::new(&settings.transport).unwrap();
            s.mail = roster_server::mail::Mail::new(settings, &s.public_url);
            if send {
                roster_server::mail::sender::spawn(
                    sender_store,
                    s.mail.clone(),
                    outlet,
                    test_server_key(),
                );
            }
        });
        let mut node =
            Self::serve_adjusted(dir, db, store, AppOptions::default(), None, issuer, adjust).await;
        let (dir, _) = plain.stop().await;
        node.dir = dir;
        node
    }

    async fn serve_full(
        dir: tempfile::TempDir,
        db_url: String,
        store: Arc<dyn Store>,
        opts: AppOptions,
        passwords: Option<Passwords>,
        issuer: Option<String>,
    ) -> Self {
        Self::serve_adjusted(
            dir,
            db_url,
            store,
            opts,
            passwords,
            issuer,
            Box::new(|_| {}),
        )
        .await
    }

    async fn serve_adjusted(
        dir: tempfile::TempDir,
        db_url: String,
        store: Arc<dyn Store>,
        opts: AppOptions,
        passwords: Option<Passwords>,
        issuer: Option<String>,
        adjust: Adjust,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let passwords = passwords.unwrap_or_else(|| Passwords::with_defaults(Default::default()));
        let tokens = test_tokens(store.as_ref(), issuer.as_deref().unwrap_or(&base)).await;
        let mut state = AppState::new(store.clone(), &base, passwords, tokens);
        adjust(&mut state);
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            roster_server::app::serve(listener, state, &opts, async {
                let _ = rx.await;
            })
            .await;
        });
        Self {
            base,
            client: reqwest::Client::new(),
            store,
            db_url,
            dir,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    /// Stops the server and closes the database, keeping the files.
    pub async fn stop(mut self) -> (tempfile::TempDir, String) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            s.await.unwrap();
        }
        self.store.close().await;
        (self.dir, self.db_url)
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Resp {
        send_with(&self.client, &self.base, method, path, headers, body).await
    }

    /// A JSON request under a dialect's prefix, authenticated with `auth`.
    async fn dialect(
        &self,
        method: Method,
        path: &str,
        auth: (&str, &str),
        content_type: &str,
        body: Option<Value>,
    ) -> Resp {
        let mut h = vec![auth, ("Accept", "application/scim+json")];
        if body.is_some() {
            h.push(("Content-Type", content_type));
        }
        let body = body.map(|b| b.to_string().into_bytes());
        self.raw(method, path, &h, body).await
    }

    /// A JSON request the way the odm-api SDK sends it (Genestack-API-Token header).
    pub async fn odm(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Resp {
        let path = format!("/api/v1/scim{path}");
        let auth = ("Genestack-API-Token", token);
        self.dialect(method, &path, auth, "application/json", body)
            .await
    }

    pub async fn scim(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Resp {
        let (path, bearer) = (format!("/scim/v2{path}"), format!("Bearer {token}"));
        let auth = ("Authorization", bearer.as_str());
        self.dialect(method, &path, auth, "application/scim+json", body)
            .await
    }

    /// Creates an active user (the shape of [`user_body`]) through the store; returns its id.
    pub async fn create_user(&self, name: &str) -> String {
        let mut u = NewUser::new(UserName::parse(name).unwrap());
        u.display_name = Some(format!("{name} display"));
        u.emails = vec![Email {
            value: format!("{name}@example.com"),
            kind: Some("work".into()),
            primary: true,
            display: None,
        }];
        self.store
            .create_user(&operator().user_admin(), &WriteCtx::default(), &u)
            .await
            .unwrap()
            .id
            .to_string()
    }

    /// Creates a group without members through the store; returns its id.
    pub async fn create_group(&self, name: &str) -> String {
        let new = roster_core::NewGroup {
            display_name: name.to_owned(),
            external_id: None,
            members: Vec::new(),
        };
        self.store
            .create_group(
                &operator().group_manager().creator(),
                &WriteCtx::default(),
                &new,
            )
            .await
            .unwrap()
            .id
            .to_string()
    }

    /// `GET /scim/v2/Users?filter=...` with this token.
    pub async fn find_users(&self, filter: &str, token: &str) -> Resp {
        let path = format!("/Users?filter={}", urlencode(filter));
        self.scim(Method::GET, &path, token, None).await
    }

    /// A SCIM request with a body, as the bootstrap admin.
    pub async fn scim_admin(&self, method: Method, path: &str, body: Value) -> Resp {
        self.scim(method, path, ADMIN_TOKEN, Some(body)).await
    }

    /// An ODM request with a body, as the bootstrap admin.
    pub async fn odm_admin(&self, method: Method, path: &str, body: Value) -> Resp {
        self.odm(method, path, ADMIN_TOKEN, Some(body)).await
    }

    /// A SCIM PATCH with these operations.
    pub async fn scim_patch(&self, path: &str, token: &str, ops: Value) -> Resp {
        self.scim(Method::PATCH, path, token, Some(patch(ops)))
            .await
    }

    /// An ODM PATCH with these operations.
    pub async fn odm_patch(&self, path: &str, token: &str, ops: Value) -> Resp {
        self.odm(Method::PATCH, path, token, Some(patch(ops))).await
    }

    /// Issues an API token for a user directly through the store.
    pub async fn token_for(&self, name: &str) -> String {
        let t = secret::generate_token();
        self.store
            .create_token(
                &operator().token_admin(),
                &WriteCtx::default(),
                &UserName::parse(name).unwrap(),
                None,
                &t,
                None,
            )
            .await
            .unwrap();
        t.secret
    }

    /// The user's OAuth client (created on first use): (client_id, client_secret).
    pub async fn client_for(&self, name: &str) -> (String, String) {
        let key = test_server_key();
        let make = |id: &str| {
            let s = roster_server::tokens::new_secret(roster_server::tokens::CLIENT_SECRET_PREFIX);
            roster_server::tokens::seal_client_secret(&key, id, &s)
        };
        let c = self
            .store
            .ensure_client(
                &operator().token_admin(),
                &WriteCtx::default(),
                &UserName::parse(name).unwrap(),
                &roster_server::tokens::new_client_id(),
                &make,
            )
            .await
            .unwrap();
        let plain = key
            .open(&roster_store::client_record(&c.client_id), &c.secret_sealed)
            .unwrap();
        (c.client_id, String::from_utf8(plain).unwrap())
    }

    /// A form POST (the OAuth endpoints), with extra headers.
    pub async fn form(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
        let mut h = vec![("Content-Type", "application/x-www-form-urlencoded")];
        h.extend_from_slice(headers);
        self.raw(Method::POST, path, &h, Some(body.as_bytes().to_vec()))
            .await
    }

    /// An access token for the user through the client-credentials grant.
    pub async fn jwt_for(&self, name: &str) -> String {
        let (id, secret) = self.client_for(name).await;
        let r = self
            .form(
                "/oauth/token",
                &[],
                &format!(
                    "grant_type=client_credentials&client_id={id}&client_secret={}",
                    urlencode(&secret)
                ),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn grant(&self, name: &str, p: Permission) {
        self.store
            .set_permission(
                &operator().user_admin(),
                &WriteCtx::default(),
                &UserName::parse(name).unwrap(),
                p,
                true,
            )
            .await
            .unwrap();
    }

    /// Every user as the store sees it (for "nothing changed" assertions).
    pub async fn snapshot(&self) -> Vec<String> {
        let page = roster_core::PageRequest {
            start_index: 1,
            count: 1000,
        };
        let (users, groups) = (
            operator().user_admin().reader(),
            operator().group_manager().reader(),
        );
        let uq = roster_store::UserQuery {
            page,
            ..Default::default()
        };
        let gq = roster_store::GroupQuery {
            page,
            with_members: true,
            ..Default::default()
        };
        let page = self.store.list_users(&users, &uq).await.unwrap();
        let groups = self.store.list_groups(&groups, &gq).await.unwrap();
        page.items
            .iter()
            .map(|u| format!("{u:?}"))
            .chain(groups.items.iter().map(|g| format!("{g:?}")))
            .collect()
    }
}

/// One request with `client`, its answer read whole.
pub async fn send_with(
    client: &reqwest::Client,
    base: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Resp {
    let mut req = client.request(method, format!("{base}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
        text,
    }
}

/// What the tests act as when they set up data directly in the store.
pub fn operator() -> Operator {
    Operator::local("test")
}

/// A database nobody has used: a new SQLite file in `dir`, or, when
/// `ROSTER_TEST_DATABASE_URL` names a PostgreSQL database, a new schema in it (selected
/// through the connection's search_path).
pub async fn fresh_database_url(dir: &std::path::Path) -> String {
    let base = std::env::var("ROSTER_TEST_DATABASE_URL").unwrap_or_default();
    if !base.starts_with("postgres") {
        return format!("sqlite://{}", dir.join("roster.db").display());
    }
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx_pg_admin(&base).await;
    admin.execute(&format!("CREATE SCHEMA {schema}")).await;
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

/// A throwaway connection to create schemas with, via the store's own driver.
async fn sqlx_pg_admin(base: &str) -> PgAdmin {
    PgAdmin(base.to_owned())
}

pub struct PgAdmin(String);

impl PgAdmin {
    pub async fn execute(&self, sql: &str) {
        let status = tokio::process::Command::new("psql")
            .args([self.0.as_str(), "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .status()
            .await
            .expect("psql is needed to prepare PostgreSQL test schemas");
        assert!(status.success(), "psql failed: {sql}");
    }
}

pub fn user_body(name: &str) -> Value {
    json!({
        "schemas": [USER_URN],
        "userName": name,
        "displayName": format!("{name} display"),
        "active": true,
        "emails": [{"type": "work", "value": format!("{name}@example.com"), "primary": true}],
    })
}

/// The userNames of a ListResponse's resources, sorted.
pub fn sorted_user_names(r: &Resp) -> Vec<String> {
    let mut n: Vec<String> = r.body["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {}", r.text))
        .iter()
        .map(|u| u["userName"].as_str().unwrap().to_owned())
        .collect();
    n.sort();
    n
}

/// Percent-encodes a query value (a filter).
pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_URN], "Operations": ops})
}

/// Asserts a SCIM error body with the given status and scimType.
pub fn assert_scim_error(r: &Resp, status: u16, scim_type: Option<&str>) {
    assert_eq!(r.status.as_u16(), status, "body: {}", r.text);
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
        "{}",
        r.text
    );
    assert_eq!(r.body["status"], json!(status.to_string()), "{}", r.text);
    assert!(
        r.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{}",
        r.text
    );
    match scim_type {
        Some(t) => assert_eq!(r.body["scimType"], json!(t), "{}", r.text),
        None => assert!(r.body.get("scimType").is_none(), "{}", r.text),
    }
}
