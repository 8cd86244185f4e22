//! The timeout service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tower_service::Service;

use super::error::TimeoutError;
use super::future::ResponseFuture;
use super::metrics::Shared;
use super::per_request::{DefaultTimeout, RequestTimeout};

/// Fails calls to `S` that take longer than their timeout with
/// [`TimeoutError::Elapsed`]. Made by [`TimeoutLayer`](super::TimeoutLayer).
pub struct Timeout<S, T = DefaultTimeout> {
    inner: S,
    per_request: T,
    shared: Arc<Shared>,
    /// The inner service's last `poll_ready` returned `Ready(Ok)`.
    ready: bool,
}

impl<S, T> Timeout<S, T> {
    pub(crate) fn new(inner: S, per_request: T, shared: Arc<Shared>) -> Self {
        Self {
            inner,
            per_request,
            shared,
            ready: false,
        }
    }

    /// The timeout in effect (as configured, or as last changed through
    /// [`TimeoutLayer::handle`](super::TimeoutLayer::handle)).
    pub fn timeout(&self) -> Duration {
        self.shared.timeout()
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, T, Req> Service<Req> for Timeout<S, T>
where
    S: Service<Req>,
    T: RequestTimeout<Req>,
{
    type Response = S::Response;
    type Error = TimeoutError<S::Error>;
    type Future = ResponseFuture<S::Future>;

    /// Readiness is not timed: only calls are.
    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let polled = self.inner.poll_ready(cx);
        self.ready = matches!(polled, Poll::Ready(Ok(())));
        polled.map_err(TimeoutError::Inner)
    }

    /// Without a `Ready(Ok)` from the last `poll_ready`, resolves to
    /// [`TimeoutError::NotReady`] and does not reach the inner service
    /// (which may panic, as tower's `ConcurrencyLimit` does).
    #[inline]
    fn call(&mut self, req: Req) -> Self::Future {
        if !std::mem::take(&mut self.ready) {
            return not_ready(&self.shared);
        }
        let after = self
            .per_request
            .timeout(&req)
            .unwrap_or_else(|| self.shared.timeout());
        ResponseFuture::new(self.inner.call(req), after, Arc::clone(&self.shared))
    }
}

/// Out of line, so the event's code does not weigh on `call`'s inlining.
#[cold]
#[inline(never)]
fn not_ready<F>(shared: &Arc<Shared>) -> ResponseFuture<F> {
    tracing::debug!(name = %shared.name, "timeout: called before poll_ready returned Ready");
    ResponseFuture::not_ready(Arc::clone(shared))
}

impl<S: Clone, T: Clone> Clone for Timeout<S, T> {
    fn clone(&self) -> Self {
        Self::new(
            self.inner.clone(),
            self.per_request.clone(),
            Arc::clone(&self.shared),
        )
    }
}

impl<S: fmt::Debug, T> fmt::Debug for Timeout<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("inner", &self.inner)
            .field("name", &self.shared.name)
            .field("timeout", &self.shared.timeout())
            .finish_non_exhaustive()
    }
}
