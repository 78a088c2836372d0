//! Starting and stopping a `roster` under test. The tool spawns the server itself so it
//! can time start-up to the first healthy answer and read the process's memory from /proc;
//! everything else goes through HTTP, so any backend behind the database URL works.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rand::RngCore;
use tokio::process::{Child, Command};

use crate::client::wait_healthy;

/// How long a server may take to answer /healthz before the run is abandoned.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a graceful stop may take before the process is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings that stay the same across restarts of the spawned server.
pub struct SpawnSpec {
    pub binary: PathBuf,
    pub addr: SocketAddr,
    pub database_url: String,
    pub token: String,
    password: String,
    pub log_path: PathBuf,
    /// Extra environment of the server (`--server-env`).
    pub env: Vec<(String, String)>,
    /// The temporary directory holding the default database, removed on drop.
    _tmp: Option<tempfile::TempDir>,
}

/// The server key of spawned servers: a fixed one, so a database kept or copied between
/// runs opens again (a benchmark database holds no secret worth one of its own).
pub const BENCH_SERVER_KEY: &str = "cm9zdGVyLWJlbmNoLWtleS1ub3QtYS1zZWNyZXQtISE=";

impl SpawnSpec {
    /// The bootstrap admin's OAuth client, from `roster client show` on the same database.
    pub async fn oauth_client(&self) -> anyhow::Result<(String, String)> {
        let out = Command::new(&self.binary)
            .args(["client", "show", "--user", "bench-admin"])
            .env("ROSTER_DATABASE_URL", &self.database_url)
            .env("ROSTER_SECRET_KEY", BENCH_SERVER_KEY)
            .env("ROSTER_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .await
            .with_context(|| format!("cannot run {} client show", self.binary.display()))?;
        if !out.status.success() {
            bail!(
                "`roster client show` failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        let field = |k: &str| {
            v[k].as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow::anyhow!("`roster client show` printed no {k}"))
        };
        Ok((field("client_id")?, field("client_secret")?))
    }

    pub fn new(
        binary: &Path,
        database_url: Option<String>,
        keep_db: bool,
        token: Option<String>,
    ) -> anyhow::Result<Self> {
        let tmp = tempfile::Builder::new().prefix("roster-bench-").tempdir()?;
        let database_url = database_url
            .unwrap_or_else(|| format!("sqlite://{}", tmp.path().join("roster.db").display()));
        let log_path = tmp.path().join("roster.log");
        let tmp = if keep_db {
            let kept = tmp.keep();
            eprintln!("keeping {}", kept.display());
            None
        } else {
            Some(tmp)
        };
        let token = token.unwrap_or_else(|| random_hex(32));
        // A function of the token, so a restart on a kept seed (whose bootstrap does not
        // run again) still knows the admin's password from the manifest's token.
        let password = format!("pw-{}", token.chars().rev().collect::<String>());
        Ok(Self {
            binary: binary.to_owned(),
            addr: free_port()?,
            database_url,
            token,
            password,
            log_path,
            env: Vec::new(),
            _tmp: tmp,
        })
    }

    /// The bootstrap admin's password.
    pub fn admin_password(&self) -> String {
        self.password.clone()
    }

    /// `Authorization: Basic` of the bootstrap admin.
    pub fn basic_auth(&self) -> String {
        use base64::Engine;
        let pair = format!("bench-admin:{}", self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Starts the server and waits for /healthz; returns it with the time that took.
    pub async fn start(&self) -> anyhow::Result<(Server, Duration)> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .with_context(|| format!("cannot open {}", self.log_path.display()))?;
        let started = Instant::now();
        let child = Command::new(&self.binary)
            .arg("serve")
            .env("ROSTER_LISTEN", self.addr.to_string())
            .env("ROSTER_DATABASE_URL", &self.database_url)
            .env("ROSTER_BOOTSTRAP_ADMIN", "bench-admin")
            .env("ROSTER_BOOTSTRAP_PASSWORD", &self.password)
            .env("ROSTER_BOOTSTRAP_TOKEN", &self.token)
            .env("ROSTER_SECRET_KEY", BENCH_SERVER_KEY)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", self.binary.display()))?;
        let mut server = Server { child };
        let healthy = wait_healthy(self.addr, START_TIMEOUT).await;
        let took = started.elapsed();
        if !healthy {
            server.stop().await;
            bail!(
                "{} did not answer /healthz within {START_TIMEOUT:?}; see {}",
                self.binary.display(),
                self.log_path.display()
            );
        }
        Ok((server, took))
    }

    /// Bytes of the SQLite database and its WAL, when the URL names a file.
    pub fn database_bytes(&self) -> Option<u64> {
        let path = self
            .database_url
            .strip_prefix("sqlite://")?
            .split('?')
            .next()?;
        let size = |p: String| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        Some(size(path.to_owned()) + size(format!("{path}-wal")))
    }
}

pub struct Server {
    child: Child,
}

impl Server {
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// SIGTERM (graceful: in-flight requests finish, the database is closed), then wait.
    pub async fn stop(&mut self) {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: kill(2) on the pid of a child we own and have not reaped yet.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        if tokio::time::timeout(STOP_TIMEOUT, self.child.wait())
            .await
            .is_err()
        {
            eprintln!("server did not stop within {STOP_TIMEOUT:?} of SIGTERM; killing it");
            let _ = self.child.kill().await;
        }
    }
}

/// Resident memory of a process in MB (10^6 bytes), from /proc.
pub struct Memory {
    pub rss: f64,
    pub peak: f64,
    /// Heap and stacks: what the process itself allocated.
    pub anon: f64,
    /// Mapped files (the binary, SQLite's memory-mapped database): OS page cache, shared
    /// and reclaimable.
    pub file: f64,
}

pub fn memory_mb(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024.0 / 1e6)
    };
    Some(Memory {
        rss: field("VmRSS:")?,
        peak: field("VmHWM:")?,
        anon: field("RssAnon:")?,
        file: field("RssFile:")?,
    })
}

/// A port nothing listens on right now (the server binds it a moment later).
pub fn free_port() -> anyhow::Result<SocketAddr> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(l.local_addr()?)
}

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
