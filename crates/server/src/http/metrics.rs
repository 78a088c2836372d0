//! Prometheus metrics, served on their own listener (`ROSTER_METRICS_LISTEN`), never on the
//! public one. Without that setting no recorder is installed and every `metrics::` call is
//! a no-op. Labels are bounded: dialect names, route templates, methods, statuses, kinds.

use std::net::SocketAddr;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Latency buckets (seconds): a GET is ~1 ms, a password check tens of ms.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the recorder and serves `GET /metrics` on `addr` until the process ends.
pub async fn serve(addr: SocketAddr) -> anyhow::Result<SocketAddr> {
    let handle = PrometheusBuilder::new()
        .set_buckets(BUCKETS)?
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full("roster_db_commit_batch_size".into()),
            &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0],
        )?
        .install_recorder()
        .map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))?;
    describe();
    metrics::gauge!("roster_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on ROSTER_METRICS_LISTEN {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || render(handle.clone())),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    Ok(bound)
}

async fn render(handle: PrometheusHandle) -> Response {
    let mut res = (StatusCode::OK, handle.render()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "roster_http_requests_total",
        "Requests by dialect, route template, method and status"
    );
    describe_histogram!(
        "roster_http_request_duration_seconds",
        Unit::Seconds,
        "Request latency by dialect"
    );
    describe_counter!(
        "roster_auth_failures_total",
        "Refused credentials by scheme (token, jwt, client_secret)"
    );
    describe_counter!(
        "roster_principal_cache_total",
        "API-token lookups by outcome: hit (generation unchanged), miss, stale (it moved)"
    );
    describe_counter!(
        "roster_rate_limited_total",
        "Requests refused by a rate limit, by kind"
    );
    describe_counter!(
        "roster_rate_limit_redis_failures_total",
        "Rate-limit checks that could not reach Redis and let the request through"
    );
    describe_gauge!(
        "roster_build_info",
        "The running build (version label), always 1"
    );
    describe_gauge!(
        "roster_db_pool_connections",
        "Database read-pool connections, by state (in_use, idle)"
    );
    describe_counter!(
        "roster_db_statement_timeouts_total",
        "Statements stopped by ROSTER_DB_STATEMENT_TIMEOUT_MS"
    );
    describe_histogram!(
        "roster_db_commit_batch_size",
        "SQLite: requests acknowledged by one group COMMIT"
    );
    describe_gauge!("roster_mail_queued", "Mails waiting in the outbox");
    describe_counter!(
        "roster_mail_deliveries_total",
        "Mail delivery attempts by outcome (sent, retry, failed)"
    );
}

/// Samples what is not an event (the pool, the outbox) every `every`, for the scrapes.
pub fn sample(store: std::sync::Arc<dyn roster_store::Store>, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let p = store.pool_stats();
            metrics::gauge!("roster_db_pool_connections", "state" => "idle").set(f64::from(p.idle));
            metrics::gauge!("roster_db_pool_connections", "state" => "in_use")
                .set(f64::from(p.size.saturating_sub(p.idle)));
            match store.mail_queued().await {
                Ok(n) => metrics::gauge!("roster_mail_queued").set(n as f64),
                Err(e) => tracing::debug!(error = %e, "could not count the outbox for the metrics"),
            }
        }
    });
}

/// One delivery attempt of a mail.
pub fn mail_delivery(outcome: &'static str) {
    metrics::counter!("roster_mail_deliveries_total", "outcome" => outcome).increment(1);
}

/// One finished request.
pub fn request(
    dialect: &'static str,
    route: &str,
    method: &axum::http::Method,
    status: u16,
    seconds: f64,
) {
    metrics::counter!(
        "roster_http_requests_total",
        "dialect" => dialect,
        "route" => route.to_owned(),
        "method" => method.as_str().to_owned(),
        "status" => status.to_string(),
    )
    .increment(1);
    metrics::histogram!("roster_http_request_duration_seconds", "dialect" => dialect)
        .record(seconds);
}

pub fn auth_failure(scheme: &'static str) {
    metrics::counter!("roster_auth_failures_total", "scheme" => scheme).increment(1);
}

pub fn rate_limited(kind: &'static str) {
    metrics::counter!("roster_rate_limited_total", "kind" => kind).increment(1);
}

pub fn redis_failure() {
    metrics::counter!("roster_rate_limit_redis_failures_total").increment(1);
}
