//! Command line and environment settings. Every flag has a `ROSTER_*` variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "roster",
    version,
    about = "Roster: a user and group directory server (SCIM 2.0 and vendor dialects)"
)]
pub struct Cli {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct DbArgs {
    /// Database URL: `sqlite:///abs/path/roster.db` (created on first start) or
    /// `postgres://user@host:5432/db`. Default: an SQLite file `roster.db` in the data directory.
    #[arg(long, env = "ROSTER_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Directory for the default SQLite database (used when no database URL is given).
    #[arg(long, env = "ROSTER_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    /// Connection pool size (SQLite: read connections; it always has one writer).
    #[arg(
        long,
        env = "ROSTER_DB_MAX_CONNECTIONS",
        default_value_t = 8,
        global = true
    )]
    pub db_max_connections: u32,
    /// PostgreSQL: keep retrying the first connection (with backoff) for this many seconds,
    /// then refuse to start.
    #[arg(
        long,
        env = "ROSTER_DB_CONNECT_TIMEOUT_SECS",
        default_value_t = 30,
        global = true
    )]
    pub db_connect_timeout_secs: u64,
    /// A request waits at most this long for a pooled connection, then gets 503.
    #[arg(
        long,
        env = "ROSTER_DB_ACQUIRE_TIMEOUT_MS",
        default_value_t = 3000,
        global = true
    )]
    pub db_acquire_timeout_ms: u64,
    /// Longest a statement may run before it is cancelled and the request gets 503
    /// (PostgreSQL: server-side statement_timeout; SQLite: interrupted by a progress handler).
    #[arg(
        long,
        env = "ROSTER_DB_STATEMENT_TIMEOUT_MS",
        default_value_t = 30000,
        global = true
    )]
    pub db_statement_timeout_ms: u64,
    /// The server key that encrypts the secrets Roster must show again (OAuth client
    /// secrets, signing keys): 32 bytes as base64 or hex (`roster secrets generate`). Every
    /// node of one database needs the same key. Default: ROSTER_SECRET_KEY_FILE, else the
    /// key file `secret.key` in the data directory (created 0600 on first start).
    #[arg(long, env = "ROSTER_SECRET_KEY", hide_env_values = true, global = true)]
    pub secret_key: Option<String>,
    /// A file holding the server key (e.g. a mounted secret); see ROSTER_SECRET_KEY.
    #[arg(long, env = "ROSTER_SECRET_KEY_FILE", global = true)]
    pub secret_key_file: Option<PathBuf>,
}

impl DbArgs {
    pub fn open_options(&self) -> roster_store::OpenOptions {
        roster_store::OpenOptions {
            max_connections: self.db_max_connections,
            connect_timeout: Duration::from_secs(self.db_connect_timeout_secs),
            acquire_timeout: Duration::from_millis(self.db_acquire_timeout_ms),
            statement_timeout: Duration::from_millis(self.db_statement_timeout_ms),
            ..roster_store::OpenOptions::default()
        }
    }

