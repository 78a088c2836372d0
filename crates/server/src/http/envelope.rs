//! What every request passes through inside the shared stack: its time-out
//! ([`super::deadline`]) and the rendering of its error answers in its dialect's format
//! ([`super::dialect::render_errors`]). One hand-written service with one boxed future per
//! request: as two `from_fn` middlewares they cost two boxed futures and two boxed, cloned
//! copies of the rest of the stack on every request.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::response::Response;
use tower::{Layer, Service};

use super::dialect::{render_errors, Renderers};

#[derive(Clone)]
pub struct EnvelopeLayer {
    renderers: Renderers,
    timeout: Duration,
}

impl EnvelopeLayer {
    pub fn new(renderers: Renderers, timeout: Duration) -> Self {
        Self { renderers, timeout }
    }
}

impl<S> Layer<S> for EnvelopeLayer {
    type Service = Envelope<S>;

    fn layer(&self, inner: S) -> Envelope<S> {
        Envelope {
            inner,
            renderers: self.renderers.clone(),
            timeout: self.timeout,
        }
    }
}

#[derive(Clone)]
pub struct Envelope<S> {
    inner: S,
    renderers: Renderers,
    timeout: Duration,
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

    fn call(&mut self, req: Request) -> Self::Future {
        // The service polled ready serves this request; a clone waits for the next.
        let fresh = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, fresh);
        let renderers = self.renderers.clone();
        let timeout = self.timeout;
        Box::pin(async move {
            // Cheap clones (shared buffers): only an error answer reads them.
            let uri = req.uri().clone();
            let request_id = req.headers().get(super::request_id::HEADER).cloned();
            let res = super::deadline::within(timeout, req, inner).await;
            Ok(render_errors(&renderers, &uri, request_id.as_ref(), res).await)
        })
    }
}
