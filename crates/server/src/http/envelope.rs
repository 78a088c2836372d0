//! What every request passes through inside the shared stack: its time-out
//! ([`super::deadline`]), the rendering of its error answers in its dialect's format
//! ([`super::dialect::render_errors`]) and its access-log line ([`AccessSlot`]). One hand-written service with one boxed future per
//! request: as two `from_fn` middlewares they cost two boxed futures and two boxed, cloned
//! copies of the rest of the stack on every request.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::response::Response;
use tower::{Layer, Service};

use super::dialect::{render_errors, Renderers};

/// What the access-log line says beyond the request line, filled in by whoever knows it:
/// the dialect's middleware (after routing) sets the dialect, the route template (never the
/// raw path: ids are fine, but query values may carry credentials), the principal and the
/// client address.
#[derive(Debug, Default)]
pub struct AccessSlot {
    pub dialect: OnceLock<&'static str>,
    pub route: OnceLock<String>,
    pub principal: OnceLock<uuid::Uuid>,
    pub client_ip: OnceLock<std::net::IpAddr>,
}

impl AccessSlot {
    /// Records what the routed request is (a no-op when the access log is off).
    pub fn note(
        extensions: &axum::http::Extensions,
        dialect: &'static str,
        ip: Option<std::net::IpAddr>,
    ) {
        if let Some(slot) = extensions.get::<Arc<AccessSlot>>() {
            let _ = slot.dialect.set(dialect);
            if let Some(m) = extensions.get::<axum::extract::MatchedPath>() {
                let _ = slot.route.set(m.as_str().to_owned());
            }
            if let Some(ip) = ip {
                let _ = slot.client_ip.set(ip);
            }
        }
    }
}

#[derive(Clone)]
pub struct EnvelopeLayer {
    renderers: Renderers,
    timeout: Duration,
    access_log: bool,
    metrics: bool,
}

impl EnvelopeLayer {
    pub fn new(renderers: Renderers, timeout: Duration, access_log: bool, metrics: bool) -> Self {
        Self {
            renderers,
            timeout,
            access_log,
            metrics,
        }
    }
}

impl<S> Layer<S> for EnvelopeLayer {
    type Service = Envelope<S>;

    fn layer(&self, inner: S) -> Envelope<S> {
        Envelope {
            inner,
            renderers: self.renderers.clone(),
            timeout: self.timeout,
            access_log: self.access_log,
            metrics: self.metrics,
        }
    }
}

#[derive(Clone)]
pub struct Envelope<S> {
    inner: S,
    renderers: Renderers,
    timeout: Duration,
    access_log: bool,
    metrics: bool,
}

impl<S> Service<Request> for Envelope<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        // The service polled ready serves this request; a clone waits for the next.
        let fresh = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, fresh);
        let renderers = self.renderers.clone();
        let timeout = self.timeout;
        let (log, metrics) = (self.access_log, self.metrics);
        let access = (log || metrics).then(|| {
            let slot = Arc::new(AccessSlot::default());
            req.extensions_mut().insert(slot.clone());
            (slot, Instant::now(), req.method().clone())
        });
        Box::pin(async move {
            // Cheap clones (shared buffers): only an error answer reads them.
            let uri = req.uri().clone();
            let request_id = req.headers().get(super::request_id::HEADER).cloned();
            let peer = req
                .extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip());
            let res = super::deadline::within(timeout, req, inner).await;
            let res = render_errors(&renderers, &uri, request_id.as_ref(), res).await;
            if let Some((slot, started, method)) = access {
                if metrics {
                    super::metrics::request(
                        slot.dialect.get().copied().unwrap_or("-"),
                        slot.route.get().map_or("-", String::as_str),
                        &method,
                        res.status().as_u16(),
                        started.elapsed().as_secs_f64(),
                    );
                }
                if log {
                    log_access(&slot, started, &method, &res, request_id.as_ref(), peer);
                }
            }
            Ok(res)
        })
    }
}

/// One line per request, shaped like the other log lines (`<time>  INFO roster::access:
/// key=value ...`) and written straight to stderr: through `tracing`'s formatter the line
/// cost about 16,000 instructions, 7 % of a GET (BENCHMARKS.md); put together here it costs
/// a fraction of that. `ROSTER_LOG` still switches it (its target is `roster::access`), as
/// does `ROSTER_ACCESS_LOG=off`.
fn log_access(
    slot: &AccessSlot,
    started: Instant,
    method: &axum::http::Method,
    res: &Response,
    request_id: Option<&axum::http::HeaderValue>,
    peer: Option<std::net::IpAddr>,
) {
    use std::fmt::Write as _;
    use std::io::Write as _;
    if !tracing::enabled!(target: "roster::access", tracing::Level::INFO) {
        return;
    }
    let micros = started.elapsed().as_micros();
    let ip = slot.client_ip.get().copied().or(peer);
    let mut line = String::with_capacity(256);
    let _ = write!(
        line,
        "{}  INFO roster::access: request_id=",
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ")
    );
    line.push_str(request_id.and_then(|v| v.to_str().ok()).unwrap_or("-"));
    line.push_str(" dialect=");
    line.push_str(slot.dialect.get().copied().unwrap_or("-"));
    line.push_str(" method=");
    line.push_str(method.as_str());
    line.push_str(" route=");
    line.push_str(slot.route.get().map_or("-", String::as_str));
    let _ = write!(
        line,
        " status={} latency_ms={}.{:03} principal=",
        res.status().as_u16(),
        micros / 1000,
        micros % 1000
    );
    match slot.principal.get() {
        Some(p) => line.push_str(
            p.hyphenated()
                .encode_lower(&mut uuid::Uuid::encode_buffer()),
        ),
        None => line.push('-'),
    }
    line.push_str(" client_ip=");
    match ip {
        Some(ip) => {
            let _ = write!(line, "{ip}");
        }
        None => line.push('-'),
    }
    line.push('\n');
    // One write per line: lines of concurrent requests never interleave.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
