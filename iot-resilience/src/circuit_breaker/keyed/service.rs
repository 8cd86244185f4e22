//! The per-key breaker service.

use std::fmt;
use std::hash::Hash;
use std::task::{Context, Poll};

use tower_service::Service;

use super::KeyedCircuitBreaker;
use crate::circuit_breaker::{
    CallPermit, CircuitBreakerError, Classifier, DefaultClassifier, ResponseFuture,
};

/// A service guarded by one circuit breaker per key. Built by
/// [`KeyedCircuitBreakerLayer`](super::KeyedCircuitBreakerLayer).
///
/// The key lives in the request, so admission happens in `call`:
/// `poll_ready` only drives the inner service, and `call` looks the key's
/// breaker up and either calls the inner service or returns
/// [`CircuitBreakerError::Open`] without calling it (the inner readiness is
/// then left unused; the next `poll_ready` returns it again). `call` without
/// a successful `poll_ready` returns [`CircuitBreakerError::NotReady`].
pub struct KeyedCircuitBreakerService<S, K, F, C = DefaultClassifier> {
    inner: S,
    breakers: KeyedCircuitBreaker<K>,
    extractor: F,
    classifier: C,
    ready: bool,
}

impl<S, K, F, C> KeyedCircuitBreakerService<S, K, F, C> {
    /// Wraps `inner`.
    pub fn new(inner: S, breakers: KeyedCircuitBreaker<K>, extractor: F, classifier: C) -> Self {
        Self {
            inner,
            breakers,
            extractor,
            classifier,
            ready: false,
        }
    }

    /// The shared per-key breakers.
    pub fn breakers(&self) -> &KeyedCircuitBreaker<K> {
        &self.breakers
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

impl<S: Clone, K, F: Clone, C: Clone> Clone for KeyedCircuitBreakerService<S, K, F, C> {
    /// The clone must be driven to readiness itself.
    fn clone(&self) -> Self {
        Self::new(
            self.inner.clone(),
            self.breakers.clone(),
            self.extractor.clone(),
            self.classifier.clone(),
        )
    }
}

impl<S: fmt::Debug, K, F, C> fmt::Debug for KeyedCircuitBreakerService<S, K, F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedCircuitBreakerService")
            .field("inner", &self.inner)
            .field("breakers", &self.breakers)
            .field("ready", &self.ready)
            .finish_non_exhaustive()
    }
}

impl<S, K, F, C, Req> Service<Req> for KeyedCircuitBreakerService<S, K, F, C>
where
    S: Service<Req>,
    K: Hash + Eq + Clone + fmt::Debug + Send + Sync + 'static,
    F: Fn(&Req) -> K,
    C: Classifier<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = CircuitBreakerError<S::Error>;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match self.inner.poll_ready(cx) {
            Poll::Ready(Ok(())) => {
                self.ready = true;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => {
                self.ready = false;
                Poll::Ready(Err(CircuitBreakerError::Inner(e)))
            }
            Poll::Pending => {
                self.ready = false;
                Poll::Pending
            }
        }
    }

    fn call(&mut self, req: Req) -> Self::Future {
        if !std::mem::take(&mut self.ready) {
            return ResponseFuture::not_ready();
        }
        let handle = self.breakers.get_owned((self.extractor)(&req));
        match handle.core.try_acquire() {
            Ok(raw) => {
                let permit = CallPermit::new(handle, raw);
                ResponseFuture::called(self.inner.call(req), permit, self.classifier.clone())
            }
            Err(rejected) => ResponseFuture::rejected(rejected),
        }
    }
}
