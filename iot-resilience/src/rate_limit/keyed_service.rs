//! The keyed rate limit service: one quota per key extracted from the
//! request.

use std::fmt;
use std::hash::Hash;
use std::task::{Context, Poll};

use tower_service::Service;

use super::cost::{RequestCost, UnitCost};
use super::error::RateLimitError;
use super::future::ResponseFuture;
use super::keyed::KeyedRateLimiter;
use crate::{Clock, TokioClock};

/// Limits the rate of requests to `S` per key, with a shared
/// [`KeyedRateLimiter`].
///
/// The key needs the request, so the permit is taken in `call`, always
/// with reject semantics: `poll_ready` only drives the inner service, and a
/// refused request fails with [`RateLimitError::Rejected`] without reaching
/// it. Made by [`KeyedRateLimitLayer`](super::KeyedRateLimitLayer).
pub struct KeyedRateLimit<S, K, X, W = UnitCost, C = TokioClock> {
    inner: S,
    limiter: KeyedRateLimiter<K, C>,
    key: X,
    cost: W,
    ready: bool,
}

impl<S, K, X, W, C> KeyedRateLimit<S, K, X, W, C> {
    /// Wraps `inner`; `key` extracts the key from a request and `cost`
    /// weighs it ([`UnitCost`] for one permit per request).
    pub fn new(inner: S, limiter: KeyedRateLimiter<K, C>, key: X, cost: W) -> Self {
        Self {
            inner,
            limiter,
            key,
            cost,
            ready: false,
        }
    }

    /// The shared keyed limiter.
    pub fn limiter(&self) -> &KeyedRateLimiter<K, C> {
        &self.limiter
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

impl<S, K, X, W, C, Req> Service<Req> for KeyedRateLimit<S, K, X, W, C>
where
    S: Service<Req>,
    K: Hash + Eq + Clone,
    X: Fn(&Req) -> K,
    W: RequestCost<Req>,
    C: Clock,
{
    type Response = S::Response;
    type Error = RateLimitError<S::Error>;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let polled = self.inner.poll_ready(cx).map_err(RateLimitError::Inner);
        self.ready = matches!(polled, Poll::Ready(Ok(())));
        polled
    }

    fn call(&mut self, req: Req) -> Self::Future {
        if !std::mem::take(&mut self.ready) {
            return ResponseFuture::failed(RateLimitError::NotReady);
        }
        let key = (self.key)(&req);
        let metrics = self.limiter.metrics();
        match self.limiter.check(&key, self.cost.cost(&req)) {
            Ok(()) => {
                metrics.allowed();
                ResponseFuture::called(self.inner.call(req))
            }
            Err(e) => {
                metrics.rejected();
                tracing::debug!(name = %self.limiter.name(), error = %e, "keyed rate limit: request rejected");
                ResponseFuture::failed(e.into())
            }
        }
    }
}

impl<S: Clone, K, X: Clone, W: Clone, C> Clone for KeyedRateLimit<S, K, X, W, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            limiter: self.limiter.clone(),
            key: self.key.clone(),
            cost: self.cost.clone(),
            ready: false,
        }
    }
}

impl<S: fmt::Debug, K, X, W, C> fmt::Debug for KeyedRateLimit<S, K, X, W, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedRateLimit")
            .field("inner", &self.inner)
            .field("limiter", &self.limiter)
            .field("ready", &self.ready)
            .finish_non_exhaustive()
    }
}
