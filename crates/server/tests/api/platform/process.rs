//! Running the real `roster` binary from tests.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

/// The bootstrap admin's token in processes started by [`start`].
pub const BOOT_TOKEN: &str = "boot-token-0123456789-0123456789-0123456789";

const BIN: &str = env!("CARGO_BIN_EXE_roster");

pub struct Proc {
    pub child: Child,
    pub base: String,
    log: tempfile::NamedTempFile,
}

impl Proc {
    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

/// Every process of a test's database shares the test server key (as real nodes must);
/// the key-file default is tested on its own in `cli`.
fn env(cmd: &mut Command, db: &str) {
    cmd.env("ROSTER_DATABASE_URL", db)
        .env("ROSTER_LOG", "warn")
        .env("ROSTER_SECRET_KEY", crate::helpers::TEST_SERVER_KEY)
        .env_remove("ROSTER_SECRET_KEY_FILE");
}

/// Starts `roster serve` on an ephemeral port (read back from its log, so two nodes
/// started together can never pick the same one) and waits for /healthz.
pub async fn start(db: &str, bootstrap: bool) -> Proc {
    start_with(db, bootstrap, |_| {}).await
}

/// As [`start`], with the command adjusted by `adjust` (after the test defaults).
#[expect(
    clippy::zombie_processes,
    reason = "the child goes to the caller, whose stop() waits for it"
)]
pub async fn start_with(db: &str, bootstrap: bool, adjust: impl FnOnce(&mut Command)) -> Proc {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve").env("ROSTER_LISTEN", "127.0.0.1:0");
    env(&mut cmd, db);
    cmd.env("ROSTER_LOG", "info");
    if bootstrap {
        cmd.env("ROSTER_BOOTSTRAP_ADMIN", "root")
            .env("ROSTER_BOOTSTRAP_PASSWORD", "root-password")
            .env("ROSTER_BOOTSTRAP_TOKEN", BOOT_TOKEN);
    }
    adjust(&mut cmd);
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::from(log.reopen().unwrap()))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(log.path()).unwrap_or_default();
        let addr = text
            .lines()
            .find(|l| l.contains("roster is serving"))
            .and_then(|l| l.split("listen=").nth(1))
            .and_then(|rest| rest.split_whitespace().next());
        if let Some(addr) = addr {
            let base = format!("http://{addr}");
            if let Ok(r) = reqwest::get(format!("{base}/healthz")).await {
                if r.status() == StatusCode::OK {
                    return Proc { child, base, log };
                }
            }
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("roster did not become healthy: {text}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// SIGTERM, and the process must exit 0 within 10 s.
pub fn stop(mut p: Proc) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(p.child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(code) = p.child.try_wait().unwrap() {
            assert!(code.success(), "roster exited with {code} after SIGTERM");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "roster did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a CLI command against `db`: (success, stdout, stderr).
pub fn run(db: &str, args: &[&str]) -> (bool, String, String) {
    run_with(db, args, |_| {})
}

/// As [`run`], with the command adjusted by `adjust` (after the test defaults).
pub fn run_with(
    db: &str,
    args: &[&str],
    adjust: impl FnOnce(&mut Command),
) -> (bool, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    env(&mut cmd, db);
    adjust(&mut cmd);
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
