//! Command-line flags. Two ways to point the tool at a server: `--url` + `--token` for one
//! that is already running (any backend), or `--spawn` to start `roster` itself, which is
//! the only way start-up time and resident memory can be measured without help.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::workloads::Kind;

#[derive(Debug, Parser)]
#[command(
    name = "roster-bench",
    version,
    about = "Seeds a Roster directory through the SCIM API and measures it under load"
)]
pub struct Args {
    /// Base URL of a running server, e.g. http://127.0.0.1:8080 (plain HTTP only).
    #[arg(long, conflicts_with = "spawn", requires = "token")]
    pub url: Option<String>,
    /// API token with manage-organization and manage-groups (with --url).
    #[arg(long, env = "ROSTER_BENCH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// OAuth client id for the `grant` and `get-jwt` workloads with --url (`roster client
    /// show`); with --spawn the tool reads the admin's client itself.
    #[arg(long, env = "ROSTER_BENCH_CLIENT_ID", requires = "url")]
    pub client_id: Option<String>,
    /// Its secret.
    #[arg(
        long,
        env = "ROSTER_BENCH_CLIENT_SECRET",
        hide_env_values = true,
        requires = "client_id"
    )]
    pub client_secret: Option<String>,
    /// Pid of the server behind --url, to read its resident memory from /proc.
    #[arg(long, requires = "url")]
    pub server_pid: Option<u32>,

    /// Path to a `roster` binary: start it on a free port with a bootstrap admin, measure
    /// start-up and memory, stop it with SIGTERM at the end.
    #[arg(long, value_name = "ROSTER_BINARY")]
    pub spawn: Option<PathBuf>,
    /// Database URL handed to the spawned server (ROSTER_DATABASE_URL). Default: a fresh
    /// SQLite file in a temporary directory. It must name an empty database unless
    /// --manifest points at the seed of that same database.
    #[arg(long, requires = "spawn")]
    pub database_url: Option<String>,
    /// Extra environment of the spawned server, `NAME=VALUE` (repeatable), e.g.
    /// `--server-env ROSTER_RATE_LIMIT_PER_CREDENTIAL=100000/s`.
    #[arg(long, requires = "spawn", value_name = "NAME=VALUE")]
    pub server_env: Vec<String>,
    /// Keep the temporary database directory instead of deleting it at the end.
    #[arg(long, requires = "spawn")]
    pub keep_db: bool,

    /// Users to seed.
    #[arg(long, default_value_t = 100_000)]
    pub users: usize,
    /// Ordinary groups to seed ...
    #[arg(long, default_value_t = 100)]
    pub groups: usize,
    /// ... with this many members each (taken round-robin from the seeded users).
    #[arg(long, default_value_t = 100)]
    pub members: usize,
    /// Sizes of the groups the member workloads edit (one group per size; a size larger
    /// than --users is capped to --users).
    #[arg(long, value_delimiter = ',', default_value = "10,1000,10000,100000")]
    pub group_sizes: Vec<usize>,
    /// Members per PATCH while seeding (the server takes a 2 MiB body at most by default).
    #[arg(long, default_value_t = 5000)]
    pub member_batch: usize,

    /// Requests in flight at once, one keep-alive connection each.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Requests in flight while seeding (default: --concurrency).
    #[arg(long)]
    pub seed_concurrency: Option<usize>,
    /// Measured time per workload, e.g. 10s, 500ms, 1m.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Unmeasured run before each workload (warms caches and connections).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Comma-separated workloads, or `all` (= get,get-jwt,grant,filter,page,co,post,patch,
    /// member,group).
    /// `member-full` (member PATCH answered with the whole member list) and `abuse` (the
    /// costliest requests an account may make, beside ordinary GETs) run only when named.
    #[arg(long, value_delimiter = ',', default_value = "all")]
    pub workloads: Vec<String>,
    /// startIndex of the `page` workload (default: users - 9,999, i.e. 90,001 at 100,000).
    #[arg(long)]
    pub page_start: Option<usize>,
    /// Worker threads of the load generator. One keeps the client's CPU bounded, so it
    /// leaves the other core to the server on a 2-core machine.
    #[arg(long, default_value_t = 1)]
    pub client_threads: usize,

    /// CI mode: 1,000 users, 10 groups of 10, group sizes 10 and 100, 2 s per workload,
    /// no warm-up. Exits non-zero on any failed request (as every mode does).
    #[arg(long)]
    pub smoke: bool,
    /// Seed manifest: when the file exists its ids are reused and seeding is skipped (the
    /// server must hold that seed); otherwise the seed is written there.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Measure a bare axum server answering the same JSON from memory instead of Roster
    /// (the HTTP ceiling; workloads get and filter only; `--users` of them).
    #[arg(long, conflicts_with_all = ["spawn", "url"])]
    pub baseline: bool,
    /// Internal: serve the baseline on this address (the process `--baseline` starts).
    #[arg(long, hide = true, requires = "baseline_tag")]
    pub serve_baseline: Option<std::net::SocketAddr>,
    #[arg(long, hide = true)]
    pub baseline_tag: Option<String>,
    /// Write the whole report as JSON to this file (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

impl Args {
    /// Applies `--smoke`'s presets over the defaults.
    pub fn normalise(&mut self) {
        if self.smoke {
            self.users = 1000;
            self.groups = 10;
            self.members = 10;
            self.group_sizes = vec![10, 100];
            self.duration = Duration::from_secs(2);
            self.warmup = Duration::ZERO;
        }
        self.concurrency = self.concurrency.max(1);
        self.member_batch = self.member_batch.max(1);
        self.client_threads = self.client_threads.max(1);
        for s in &mut self.group_sizes {
            *s = (*s).min(self.users);
        }
        self.group_sizes.dedup();
    }

    pub fn seed_concurrency(&self) -> usize {
        self.seed_concurrency.unwrap_or(self.concurrency).max(1)
    }

    /// The workloads to run, in a fixed order: reads before the writes that grow the data.
    pub fn kinds(&self) -> anyhow::Result<Vec<Kind>> {
        let mut wanted = Vec::new();
        for w in &self.workloads {
            let w = w.trim().to_ascii_lowercase();
            if w == "all" {
                wanted.extend(Kind::ALL_DEFAULT);
            } else {
                wanted.push(
                    Kind::from_name(&w).ok_or_else(|| anyhow::anyhow!("unknown workload {w:?}"))?,
                );
            }
        }
        let mut out: Vec<Kind> = Kind::ORDER
            .iter()
            .copied()
            .filter(|k| wanted.contains(k))
            .collect();
        out.dedup();
        Ok(out)
    }
}

/// `10s`, `500ms`, `2m`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, ""), |i| s.split_at(i));
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 10s, 500ms or 1m"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        _ => return Err(format!("unknown duration unit {unit:?} in {s:?}")),
    };
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("ten").is_err());
    }
}
