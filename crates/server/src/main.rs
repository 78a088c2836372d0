use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use roster_core::policy::Operator;
use roster_core::{secret, Permission, UserName};
use roster_server::app::AppOptions;
use roster_server::cli::{Cli, Command, DbArgs, ServeArgs, TokenCommand, UserCommand};
use roster_server::AppState;
use roster_store::{Store, WriteCtx};

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
    match cli.command {
        Command::Serve(args) => serve(&cli.db, args).await,
        Command::Token(TokenCommand::Issue { user, name }) => {
            let store = open_store(&cli.db).await?;
            let token = secret::generate_token();
            store
                .create_token(
                    &Operator::local("cli:token-issue").token_admin(),
                    &WriteCtx::default(),
                    &UserName::parse(&user)?,
                    name.as_deref(),
                    &token,
                )
                .await
                .with_context(|| format!("cannot issue a token for {user:?}"))?;
            store.close().await;
            println!("{}", token.secret);
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { user }) => {
            let store = open_store(&cli.db).await?;
            let n = store
                .revoke_tokens(
                    &Operator::local("cli:token-revoke").token_admin(),
                    &WriteCtx::default(),
                    &UserName::parse(&user)?,
                )
                .await
                .with_context(|| format!("cannot revoke the tokens of {user:?}"))?;
            store.close().await;
            eprintln!("revoked {n} token(s) of {user}");
            Ok(())
        }
        Command::User(cmd) => {
            let (username, permission, granted) = match cmd {
                UserCommand::Grant {
                    username,
                    permission,
                } => (username, permission, true),
                UserCommand::Revoke {
                    username,
                    permission,
                } => (username, permission, false),
            };
            let p: Permission = permission.parse().map_err(anyhow::Error::msg)?;
            let store = open_store(&cli.db).await?;
            store
                .set_permission(
                    &Operator::local("cli:user-permission").user_admin(),
                    &WriteCtx::default(),
                    &UserName::parse(&username)?,
                    p,
                    granted,
                )
                .await
                .with_context(|| format!("cannot change the permissions of {username:?}"))?;
            store.close().await;
            eprintln!(
                "{} {p} {} {username}",
                if granted { "granted" } else { "revoked" },
                if granted { "to" } else { "from" }
            );
            Ok(())
        }
    }
}

async fn serve(db: &DbArgs, args: ServeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    roster_server::memory::spawn_trimmer();
    let store = open_store(db).await?;
    roster_server::bootstrap::run(store.as_ref(), &args).await?;
    let state = AppState::new(store.clone(), args.public_url.clone());
    let opts = AppOptions {
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_secs(args.request_timeout_secs),
        idle_timeout: Duration::from_secs(args.idle_timeout_secs),
        header_timeout: Duration::from_secs(args.header_timeout_secs),
        max_connections: args.max_connections,
    };
    raise_open_file_limit(args.max_connections);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(
        listen = %listener.local_addr()?,
        database = %roster_store::redact(&db.url()?),
        startup_ms = started.elapsed().as_millis() as u64,
        "roster is serving"
    );
    roster_server::app::serve(listener, state, &opts, shutdown_signal()).await;
    store.close().await;
    tracing::info!("shut down cleanly");
    Ok(())
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
