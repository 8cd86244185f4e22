//! The fallback service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower_service::Service;

use super::config::FallbackConfig;
use super::error::FallbackError;
use super::future::ResponseFuture;
use super::handler::{FallbackService, FallbackValue, PrepareFallback, RunFallback};
use super::predicate::{AnyError, FallbackPredicate};
use super::shared::Shared;

/// Calls `S`; when it fails with an error selected by the predicate `P`,
/// answers with the fallback `H` instead. Made by
/// [`FallbackLayer`](super::FallbackLayer) or the constructors below.
pub struct Fallback<S, H, P = AnyError> {
    inner: S,
    shared: Arc<Shared<H, P>>,
    /// The primary service's last `poll_ready` returned `Ready(Ok)`.
    ready: bool,
}

impl<S, F> Fallback<S, FallbackValue<F>> {
    /// Answers every failure of `inner` with `value(error)`.
    pub fn value(inner: S, value: F) -> Self {
        Self::from_parts(
            inner,
            FallbackValue(value),
            AnyError,
            FallbackConfig::default(),
        )
    }
}

impl<S, S2> Fallback<S, FallbackService<S2>> {
    /// Answers every failure of `inner` by calling `fallback` with a clone
    /// of the request.
    pub fn service(inner: S, fallback: S2) -> Self {
        Self::from_parts(
            inner,
            FallbackService(fallback),
            AnyError,
            FallbackConfig::default(),
        )
    }
}

impl<S, H, P> Fallback<S, H, P> {
    pub(crate) fn from_parts(inner: S, handler: H, predicate: P, config: FallbackConfig) -> Self {
        Self {
            inner,
            shared: Arc::new(Shared::new(handler, predicate, config.name)),
            ready: false,
        }
    }

    /// The inner (primary) service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner (primary) service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

impl<S, H, P, Req> Service<Req> for Fallback<S, H, P>
where
    S: Service<Req>,
    H: PrepareFallback<Req>,
    H: RunFallback<<H as PrepareFallback<Req>>::Pending, S::Error, Response = S::Response>,
    P: FallbackPredicate<S::Error>,
{
    type Response = S::Response;
    type Error = FallbackError<
        S::Error,
        <H as RunFallback<<H as PrepareFallback<Req>>::Pending, S::Error>>::Error,
    >;
    type Future = ResponseFuture<
        S::Future,
        <H as PrepareFallback<Req>>::Pending,
        <H as RunFallback<<H as PrepareFallback<Req>>::Pending, S::Error>>::Future,
        H,
        P,
    >;

    /// Forwards the primary service's readiness; its errors are not handled
    /// by the fallback (a failed `poll_ready` means the service is gone).
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let polled = self.inner.poll_ready(cx);
        self.ready = matches!(polled, Poll::Ready(Ok(())));
        polled.map_err(FallbackError::Inner)
    }

    /// Without a `Ready(Ok)` from the last `poll_ready`, resolves to
    /// [`FallbackError::NotReady`]: neither the primary service (which may
    /// panic, as tower's `ConcurrencyLimit` does) nor the fallback runs,
    /// since misuse is a bug to surface, not a failure to paper over.
    fn call(&mut self, req: Req) -> Self::Future {
        if !std::mem::take(&mut self.ready) {
            return not_ready(&self.shared);
        }
        let pending = self.shared.handler.prepare(&req);
        ResponseFuture::new(self.inner.call(req), pending, Arc::clone(&self.shared))
    }
}

/// Out of line, so the event's code does not weigh on `call`'s inlining.
#[cold]
#[inline(never)]
fn not_ready<F, Pd, HF, H, P>(shared: &Arc<Shared<H, P>>) -> ResponseFuture<F, Pd, HF, H, P> {
    tracing::debug!(name = %shared.name, "fallback: called before poll_ready returned Ready");
    ResponseFuture::not_ready(Arc::clone(shared))
}

impl<S: Clone, H, P> Clone for Fallback<S, H, P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
            ready: false,
        }
    }
}

impl<S: fmt::Debug, H, P> fmt::Debug for Fallback<S, H, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fallback")
            .field("inner", &self.inner)
            .field("name", &self.shared.name)
            .finish_non_exhaustive()
    }
}
