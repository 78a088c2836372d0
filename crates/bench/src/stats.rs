//! Latency histograms and the report: one row per workload, printed as a table and
//! optionally written as JSON.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies in microseconds, 1 µs to 60 s at 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that Histogram accepts; failure would be a programming error.
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| unreachable!())
}

/// What one worker saw during a workload.
pub struct WorkerStats {
    pub hist: Histogram<u64>,
    pub errors: u64,
    /// The first few error messages, to say why rather than only how many.
    pub samples: Vec<String>,
}

impl WorkerStats {
    pub fn new() -> Self {
        Self {
            hist: new_histogram(),
            errors: 0,
            samples: Vec::new(),
        }
    }

    pub fn record(&mut self, elapsed: Duration, outcome: Result<(), String>) {
        let us = u64::try_from(elapsed.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.hist.saturating_record(us);
        if let Err(e) = outcome {
            self.errors += 1;
            if self.samples.len() < 3 {
                self.samples.push(e);
            }
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub name: String,
    pub requests: u64,
    pub seconds: f64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: u64,
    pub error_samples: Vec<String>,
}

impl Row {
    pub fn from_workers(name: &str, elapsed: Duration, workers: Vec<WorkerStats>) -> Self {
        let mut hist = new_histogram();
        let mut errors = 0;
        let mut samples = Vec::new();
        for w in workers {
            // Same bounds on both sides: adding cannot fail.
            let _ = hist.add(&w.hist);
            errors += w.errors;
            samples.extend(w.samples);
        }
        samples.truncate(5);
        let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
        let seconds = elapsed.as_secs_f64();
        Self {
            name: name.to_owned(),
            requests: hist.len(),
            seconds,
            rps: if seconds > 0.0 {
                hist.len() as f64 / seconds
            } else {
                0.0
            },
            p50_ms: ms(0.50),
            p95_ms: ms(0.95),
            p99_ms: ms(0.99),
            max_ms: hist.max() as f64 / 1000.0,
            errors,
            error_samples: samples,
        }
    }
}

/// Seeding figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SeedReport {
    pub users: usize,
    pub user_seconds: f64,
    pub users_per_second: f64,
    pub groups: usize,
    pub memberships: usize,
    pub group_seconds: f64,
    pub memberships_per_second: f64,
    pub errors: u64,
    pub reused_manifest: bool,
}

/// Figures about the spawned (or named) server process.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerReport {
    pub database_url: Option<String>,
    /// First start; on a fresh database that includes migrations and the bootstrap admin
    /// (an argon2 hash).
    pub start_to_healthy_first_ms: Option<f64>,
    /// Restart on the seeded database: what an operator waits for after a deploy.
    pub start_to_healthy_seeded_ms: Option<f64>,
    pub rss_after_seed_mb: Option<f64>,
    pub rss_after_seed_anon_mb: Option<f64>,
    /// 2 s after seeding, idle.
    pub rss_settled_mb: Option<f64>,
    pub rss_settled_anon_mb: Option<f64>,
    pub rss_after_restart_mb: Option<f64>,
    pub rss_end_mb: Option<f64>,
    pub rss_end_anon_mb: Option<f64>,
    pub rss_end_file_mb: Option<f64>,
    pub rss_peak_mb: Option<f64>,
    pub database_bytes: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// /proc/loadavg before and after: other work on the machine skews every figure.
    pub load_before: String,
    pub load_after: String,
    pub concurrency: usize,
    pub duration_s: f64,
    pub users: usize,
    pub seed: SeedReport,
    pub server: ServerReport,
    pub workloads: Vec<Row>,
}

impl Report {
    pub fn errors(&self) -> u64 {
        self.seed.errors + self.workloads.iter().map(|r| r.errors).sum::<u64>()
    }
}

pub fn print_header() {
    println!(
        "{:<28} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "workload", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"
    );
}

pub fn print_row(r: &Row) {
    println!(
        "{:<28} {:>9} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>7}",
        r.name, r.requests, r.rps, r.p50_ms, r.p95_ms, r.p99_ms, r.max_ms, r.errors
    );
    for s in &r.error_samples {
        println!("    error: {s}");
    }
}

pub fn print_server(s: &ServerReport) {
    let line = |label: &str, v: Option<f64>, unit: &str| {
        if let Some(v) = v {
            println!("{label:<40} {v:>10.1} {unit}");
        }
    };
    line(
        "start to /healthz, first start",
        s.start_to_healthy_first_ms,
        "ms",
    );
    line(
        "start to /healthz, seeded database",
        s.start_to_healthy_seeded_ms,
        "ms",
    );
    line("server RSS after seeding", s.rss_after_seed_mb, "MB");
    line(
        "  of which anonymous (heap)",
        s.rss_after_seed_anon_mb,
        "MB",
    );
    line("server RSS 2 s after seeding", s.rss_settled_mb, "MB");
    line("  of which anonymous (heap)", s.rss_settled_anon_mb, "MB");
    line("server RSS after restart", s.rss_after_restart_mb, "MB");
    line("server RSS at the end", s.rss_end_mb, "MB");
    line("  of which anonymous (heap)", s.rss_end_anon_mb, "MB");
    line("  of which mapped files", s.rss_end_file_mb, "MB");
    line("server peak RSS (VmHWM)", s.rss_peak_mb, "MB");
    if let Some(b) = s.database_bytes {
        println!(
            "{:<40} {:>10.1} MB",
            "database files on disk",
            b as f64 / 1e6
        );
    }
}
