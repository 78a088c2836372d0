//! One client connection as hyper sees it, with what hyper itself does not do:
//!
//! - **Idle and header time-outs.** A connection that sends nothing for the idle time-out
//!   after opening or after its last response is closed; so is one whose request head (the
//!   request line and headers) does not arrive completely within the header time-out of its
//!   first byte. This bounds slow-loris connections that trickle a head forever.
//! - **hyper's own answers in the dialect's format.** hyper answers a request it cannot
//!   parse (a URI over its 64 KiB limit, oversized headers, garbage) by itself, with an empty
//!   body. Such an answer is recognised on its way out (an error status, `content-length: 0`,
//!   and no other body: Roster's own error answers always carry one) and replaced by the
//!   error of the dialect whose prefix the request line named.
//!
//! Where a request starts is inferred: the first bytes read after a response was written.
//! That is exact for HTTP/1.1 without pipelining; a pipelined or early-answered request can
//! only make the capture miss the path (the answer is then problem JSON) or close a
//! connection whose request was answered already.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use http_body::Body as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use super::dialect::{ErrorContext, Renderers};
use super::error::{ApiError, Kind};

/// Bytes of a request's first line kept to find its path.
const CAPTURE: usize = 512;

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub idle: Duration,
    pub header: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between requests: the idle time-out runs.
    Idle,
    /// Some of a request head has arrived: the header time-out runs.
    Head,
    /// The head is complete; the request is being served.
    Served,
}

/// Replacement bytes being written in place of hyper's own answer.
struct Replacing {
    bytes: Vec<u8>,
    written: usize,
    /// What hyper is told was written: the length of its own answer.
    reported: usize,
}

/// `S` is the byte stream under HTTP: the TCP stream, or the TLS stream over it.
pub struct Guarded<S = TcpStream> {
    inner: S,
    renderers: Renderers,
    timeouts: Timeouts,
    phase: Phase,
    /// When the current phase began.
    since: Instant,
    /// A wake-up at most `timeouts.header` ahead; when it fires, [`Guarded::expired`] checks
    /// the phase against its time-out and re-arms. (Moving the timer at every phase change
    /// would be a timer-wheel update per request; this is one per connection per interval.)
    tick: Pin<Box<Sleep>>,
    /// The start of the current request (its request line, up to [`CAPTURE`] bytes).
    line: Vec<u8>,
    /// The last bytes of the head seen so far, to find `\r\n\r\n` across reads.
    tail: [u8; 3],
    wrote: bool,
    replacing: Option<Replacing>,
}

impl<S> Guarded<S> {
    pub fn new(inner: S, renderers: Renderers, timeouts: Timeouts) -> Self {
        Self {
            inner,
            renderers,
            timeouts,
            phase: Phase::Idle,
            since: Instant::now(),
            tick: Box::pin(tokio::time::sleep(timeouts.header.min(timeouts.idle))),
            line: Vec::new(),
            tail: [0; 3],
            wrote: false,
            replacing: None,
        }
    }

    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.since = Instant::now();
    }

    /// True when the current phase has outlived its time-out; otherwise the tick is re-armed
    /// for the rest of it (called when the tick fired).
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let limit = match self.phase {
            Phase::Idle => self.timeouts.idle,
            Phase::Head => self.timeouts.header,
            Phase::Served => self.timeouts.header.max(self.timeouts.idle),
        };
        let now = Instant::now();
        let due = self.since + limit;
        if self.phase != Phase::Served && now >= due {
            return true;
        }
        let next = due
            .max(now + Duration::from_millis(10))
            .min(now + self.timeouts.header);
        self.tick.as_mut().reset(next);
        // Registers the waker for the new deadline.
        let _ = self.tick.as_mut().poll(cx);
        false
    }

    /// Follows the head through newly read bytes.
    fn observe(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if self.wrote {
            // The first bytes after a response: a new request begins.
            self.wrote = false;
            self.phase = Phase::Idle;
        }
        if self.phase == Phase::Idle {
            self.enter(Phase::Head);
            self.line.clear();
            self.tail = [0; 3];
        }
        if self.phase != Phase::Head {
            return;
        }
        if !self.line.contains(&b'\n') && self.line.len() < CAPTURE {
            let room = CAPTURE - self.line.len();
            self.line
                .extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
        }
        // The end of the head, possibly split across reads: the last bytes of the previous
        // read, then this one.
        let mut seam = [0u8; 6];
        seam[..3].copy_from_slice(&self.tail);
        let head = data.len().min(3);
        seam[3..3 + head].copy_from_slice(&data[..head]);
        let ended = seam[..3 + head].windows(4).any(|w| w == b"\r\n\r\n")
            || data.windows(4).any(|w| w == b"\r\n\r\n");
        if ended {
            self.enter(Phase::Served);
        }
        let keep = data.len().min(3);
        self.tail.rotate_left(keep);
        self.tail[3 - keep..].copy_from_slice(&data[data.len() - keep..]);
    }

    /// The path of the current request line, if it was captured.
    fn path(&self) -> Option<String> {
        let line = std::str::from_utf8(&self.line).ok()?;
        let target = line.split(' ').nth(1)?;
        Some(target.split('?').next().unwrap_or(target).to_owned())
    }

    /// hyper's own error answer (see the module docs), as a replacement in our format.
    fn replacement(&self, data: &[u8]) -> Option<Vec<u8>> {
        // Cheap test first: only short answers with an error status can be hyper's own.
        let error_status = data.starts_with(b"HTTP/1.1 4") || data.starts_with(b"HTTP/1.1 5");
        if !error_status || data.len() > 512 {
            return None;
        }
        let head = std::str::from_utf8(data).ok()?;
        let rest = head.strip_prefix("HTTP/1.1 ")?;
        let status = StatusCode::from_bytes(rest.get(..3)?.as_bytes()).ok()?;
        let bare = head.ends_with("\r\n\r\n")
            && head.matches("\r\n\r\n").count() == 1
            && head
                .to_ascii_lowercase()
                .contains("\r\ncontent-length: 0\r\n")
            && !head.to_ascii_lowercase().contains("\r\ncontent-type:");
        if !(status.is_client_error() || status.is_server_error()) || !bare {
            return None;
        }
        let detail = match status {
            StatusCode::URI_TOO_LONG => {
                "the request URI is longer than the server accepts (64 KiB)"
            }
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
                "the request headers are larger than the server accepts"
            }
            StatusCode::REQUEST_TIMEOUT => "the request head did not arrive in time",
            StatusCode::HTTP_VERSION_NOT_SUPPORTED => "only HTTP/1.1 and HTTP/1.0 are served",
            _ => "the request could not be parsed as HTTP/1.1",
        };
        let error = ApiError::new(Kind::from_status(status), detail);
        let path = self.path().unwrap_or_default();
        let cx = ErrorContext {
            path: &path,
            request_id: None,
        };
        Some(serialize(self.renderers.render(&error, &cx)))
    }
}

