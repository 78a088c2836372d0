//! A minimal keep-alive HTTP/1.1 client: each worker owns one connection and sends one
//! request at a time on it, so "concurrency 32" means exactly 32 requests in flight on 32
//! sockets, with no pool, redirect or TLS machinery between the timer and the server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, ORIGIN};
use http::{HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where requests go and how they authenticate; shared by every connection.
#[derive(Debug)]
pub struct Target {
    pub addr: SocketAddr,
    host: HeaderValue,
    auth: HeaderValue,
    /// Path prefix of the base URL (usually empty), prepended to every request path.
    prefix: String,
}

impl Target {
    pub async fn new(base_url: &str, token: &str) -> anyhow::Result<Arc<Self>> {
        let uri: Uri = base_url
            .parse()
            .with_context(|| format!("bad --url {base_url:?}"))?;
        if uri.scheme_str() != Some("http") {
            bail!(
                "only http:// URLs are supported (no TLS in the load generator), got {base_url:?}"
            );
        }
        let authority = uri
            .authority()
            .ok_or_else(|| anyhow!("--url {base_url:?} has no host"))?;
        let port = authority.port_u16().unwrap_or(80);
        let addr = tokio::net::lookup_host((authority.host(), port))
            .await
            .with_context(|| format!("cannot resolve {}", authority.host()))?
            .next()
            .ok_or_else(|| anyhow!("{} resolves to no address", authority.host()))?;
        Ok(Arc::new(Self {
            addr,
            host: HeaderValue::from_str(authority.as_str())?,
            auth: HeaderValue::from_str(&format!("Bearer {token}"))
                .context("the token is not a valid header value")?,
            prefix: uri.path().trim_end_matches('/').to_owned(),
        }))
    }
}

/// A request as the workloads describe it: no I/O until [`Conn::send`].
#[derive(Debug, Clone)]
pub struct Req {
    pub method: Method,
    pub path: String,
    pub body: Option<Bytes>,
    pub expect: StatusCode,
    /// A substring the answer must contain (a cheap correctness check, no JSON parsing).
    pub must_contain: Option<String>,
    /// `Authorization` of this request: the target's token when `Default`.
    pub auth: Auth,
    /// `Content-Type` of a body (SCIM JSON unless set).
    pub content_type: &'static str,
    /// Send an `x-request-id` (Contabo's routes require one).
    pub request_id: bool,
    /// Send `Origin` (the console's forms require their own).
    pub origin: bool,
}

#[derive(Debug, Clone, Default)]
pub enum Auth {
    #[default]
    Default,
    None,
    Header(HeaderValue),
    /// A `Cookie` header instead of `Authorization` (the console's session).
    Cookie(HeaderValue),
}

impl Req {
    pub fn get(path: String) -> Self {
        Self {
            method: Method::GET,
            path,
            body: None,
            expect: StatusCode::OK,
            must_contain: None,
            auth: Auth::Default,
            content_type: "application/scim+json",
            request_id: false,
            origin: false,
        }
    }

    pub fn with_body(method: Method, path: String, body: Vec<u8>, expect: StatusCode) -> Self {
        Self {
            method,
            path,
            body: Some(Bytes::from(body)),
            expect,
            must_contain: None,
            auth: Auth::Default,
            content_type: "application/scim+json",
            request_id: false,
            origin: false,
        }
    }

    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    pub fn with_request_id(mut self) -> Self {
        self.request_id = true;
        self
    }

    pub fn with_origin(mut self) -> Self {
        self.origin = true;
        self
    }

    pub fn form(mut self) -> Self {
        self.content_type = "application/x-www-form-urlencoded";
        self
    }

    pub fn containing(mut self, s: impl Into<String>) -> Self {
        self.must_contain = Some(s.into());
        self
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// One keep-alive connection, reopened after any transport error.
pub struct Conn {
    target: Arc<Target>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    pub fn new(target: Arc<Target>) -> Self {
        Self {
            target,
            sender: None,
        }
    }

    async fn connect(&mut self) -> anyhow::Result<&mut SendRequest<Full<Bytes>>> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = TcpStream::connect(self.target.addr)
                .await
                .with_context(|| format!("cannot connect to {}", self.target.addr))?;
            // Small requests and answers: Nagle would add 40 ms delayed-ACK stalls.
            stream.set_nodelay(true)?;
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .context("HTTP handshake failed")?;
            tokio::spawn(async move {
                // Ends when the sender is dropped or the server closes; errors surface
                // on the next send.
                let _ = conn.await;
            });
            self.sender = Some(sender);
        }
        self.sender.as_mut().ok_or_else(|| anyhow!("no connection"))
    }

    /// Sends one request and reads the whole answer.
    pub async fn send(&mut self, req: &Req) -> anyhow::Result<Reply> {
        let result = self.try_send(req).await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    async fn try_send(&mut self, req: &Req) -> anyhow::Result<Reply> {
        let mut builder = Request::builder()
            .method(req.method.clone())
            .uri(format!("{}{}", self.target.prefix, req.path))
            .header(HOST, self.target.host.clone());
        match &req.auth {
            Auth::Default => builder = builder.header(AUTHORIZATION, self.target.auth.clone()),
            Auth::Header(h) => builder = builder.header(AUTHORIZATION, h.clone()),
            Auth::Cookie(c) => builder = builder.header(COOKIE, c.clone()),
            Auth::None => {}
        }
        if req.origin {
            builder = builder.header(ORIGIN, format!("http://{}", self.target.addr));
        }
        if req.body.is_some() {
            builder = builder.header(CONTENT_TYPE, req.content_type);
        }
        if req.request_id {
            builder = builder.header("x-request-id", "0b6f1f6e-bench-4c2e-9d1a-roster");
        }
        let request = builder.body(Full::new(req.body.clone().unwrap_or_default()))?;
        let sender = self.connect().await?;
        sender.ready().await.context("connection not ready")?;
        let res = sender.send_request(request).await?;
        let (parts, body) = res.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// Sends and checks the status (and the expected substring); the error says why not.
    pub async fn call(&mut self, req: &Req) -> Result<Reply, String> {
        let reply = self
            .send(req)
            .await
            .map_err(|e| format!("{} {}: {e:#}", req.method, req.path))?;
        if reply.status != req.expect {
            return Err(format!(
                "{} {}: expected {}, got {}: {}",
                req.method,
                req.path,
                req.expect.as_u16(),
                reply.status.as_u16(),
                String::from_utf8_lossy(&reply.body.slice(..reply.body.len().min(300)))
            ));
        }
        if let Some(s) = &req.must_contain {
            if !contains(&reply.body, s.as_bytes()) {
                return Err(format!(
                    "{} {}: answer lacks {s:?}: {}",
                    req.method,
                    req.path,
                    String::from_utf8_lossy(&reply.body.slice(..reply.body.len().min(300)))
                ));
            }
        }
        Ok(reply)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// Polls `GET /healthz` on fresh connections until it answers 200 (the server may not
/// be listening yet). Returns false on timeout.
pub async fn wait_healthy(addr: SocketAddr, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if healthz_once(addr).await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    false
}

async fn healthz_once(addr: SocketAddr) -> bool {
    let Ok(stream) = TcpStream::connect(addr).await else {
        return false;
    };
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    else {
        return false;
    };
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let Ok(req) = Request::builder()
        .uri("/healthz")
        .header(HOST, addr.to_string())
        .body(Full::new(Bytes::new()))
    else {
        return false;
    };
    matches!(sender.send_request(req).await, Ok(r) if r.status() == StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::contains;

    #[test]
    fn substring() {
        assert!(contains(b"{\"itemsPerPage\":100,", b"\"itemsPerPage\":100"));
        assert!(!contains(b"{\"itemsPerPage\":10}", b"\"itemsPerPage\":100"));
    }
}
