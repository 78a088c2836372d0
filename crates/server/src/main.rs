use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use roster_core::policy::Operator;
use roster_server::app::AppOptions;
use roster_server::cli::{Cli, Command, DbArgs, ServeArgs};
use roster_server::passwords::Passwords;
use roster_server::tokens::TokenService;
use roster_server::{admin, secrets, tokens, AppState};
use roster_store::Store;

/// How long `roster keys rotate` keeps retired keys: twice this (it cannot know every
/// node's ROSTER_ACCESS_TOKEN_TTL_SECS; a day covers any sane setting).
const ACCESS_TTL_FOR_KEY_RETENTION: u64 = 86_400;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ROSTER_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(cli))
}

async fn open_store(db: &DbArgs) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    let url = db.url()?;
    roster_store::open(&url, &db.open_options())
        .await
        .with_context(|| format!("opening database {}", roster_store::redact(&url)))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = match cli.command {
        Command::Serve(args) => return serve(&cli.db, *args).await,
        Command::Backup { file } => {
            let url = cli.db.url()?;
            let pages =
                tokio::task::spawn_blocking(move || roster_store::backup(&url, &file)).await??;
            eprintln!("backed up {pages} pages");
            return Ok(());
        }
        other => other,
    };
    let store = open_store(&cli.db).await?;
    let outcome = async {
        match command {
            Command::Token(cmd) => admin::token(store.as_ref(), cmd).await,
            Command::User(cmd) => admin::user(store.as_ref(), cmd).await,
            Command::Client(cmd) => {
                let (key, _) = secrets::server_key(&cli.db, store.as_ref(), false).await?;
                admin::client(store.as_ref(), &key, cmd).await
            }
            Command::Keys(cmd) => {
                let (key, _) = secrets::server_key(&cli.db, store.as_ref(), false).await?;
                let ttl = Duration::from_secs(ACCESS_TTL_FOR_KEY_RETENTION);
                admin::keys(store.as_ref(), &key, cmd, ttl).await
            }
            Command::Secrets(cmd) => admin::secrets(store.as_ref(), &cli.db, cmd).await,
            Command::Mail(cmd) => admin::mail(store.as_ref(), cmd).await,
            Command::Role(cmd) => admin::role(store.as_ref(), cmd).await,
            Command::Org(cmd) => admin::org(store.as_ref(), cmd).await,
            Command::Storage(cmd) => admin::storage(store.as_ref(), cmd).await,
            Command::Export { output } => admin::export(store.as_ref(), &cli.db, output).await,
            Command::Import { file, merge } => admin::import(store.as_ref(), &file, merge).await,
            Command::Serve(_) | Command::Backup { .. } => Ok(()),
        }
    }
    .await;
    store.close().await;
    outcome
}