/// Writes a rendered response as HTTP/1.1 bytes (its body is in memory, so it is ready).
fn serialize(res: Response) -> Vec<u8> {
    let (parts, mut body) = res.into_parts();
    let mut bytes = Vec::new();
    let mut cx = Context::from_waker(std::task::Waker::noop());
    while let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut body).poll_frame(&mut cx) {
        if let Ok(data) = frame.into_data() {
            bytes.extend_from_slice(&data);
        }
    }
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        parts.status.as_str(),
        parts.status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (name, value) in &parts.headers {
        if name == axum::http::header::CONTENT_LENGTH || name == axum::http::header::CONNECTION {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(
        format!(
            "cache-control: no-store\r\nx-content-type-options: nosniff\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n",
            bytes.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&bytes);
    out
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                self.observe(buf.filled().get(before..).unwrap_or_default());
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if self.tick.as_mut().poll(cx).is_ready() && self.expired(cx) {
                    let what = if self.phase == Phase::Idle {
                        "idle connection"
                    } else {
                        "request head"
                    };
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("{what} timed out"),
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Guarded<S> {
    /// Writes what is left of a replacement; ready once all of it is out.
    fn drive(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        while let Some(r) = &mut self.replacing {
            if r.written == r.bytes.len() {
                let n = r.reported;
                self.replacing = None;
                return Poll::Ready(Ok(n));
            }
            let rest = r.bytes.get(r.written..).unwrap_or_default();
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, rest))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            r.written += n;
        }
        Poll::Ready(Ok(0))
    }

    /// After a write: idle until the client's next request, counted from the last write.
    fn wrote(&mut self) {
        self.wrote = true;
        self.enter(Phase::Idle);
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.replacing.is_none() {
            if let Some(bytes) = self.replacement(data) {
                self.replacing = Some(Replacing {
                    bytes,
                    written: 0,
                    reported: data.len(),
                });
            }
        }
        if self.replacing.is_some() {
            let n = ready!(self.drive(cx))?;
            self.wrote();
            return Poll::Ready(Ok(n));
        }
        let n = ready!(Pin::new(&mut self.inner).poll_write(cx, data))?;
        self.wrote();
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // hyper's own answers are one buffer; anything with a body goes straight through.
        let single = match bufs {
            [only] => Some(&only[..]),
            _ => None,
        };
        if self.replacing.is_some() || single.is_some_and(|b| self.replacement(b).is_some()) {
            let first: &[u8] = bufs.first().map(|b| &b[..]).unwrap_or_default();
            return self.poll_write(cx, first);
        }
        let n = ready!(Pin::new(&mut self.inner).poll_write_vectored(cx, bufs))?;
        self.wrote();
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drive(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drive(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
