//! [`MetricsService`], the service [`MetricsLayer`](super::MetricsLayer)
//! wraps around its inner service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower_service::Service;

use super::classify::Classify;
use super::future::ResponseFuture;
use super::handles::{InFlight, Shared};

/// Records request metrics around an inner service.
///
/// Per call: one gauge increment, one clock read, one `Arc` clone; on
/// completion one clock read, one counter increment, one histogram record
/// and one gauge decrement. No allocation, no map lookup.
pub struct MetricsService<S, C> {
    inner: S,
    shared: Arc<Shared<C>>,
}

impl<S, C> MetricsService<S, C> {
    pub(crate) fn new(inner: S, shared: Arc<Shared<C>>) -> Self {
        Self { inner, shared }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, C> Clone for MetricsService<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: fmt::Debug, C> fmt::Debug for MetricsService<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, C, Req> Service<Req> for MetricsService<S, C>
where
    S: Service<Req>,
    C: Classify<S::Response, S::Error>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, C>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, req: Req) -> Self::Future {
        let in_flight = InFlight::start(&self.shared);
        ResponseFuture::new(self.inner.call(req), in_flight)
    }
}