    pub fn url(&self) -> anyhow::Result<String> {
        match &self.database_url {
            Some(u) => Ok(u.clone()),
            None => {
                let dir = std::path::absolute(&self.data_dir)?;
                Ok(format!("sqlite://{}", dir.join("roster.db").display()))
            }
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (migrations run on start).
    Serve(Box<ServeArgs>),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage users' permissions.
    #[command(subcommand)]
    User(UserCommand),
    /// Show or rotate a user's personal OAuth client (client_id and client_secret).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage the keys that sign OAuth access tokens.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage the server key that encrypts secrets at rest.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Inspect and retry the mail outbox.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Manage the roles users hold (Contabo's roles; `--admin` gives manage-organization).
    #[command(subcommand)]
    Role(RoleCommand),
    /// Manage the S3-compatible object storages users get credentials for.
    #[command(subcommand)]
    Storage(StorageCommand),
    /// Write the whole directory as JSON lines (format: see README, "Export and import"):
    /// one snapshot, streamed.
    Export {
        /// The file to write (created 0600; refused if it exists); standard output without.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Load an export into this database, which must be empty (a new SQLite file or
    /// PostgreSQL schema), in one transaction.
    Import {
        /// The export (`-` for standard input).
        file: PathBuf,
        /// Into a database that holds rows already: rows that are there identically are
        /// skipped, a row whose key is there with other values fails the whole import.
        #[arg(long)]
        merge: bool,
    },
    /// Copy the embedded SQLite database to a new file while servers keep running (SQLite's
    /// online backup API: the copy is the database as of one commit).
    Backup {
        /// The new file (refused if it exists; created 0600).
        file: PathBuf,
    },
    /// Manage organizations (CVAT's): groups with a unique slug; members through the
    /// group (SCIM /Groups).
    #[command(subcommand)]
    Org(OrgCommand),
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization (a new group) and print its group's SCIM id.
    Create {
        /// 1 to 16 of A-Z a-z 0-9 - _ (what CVAT accepts).
        slug: String,
        /// The group's displayName (default: the slug).
        #[arg(long)]
        name: Option<String>,
    },
    /// Print every organization: slug, org_id, group id, name (tab-separated).
    List,
    /// Delete the organization and its group (memberships with it).
    Delete { slug: String },
}

#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Add an object storage (every user gets a credential for it on first use) and print it.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        region: String,
    },
    /// Print every object storage: id, name, region.
    List,
    /// Remove an object storage and every credential for it.
    Remove { id: uuid::Uuid },
}

/// A role as the CLI writes it.
#[derive(Debug, Args)]
pub struct RoleArgs {
    /// The role's name (unique).
    #[arg(long)]
    pub name: String,
    /// Its holders get manage-organization.
    #[arg(long)]
    pub admin: bool,
    /// It reaches every resource.
    #[arg(long)]
    pub access_all_resources: bool,
    /// Its permissions as JSON: `[{"apiName": "/v1/compute/instances", "actions": ["READ"],
    /// "resources": [{"tagId": 1, "tagName": "web"}]}]`.
    #[arg(long, default_value = "[]")]
    pub permissions: String,
}

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Create a role and print it as JSON.
    Create(RoleArgs),
    /// Print every role as JSON, one per line.
    List,
    /// Replace the role with this id.
    Update {
        id: i64,
        #[command(flatten)]
        role: RoleArgs,
    },
    /// Delete the role with this id (its holders lose it).
    Delete { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// List mails, newest first: id, status, attempts, kind, recipient, times, last error
    /// (never a body: it holds a link).
    List {
        /// Only mails in this state.
        #[arg(long, value_parser = ["queued", "sent", "failed"])]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Queue a failed (or waiting) mail again, due now.
    Retry {
        /// The mail's id (from `roster mail list`).
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Print `{"client_id": ..., "client_secret": ...}` of the user's client (created on
    /// first use) with its current secret.
    Show {
        /// The user's SCIM userName.
        #[arg(long)]
        user: String,
    },
    /// Give the user's client a new secret (the old one stops working at once, and so do
    /// its refresh tokens) and print the same object.
    Rotate {
        /// The user's SCIM userName.
        #[arg(long)]
        user: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a signing key that signs from now on (every node picks it up within seconds);
    /// older keys keep verifying the tokens they signed until those expired.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Print a new random server key (base64), e.g. for ROSTER_SECRET_KEY.
    Generate,
    /// Re-encrypt every sealed secret under a new key, in one transaction. The new key is
    /// read from --new-key-file; without it, when the current key is the data directory's
    /// key file, a new key is generated and replaces that file.
    Rekey {
        /// A file holding the new key (`roster secrets generate > new.key`).
        #[arg(long)]
        new_key_file: Option<PathBuf>,
    },
}

#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ROSTER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Public base URL of every link Roster writes (`meta.location`, member `$ref`,
    /// `Location`), e.g. https://dir.example.com. Required when listening on anything but
    /// a loopback address; on loopback the default is `http://` + the listen address. Never
    /// taken from a request's Host header.
    #[arg(long, env = "ROSTER_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Fewest characters a password may have (at most 256 it may have).
    #[arg(long, env = "ROSTER_PASSWORD_MIN_LENGTH", default_value_t = 12)]
    pub password_min_length: usize,
    /// Password hashes and checks (argon2id, ~19 MiB each) running at once; default: the
    /// number of cores.
    #[arg(long, env = "ROSTER_PASSWORD_WORKERS")]
    pub password_workers: Option<usize>,
    /// Milliseconds a password hash or check waits for a worker before it is refused (503).
    #[arg(long, env = "ROSTER_PASSWORD_QUEUE_MS", default_value_t = 1000)]
    pub password_queue_ms: u64,
    /// Largest request body accepted, in bytes; larger bodies get 413.
    #[arg(long, env = "ROSTER_MAX_BODY_BYTES", default_value_t = 2 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Seconds a request may take before it is answered with 503.
    #[arg(long, env = "ROSTER_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Seconds a client has to send a complete request head (request line and headers)
    /// once its first byte arrived; slower connections are closed.
    #[arg(long, env = "ROSTER_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,
    /// Seconds a keep-alive connection may sit without a request before it is closed (keep
    /// it above a load balancer's own idle time-out).
    #[arg(long, env = "ROSTER_IDLE_TIMEOUT_SECS", default_value_t = 75)]
    pub idle_timeout_secs: u64,
    /// Most client connections open at once; more wait in the listen backlog.
    #[arg(long, env = "ROSTER_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// userName of the first admin, created on an EMPTY database only.
    #[arg(long, env = "ROSTER_BOOTSTRAP_ADMIN")]
    pub bootstrap_admin: Option<String>,
    /// Password of the first admin (stored as argon2id).
    #[arg(long, env = "ROSTER_BOOTSTRAP_PASSWORD", hide_env_values = true)]
    pub bootstrap_password: Option<String>,
    /// API token secret of the first admin (stored as SHA-256); at least 32 characters.
    #[arg(long, env = "ROSTER_BOOTSTRAP_TOKEN", hide_env_values = true)]
    pub bootstrap_token: Option<String>,
    /// argon2id password verifications per client IP, and failed ones per account:
    /// `RATE[,BURST]` (e.g. `30/min,30`) or `off`.
    #[arg(long, env = "ROSTER_RATE_LIMIT_PASSWORDS", default_value = "30/min,30")]
    pub rate_limit_passwords: String,
    /// Unauthenticated requests and failed authentications per client IP.
    #[arg(long, env = "ROSTER_RATE_LIMIT_ANONYMOUS", default_value = "100/s,200")]
    pub rate_limit_anonymous: String,
    /// Requests per signed-in user and credential kind (e.g. `1000/s,2000`); off by default.
    #[arg(long, env = "ROSTER_RATE_LIMIT_PER_CREDENTIAL", default_value = "off")]
    pub rate_limit_per_credential: String,
    /// Redis for rate limits shared by every node (`redis://127.0.0.1:6379`); without it
    /// each node limits on its own.
    #[arg(long, env = "ROSTER_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Prefix of Roster's keys in Redis (deployments sharing one Redis each set their own).
    #[arg(long, env = "ROSTER_REDIS_KEY_PREFIX", default_value = "roster:rl")]
    pub redis_key_prefix: String,
    /// Proxies whose `X-Forwarded-For` names the client: comma-separated addresses or CIDR
    /// ranges (e.g. `10.0.0.0/8,127.0.0.1`).
    #[arg(long, env = "ROSTER_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// Serve Prometheus metrics at `http://<this>/metrics` (e.g. `127.0.0.1:9090`); unset:
    /// no metrics. Keep it off the public network.
    #[arg(long, env = "ROSTER_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Delete audit rows older than this many days (in small batches, hourly); unset: keep
    /// them forever.
    #[arg(long, env = "ROSTER_AUDIT_RETENTION_DAYS", value_parser = clap::value_parser!(u64).range(1..))]
    pub audit_retention_days: Option<u64>,
    /// One access-log line per request at `info` (`on`) or none (`off`).
    #[arg(long, env = "ROSTER_ACCESS_LOG", default_value = "on", value_parser = ["on", "off"])]
    pub access_log: String,
    /// The organization's short name, shown as SailPoint's `tenant`.
    #[arg(long, env = "ROSTER_TENANT", default_value = "roster")]
    pub tenant: String,
    /// The organization's tenant id, shown as Contabo's `tenantId`.
    #[arg(long, env = "ROSTER_TENANT_ID", default_value = "roster")]
    pub tenant_id: String,
    /// The organization's customer id, shown as Contabo's `customerId`.
    #[arg(long, env = "ROSTER_CUSTOMER_ID", default_value = "1")]
    pub customer_id: String,
    /// Name of the object storage a fresh deployment starts with (`roster storage` adds more).
    #[arg(
        long,
        env = "ROSTER_OBJECT_STORAGE_NAME",
        default_value = "Object Storage"
    )]
    pub object_storage_name: String,
    /// Region of that object storage.
    #[arg(
        long,
        env = "ROSTER_OBJECT_STORAGE_REGION",
        default_value = "European Union"
    )]
    pub object_storage_region: String,
    /// Lifetime of OAuth access tokens (JWTs), in seconds.
    #[arg(long, env = "ROSTER_ACCESS_TOKEN_TTL_SECS", default_value_t = 3600)]
    pub access_token_ttl_secs: u64,
    /// Lifetime of OAuth refresh tokens (password grant), in seconds.
    #[arg(long, env = "ROSTER_REFRESH_TOKEN_TTL_SECS", default_value_t = 30 * 86_400)]
    pub refresh_token_ttl_secs: u64,
    /// Mail server: `smtp://host:25`, `smtp://user:pass@host:587?tls=required` (STARTTLS),
    /// `smtps://host:465`. Unset: each mail is written as an `.eml` file under
    /// `<data dir>/mail/` (the log says where).
    #[arg(long, env = "ROSTER_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of Roster's mail, e.g. `Directory <directory@example.com>`.
    #[arg(
        long,
        env = "ROSTER_MAIL_FROM",
        default_value = "Roster <roster@localhost>"
    )]
    pub mail_from: String,
    /// Origins a reset or verification link may send the user on to once used
    /// (`redirectUrl`), comma-separated, e.g. `https://app.example.com`; others are refused.
    #[arg(long, env = "ROSTER_REDIRECT_ALLOWLIST", value_delimiter = ',')]
    pub redirect_allowlist: Vec<String>,
    /// Lifetime of a password-reset link, in seconds.
    #[arg(long, env = "ROSTER_RESET_TOKEN_TTL_SECS", default_value_t = 3600)]
    pub reset_token_ttl_secs: u64,
    /// Lifetime of an email-verification link, in seconds.
    #[arg(long, env = "ROSTER_VERIFY_TOKEN_TTL_SECS", default_value_t = 86_400)]
    pub verify_token_ttl_secs: u64,
    /// Seconds before the first retry of a mail the server did not take (4xx, unreachable);
    /// the wait doubles per attempt up to 5 minutes, for 24 hours.
    #[arg(long, env = "ROSTER_MAIL_RETRY_SECS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub mail_retry_secs: u64,
    /// Serve HTTPS with this PEM certificate chain (with ROSTER_TLS_KEY_FILE); SIGHUP reloads
    /// both files. Without it Roster speaks plain HTTP (loopback, or behind a TLS proxy).
    #[arg(long, env = "ROSTER_TLS_CERT_FILE", requires = "tls_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    /// The PEM private key of ROSTER_TLS_CERT_FILE.
    #[arg(long, env = "ROSTER_TLS_KEY_FILE", requires = "tls_cert_file")]
    pub tls_key_file: Option<PathBuf>,
    /// Lifetime of a sign-in session (CVAT's login cookies and key), in seconds from the
    /// login; logout, deactivation and a password change end it sooner.
    #[arg(long, env = "ROSTER_SESSION_TTL_SECS", default_value_t = 1_209_600, value_parser = clap::value_parser!(u64).range(60..=31_536_000))]
    pub session_ttl_secs: u64,
    /// Longest a web-console session lasts, in seconds from sign-in.
    #[arg(long, env = "ROSTER_CONSOLE_SESSION_SECS", default_value_t = 43_200, value_parser = clap::value_parser!(u64).range(60..=2_592_000))]
    pub console_session_secs: u64,
    /// A web-console session unused for this many seconds ends.
    #[arg(long, env = "ROSTER_CONSOLE_IDLE_SECS", default_value_t = 1_800, value_parser = clap::value_parser!(u64).range(60..=2_592_000))]
    pub console_idle_secs: u64,
}