async fn serve(db: &DbArgs, args: ServeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    roster_server::memory::spawn_trimmer();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    // Settings are checked before anything is written.
    let tls = match (&args.tls_cert_file, &args.tls_key_file) {
        (Some(c), Some(k)) => Some(roster_server::http::tls::Tls::load(c, k)?),
        _ => None,
    };
    let public_url = public_url(&args, listener.local_addr()?, tls.is_some())?;
    let bootstrap = roster_server::bootstrap::prepare(&args)?;
    let limits = std::sync::Arc::new(args.rate_limits().await?);
    let mail_settings = args.mail_settings(&db.data_dir)?;
    let outlet = roster_server::mail::sender::Outlet::new(&mail_settings.transport)?;
    let store = open_store(db).await?;
    let (key, source) = secrets::server_key(db, store.as_ref(), true).await?;
    match &source {
        secrets::KeySource::DataDir {
            path,
            created: true,
        } => tracing::info!(
            file = %path.display(),
            fingerprint = key.fingerprint(),
            "created the server key file (mode 0600): back it up with the database; other nodes \
             need the same key (ROSTER_SECRET_KEY_FILE)"
        ),
        _ => tracing::info!(source = %source, fingerprint = key.fingerprint(), "server key loaded"),
    }
    let needs_setup = roster_server::bootstrap::run(store.as_ref(), bootstrap).await?;
    if store
        .ensure_storage(
            &Operator::local("server:object-storage"),
            &args.object_storage_name,
            &args.object_storage_region,
        )
        .await?
    {
        tracing::info!(name = %args.object_storage_name, region = %args.object_storage_region, "added the first object storage");
    }
    let access_ttl = Duration::from_secs(args.access_token_ttl_secs.max(1));
    tokens::ensure_signing_key(
        store.as_ref(),
        &Operator::local("server:signing-key"),
        &key,
        access_ttl,
    )
    .await?;
    let sender_key = key.clone();
    let tokens = TokenService::new(
        key,
        &public_url,
        access_ttl,
        Duration::from_secs(args.refresh_token_ttl_secs.max(1)),
    );
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let passwords = Passwords::new(
        args.password_workers.unwrap_or(cores),
        Duration::from_millis(args.password_queue_ms),
        args.password_policy(),
    );
    let mut state = AppState::new(store.clone(), &public_url, passwords, tokens);
    state.tenant = args.tenant.as_str().into();
    anyhow::ensure!(
        !args.tenant_id.trim().is_empty() && !args.customer_id.trim().is_empty(),
        "ROSTER_TENANT_ID and ROSTER_CUSTOMER_ID must not be empty (Contabo's SDK refuses empty ids)"
    );
    state.tenant_id = args.tenant_id.trim().into();
    state.customer_id = args.customer_id.trim().into();
    state.limits = limits;
    state.signin = std::sync::Arc::new(
        roster_server::signin::SignIn::new(Duration::from_secs(args.session_ttl_secs))
            .with_console(
                Duration::from_secs(args.console_session_secs),
                Duration::from_secs(args.console_idle_secs),
            ),
    );
    if needs_setup {
        let code = state.setup.issue();
        tracing::warn!(
            url = %format!("{public_url}/console/setup?code={code}"),
            "the directory has no users: open this one-time URL to create the first administrator \
             (valid until used or until the server restarts), or restart with ROSTER_BOOTSTRAP_ADMIN, \
             ROSTER_BOOTSTRAP_PASSWORD and ROSTER_BOOTSTRAP_TOKEN set"
        );
    }
    match &mail_settings.transport {
        roster_server::mail::Transport::Smtp(url) => {
            tracing::info!(smtp = %roster_store::redact(url), "mail goes out over SMTP")
        }
        roster_server::mail::Transport::Dir(dir) => tracing::info!(
            dir = %dir.display(),
            "no ROSTER_SMTP_URL: each mail is written as an .eml file here"
        ),
    }
    state.mail = roster_server::mail::Mail::new(mail_settings, &public_url);
    roster_server::mail::sender::spawn(store.clone(), state.mail.clone(), outlet, sender_key);
    let opts = AppOptions {
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_secs(args.request_timeout_secs),
        idle_timeout: Duration::from_secs(args.idle_timeout_secs),
        header_timeout: Duration::from_secs(args.header_timeout_secs),
        max_connections: args.max_connections,
        access_log: args.access_log == "on",
        metrics: args.metrics_listen.is_some(),
        tls: tls.clone(),
    };
    if let Some(t) = tls {
        t.reload_on_sighup()?;
    }
    if let Some(addr) = args.metrics_listen {
        let bound = roster_server::http::metrics::serve(addr).await?;
        roster_server::http::metrics::sample(store.clone(), Duration::from_secs(5));
        tracing::info!(metrics = %bound, "serving Prometheus metrics at /metrics");
    }
    if let Some(days) = args.audit_retention_days {
        spawn_audit_retention(store.clone(), days);
    }
    raise_open_file_limit(args.max_connections);
    tracing::info!(
        listen = %listener.local_addr()?,
        public_url = %public_url,
        database = %roster_store::redact(&db.url()?),
        startup_ms = started.elapsed().as_millis() as u64,
        "roster is serving"
    );
    roster_server::app::serve(listener, state, &opts, shutdown_signal()).await;
    store.close().await;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// The base of every link: ROSTER_PUBLIC_URL, or on a loopback listener its own address.
/// Anywhere else the setting is required: links built from a request's Host header would let
/// anyone point them at a host of their choosing.
fn public_url(args: &ServeArgs, bound: std::net::SocketAddr, tls: bool) -> anyhow::Result<String> {
    match &args.public_url {
        Some(u) => {
            let u = u.trim().trim_end_matches('/');
            anyhow::ensure!(
                (u.starts_with("https://") || u.starts_with("http://")) && u.len() > 8,
                "ROSTER_PUBLIC_URL must be an http:// or https:// URL, got {u:?}"
            );
            Ok(u.to_owned())
        }
        None if bound.ip().is_loopback() => {
            Ok(format!("{}://{bound}", if tls { "https" } else { "http" }))
        }
        None => anyhow::bail!(
            "ROSTER_PUBLIC_URL is required when listening on {bound} (not a loopback address): \
             set it to the URL clients reach this server at, e.g. https://directory.example.com"
        ),
    }
}

/// Lets the process hold its connections plus its database files: raises the soft limit on
/// open files towards the hard limit when `max_connections` would not fit under it.
fn raise_open_file_limit(max_connections: usize) {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct passed in.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
                return;
            }
            let want = (max_connections as libc::rlim_t).saturating_add(256);
            if lim.rlim_cur < want {
                let raised = libc::rlimit {
                    rlim_cur: want.min(lim.rlim_max),
                    rlim_max: lim.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    lim = raised;
                }
            }
        }
        if (lim.rlim_cur as usize) < max_connections.saturating_add(64) {
            tracing::warn!(
                open_files = lim.rlim_cur,
                max_connections,
                "the open-file limit is below ROSTER_MAX_CONNECTIONS; connections beyond it will be refused by the OS"
            );
        }
    }
}

/// Prunes audit rows older than `days`, a minute after start and then hourly, in batches of
/// 1,000 rows so that writers never wait behind it.
fn spawn_audit_retention(store: std::sync::Arc<dyn Store>, days: u64) {
    tokio::spawn(async move {
        let by = Operator::local("server:audit-retention");
        let keep = i64::try_from(days.saturating_mul(86_400_000_000)).unwrap_or(i64::MAX);
        tokio::time::sleep(Duration::from_secs(60)).await;
        loop {
            let before = roster_core::now_micros().saturating_sub(keep);
            match store.prune_audit(&by, before, 1000).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    rows = n,
                    days,
                    "pruned audit rows past the retention period"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "could not prune the audit trail; retrying in an hour")
                }
            }
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    });
}

/// Resolves on SIGTERM or SIGINT; in-flight requests then finish before serve returns.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
