//! `roster-bench`: seeds a Roster directory through its SCIM API, then runs each workload
//! for a fixed time at a fixed concurrency and prints requests/s and latency percentiles,
//! plus (when it starts the server itself) start-up time and resident memory.
//! See BENCHMARKS.md for the method and the figures.

mod abuse;
mod baseline;
mod cli;
mod client;
mod seed;
mod server;
mod stats;
mod workloads;

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;

use crate::cli::Args;
use crate::client::Target;
use crate::seed::{Manifest, SeedPlan};
use crate::server::{memory_mb, Server, SpawnSpec};

/// Idle time after seeding before memory is read a second time.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(2);
use crate::stats::{print_header, print_row, print_server, Report, SeedReport};

fn main() -> std::process::ExitCode {
    let mut args = Args::parse();
    args.normalise();
    if let (Some(addr), Some(tag)) = (args.serve_baseline, args.baseline_tag.as_deref()) {
        return match baseline::serve(addr, tag, args.users) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("roster-bench baseline: {e:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("roster-bench: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(0) => std::process::ExitCode::SUCCESS,
        Ok(errors) => {
            eprintln!("roster-bench: {errors} request(s) failed");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("roster-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The server under test, when this process started it.
struct Spawned {
    spec: SpawnSpec,
    server: Server,
}

async fn run(args: Args) -> anyhow::Result<u64> {
    if args.baseline {
        return run_baseline(&args).await;
    }
    let kinds = args.kinds()?;
    let mut report = Report {
        load_before: load_average(),
        concurrency: args.concurrency,
        duration_s: args.duration.as_secs_f64(),
        users: args.users,
        ..Report::default()
    };

    let reuse = match args.manifest.as_ref().filter(|p| p.exists()) {
        Some(path) => Some(Manifest::load(path)?),
        None => None,
    };
    let (target, mut spawned, mut pid) = if let Some(binary) = &args.spawn {
        let token = reuse.as_ref().and_then(|m| m.token.clone());
        let mut spec = SpawnSpec::new(binary, args.database_url.clone(), args.keep_db, token)?;
        for kv in &args.server_env {
            let (k, v) = kv
                .split_once('=')
                .with_context(|| format!("--server-env {kv:?}: expected NAME=VALUE"))?;
            spec.env.push((k.to_owned(), v.to_owned()));
        }
        let (server, took) = spec.start().await?;
        eprintln!(
            "started {} on {} in {:.1} ms (database {}, log {})",
            binary.display(),
            spec.addr,
            took.as_secs_f64() * 1e3,
            spec.database_url,
            spec.log_path.display()
        );
        report.server.database_url = Some(spec.database_url.clone());
        report.server.start_to_healthy_first_ms = Some(took.as_secs_f64() * 1e3);
        let target = Target::new(&spec.base_url(), &spec.token).await?;
        let pid = server.pid();
        (target, Some(Spawned { spec, server }), pid)
    } else {
        let url = args
            .url
            .as_deref()
            .context("give either --url and --token, or --spawn <roster binary>")?;
        let token = args.token.as_deref().context("--url needs --token")?;
        (Target::new(url, token).await?, None, args.server_pid)
    };

    let spawned_token = spawned.as_ref().map(|s| s.spec.token.clone());
    let manifest = match seed_or_load(&args, &target, reuse, spawned_token).await {
        Ok((m, s)) => {
            report.seed = s;
            Arc::new(m)
        }
        Err(e) => {
            if let Some(s) = spawned.as_mut() {
                s.server.stop().await;
            }
            return Err(e);
        }
    };
    if !report.seed.reused_manifest {
        println!(
            "seeded {} users in {:.1} s ({:.0} users/s); {} groups, {} memberships in {:.1} s ({:.0} memberships/s)",
            report.seed.users,
            report.seed.user_seconds,
            report.seed.users_per_second,
            report.seed.groups,
            report.seed.memberships,
            report.seed.group_seconds,
            report.seed.memberships_per_second,
        );
    }
    let seeded = pid.and_then(memory_mb);
    report.server.rss_after_seed_mb = seeded.as_ref().map(|m| m.rss);
    report.server.rss_after_seed_anon_mb = seeded.as_ref().map(|m| m.anon);
    if pid.is_some() && !report.seed.reused_manifest {
        // Again once the server has had a moment to give the seeding's buffers back.
        tokio::time::sleep(SETTLE).await;
        let settled = pid.and_then(memory_mb);
        report.server.rss_settled_mb = settled.as_ref().map(|m| m.rss);
        report.server.rss_settled_anon_mb = settled.as_ref().map(|m| m.anon);
    }

    // Restart on the seeded database: start-up time on real data, and memory without the
    // seeding's high-water mark.
    if let Some(s) = spawned.as_mut() {
        s.server.stop().await;
        report.server.database_bytes = s.spec.database_bytes();
        let (server, took) = s.spec.start().await?;
        report.server.start_to_healthy_seeded_ms = Some(took.as_secs_f64() * 1e3);
        s.server = server;
        pid = s.server.pid();
        report.server.rss_after_restart_mb = pid.and_then(memory_mb).map(|m| m.rss);
    }
    print_server(&report.server);

    let oauth = if kinds
        .iter()
        .any(|k| matches!(k, workloads::Kind::Grant | workloads::Kind::GetJwt))
    {
        let creds = match (&spawned, &args.client_id, &args.client_secret) {
            (Some(s), _, _) => Some(s.spec.oauth_client().await?),
            (None, Some(id), Some(secret)) => Some((id.clone(), secret.clone())),
            _ => {
                eprintln!(
                    "no OAuth client (--client-id/--client-secret): grant and get-jwt skipped"
                );
                None
            }
        };
        match creds {
            Some((id, secret)) => Some(oauth_token(&target, id, secret).await?),
            None => None,
        }
    } else {
        None
    };
    // The bench admin's password is known when the bench started the server.
    let basic = spawned.as_ref().map(|s| s.spec.basic_auth());
    if basic.is_none() && kinds.contains(&workloads::Kind::CvatSelf) {
        eprintln!("not spawned: the Basic row of cvat-self is skipped (no password known)");
    }
    let console = match (&spawned, kinds.contains(&workloads::Kind::Console)) {
        (Some(s), true) => Some(console_session(&target, &s.spec.admin_password()).await?),
        (None, true) => {
            eprintln!("not spawned: the console workloads are skipped (no password known)");
            None
        }
        _ => None,
    };
    let extra = workloads::Extra {
        oauth,
        basic,
        console,
    };
    let page_start = args
        .page_start
        .unwrap_or_else(|| manifest.users.len().saturating_sub(9_999).max(1));
    report.users = manifest.users.len();
    println!(
        "\nconcurrency {}, {:?} per workload after {:?} warm-up",
        args.concurrency, args.duration, args.warmup
    );
    print_header();
    for kind in kinds {
        if kind == workloads::Kind::Abuse {
            let (rows, ok) = abuse::run(&target, &manifest, args.warmup, args.duration).await?;
            for row in rows {
                print_row(&row);
                report.workloads.push(row);
            }
            println!(
                "abuse verdict: {} (every attack p99 <= 100 ms, ordinary GET p99 at most 50 ms slower beside it)",
                if ok { "met" } else { "MISSED" }
            );
            continue;
        }
        for wl in workloads::build(kind, &manifest, page_start, &extra) {
            let row =
                workloads::run(&target, args.concurrency, args.warmup, args.duration, &wl).await;
            print_row(&row);
            let _ = std::io::stdout().flush();
            report.workloads.push(row);
        }
    }

    if let Some(m) = pid.and_then(memory_mb) {
        report.server.rss_end_mb = Some(m.rss);
        report.server.rss_end_anon_mb = Some(m.anon);
        report.server.rss_end_file_mb = Some(m.file);
        report.server.rss_peak_mb = Some(m.peak);
    }
    if let Some(s) = spawned.as_mut() {
        s.server.stop().await;
        report.server.database_bytes = s.spec.database_bytes();
    }
    report.load_after = load_average();
    println!();
    print_server(&report.server);
    println!(
        "load average before: {}; after: {}",
        report.load_before, report.load_after
    );
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        if path.as_os_str() == "-" {
            println!("{text}");
        } else {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(report.errors())
}

/// One client-credentials grant: the JWT the `get-jwt` workload sends.
async fn oauth_token(
    target: &Arc<Target>,
    client_id: String,
    client_secret: String,
) -> anyhow::Result<workloads::OAuth> {
    let body = format!(
        "grant_type=client_credentials&client_id={client_id}&client_secret={client_secret}"
    );
    let req = client::Req::with_body(
        http::Method::POST,
        "/oauth/token".into(),
        body.into_bytes(),
        http::StatusCode::OK,
    )
    .form()
    .auth(client::Auth::None);
    let reply = client::Conn::new(target.clone())
        .call(&req)
        .await
        .map_err(anyhow::Error::msg)?;
    let v: serde_json::Value = serde_json::from_slice(&reply.body)?;
    let jwt = v["access_token"]
        .as_str()
        .context("the token endpoint answered no access_token")?
        .to_owned();
    Ok(workloads::OAuth {
        client_id,
        client_secret,
        jwt,
    })
}

/// Runs `get` and `filter` against the bare axum baseline in a child process.
async fn run_baseline(args: &Args) -> anyhow::Result<u64> {
    let kinds = args.kinds()?;
    if let Some(k) = kinds
        .iter()
        .find(|k| !matches!(k, workloads::Kind::Get | workloads::Kind::Filter))
    {
        anyhow::bail!("the baseline answers the get and filter workloads only, not {k:?}");
    }
    let addr = server::free_port()?;
    let tag = server::random_hex(3);
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("--serve-baseline")
        .arg(addr.to_string())
        .arg("--baseline-tag")
        .arg(&tag)
        .arg("--users")
        .arg(args.users.to_string())
        .kill_on_drop(true)
        .spawn()
        .context("starting the baseline server")?;
    if !client::wait_healthy(addr, std::time::Duration::from_secs(30)).await {
        anyhow::bail!("the baseline server did not answer /healthz");
    }
    let target = Target::new(&format!("http://{addr}"), baseline::TOKEN).await?;
    let manifest = Arc::new(baseline::manifest(&tag, args.users));
    println!(
        "baseline: bare axum on {addr}, {} users in memory; concurrency {}, {:?} per workload after {:?} warm-up",
        args.users, args.concurrency, args.duration, args.warmup
    );
    print_header();
    let mut errors = 0;
    for kind in kinds {
        for wl in workloads::build(kind, &manifest, 1, &workloads::Extra::default()) {
            let row =
                workloads::run(&target, args.concurrency, args.warmup, args.duration, &wl).await;
            print_row(&row);
            errors += row.errors;
        }
    }
    child.kill().await.ok();
    Ok(errors)
}

/// Signs the bench admin in to the console as a browser does (a pre-session CSRF token of
/// our own in its cookie and the form, our Origin) and answers the session's `Cookie`.
async fn console_session(
    target: &Arc<Target>,
    password: &str,
) -> anyhow::Result<http::HeaderValue> {
    let csrf = server::random_hex(16);
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("login", "bench-admin")
        .append_pair("password", password)
        .append_pair("csrf", &csrf)
        .finish();
    let req = client::Req::with_body(
        http::Method::POST,
        "/console/sign-in".into(),
        body.into_bytes(),
        http::StatusCode::SEE_OTHER,
    )
    .form()
    .with_origin()
    .auth(client::Auth::Cookie(http::HeaderValue::from_str(
        &format!("roster_console_csrf={csrf}"),
    )?));
    let reply = client::Conn::new(target.clone())
        .call(&req)
        .await
        .map_err(anyhow::Error::msg)?;
    let session = reply
        .headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("roster_console="))
        .and_then(|c| c.split(';').next())
        .filter(|v| !v.is_empty())
        .context("the console sign-in set no session cookie")?;
    Ok(http::HeaderValue::from_str(&format!(
        "roster_console={session}"
    ))?)
}

/// The 1, 5 and 15-minute load averages (Linux), or an empty string.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Reuses the seed named by --manifest when that file exists, else seeds (and saves it).
async fn seed_or_load(
    args: &Args,
    target: &Arc<Target>,
    reuse: Option<Manifest>,
    token: Option<String>,
) -> anyhow::Result<(Manifest, SeedReport)> {
    if let Some(m) = reuse {
        eprintln!(
            "reusing the seed of {} users from --manifest; seeding skipped",
            m.users.len()
        );
        let report = SeedReport {
            users: m.users.len(),
            reused_manifest: true,
            ..SeedReport::default()
        };
        return Ok((m, report));
    }
    let plan = SeedPlan {
        users: args.users,
        spares: args.concurrency,
        groups: args.groups,
        members: args.members,
        sizes: args.group_sizes.clone(),
        batch: args.member_batch,
        concurrency: args.seed_concurrency(),
    };
    let tag = server::random_hex(3);
    let (mut m, report) = seed::seed(target, &plan, &tag).await?;
    m.token = token;
    if let Some(path) = &args.manifest {
        m.save(path)?;
    }
    Ok((m, report))
}