impl ServeArgs {
    /// The rate limits these settings ask for.
    pub async fn rate_limits(&self) -> anyhow::Result<crate::http::limits::RateLimits> {
        use crate::http::limits::{Kind, Limits, RateLimits, RateSpec};
        let spec =
            |name: &str, v: &str| RateSpec::parse(v).map_err(|e| anyhow::anyhow!("{name}: {e}"));
        let specs = [
            (
                Kind::Passwords,
                spec("ROSTER_RATE_LIMIT_PASSWORDS", &self.rate_limit_passwords)?,
            ),
            (
                Kind::Anonymous,
                spec("ROSTER_RATE_LIMIT_ANONYMOUS", &self.rate_limit_anonymous)?,
            ),
            (
                Kind::PerCredential,
                spec(
                    "ROSTER_RATE_LIMIT_PER_CREDENTIAL",
                    &self.rate_limit_per_credential,
                )?,
            ),
        ];
        let trusted_proxies = self
            .trusted_proxies
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "ROSTER_TRUSTED_PROXIES: {s:?} is not an address or CIDR range"
                        )
                    })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(RateLimits {
            limits: Limits::new(&specs, self.redis_url.as_deref(), &self.redis_key_prefix).await?,
            trusted_proxies,
        })
    }

    /// The mail settings these ask for; `data_dir` holds `.eml` files without an SMTP URL.
    pub fn mail_settings(
        &self,
        data_dir: &std::path::Path,
    ) -> anyhow::Result<crate::mail::MailSettings> {
        use crate::mail::{origin, MailSettings, Transport};
        let transport = match self.smtp_url.as_deref().map(str::trim) {
            Some(u) if !u.is_empty() => Transport::Smtp(u.to_owned()),
            _ => Transport::Dir(std::path::absolute(data_dir)?.join("mail")),
        };
        let from = self.mail_from.parse().map_err(|e| {
            anyhow::anyhow!(
                "ROSTER_MAIL_FROM {:?} is not a mailbox: {e}",
                self.mail_from
            )
        })?;
        let redirect_allowlist = self
            .redirect_allowlist
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(|s| match origin(s) {
                Some(o) if o.len() == s.trim_end_matches('/').len() => Ok(o),
                _ => Err(anyhow::anyhow!(
                    "ROSTER_REDIRECT_ALLOWLIST: {s:?} is not an origin like https://app.example.com"
                )),
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(MailSettings {
            transport,
            from,
            redirect_allowlist,
            reset_ttl: Duration::from_secs(self.reset_token_ttl_secs.max(1)),
            verify_ttl: Duration::from_secs(self.verify_token_ttl_secs.max(1)),
            retry_base: Duration::from_secs(self.mail_retry_secs),
        })
    }

    pub fn password_policy(&self) -> roster_core::secret::PasswordPolicy {
        roster_core::secret::PasswordPolicy {
            min_len: self.password_min_length,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a new API token for a user and print it (only the token) on stdout.
    Issue {
        /// The user's SCIM userName.
        #[arg(long)]
        user: String,
        /// A name to recognise (and revoke) the token by; unique among the user's live tokens.
        #[arg(long)]
        name: Option<String>,
        /// Lifetime, e.g. 90d, 12h, 30m, 2s; default: until revoked.
        #[arg(long, value_parser = parse_duration)]
        expires_in: Option<Duration>,
    },
    /// List a user's tokens: name, public id, created, last used, expiry (never a secret).
    List {
        /// The user's SCIM userName.
        #[arg(long)]
        user: String,
    },
    /// Revoke the user's token named NAME, or all of them without --name (effective on every
    /// node at the next request).
    Revoke {
        /// The user's SCIM userName.
        #[arg(long)]
        user: String,
        /// The token to revoke.
        #[arg(long)]
        name: Option<String>,
    },
}

/// `90d`, `12h`, `30m`, `2s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.len().saturating_sub(1);
    let (n, unit) = (s.get(..split).unwrap_or(""), s.get(split..).unwrap_or(""));
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 90d, 12h, 30m or 2s"))?;
    let secs = match unit {
        "d" => n.checked_mul(86_400),
        "h" => n.checked_mul(3_600),
        "m" => n.checked_mul(60),
        "s" => Some(n),
        _ => None,
    }
    .filter(|s| *s > 0)
    .ok_or_else(|| format!("{s:?} is not a positive duration like 90d, 12h, 30m or 2s"))?;
    Ok(Duration::from_secs(secs))
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Grant a permission (manage-organization, manage-groups) to a user.
    Grant {
        username: String,
        permission: String,
    },
    /// Revoke a permission from a user.
    Revoke {
        username: String,
        permission: String,
    },
}
