//! The breaker service.

use std::mem;
use std::task::{Context, Poll};

use tower_service::Service;

use super::core::RawPermit;
use super::{
    CallPermit, CircuitBreakerError, CircuitBreakerHandle, Classifier, DefaultClassifier, Rejected,
    ResponseFuture,
};

/// What `poll_ready` decided for the next `call`.
#[derive(Debug, Clone, Copy)]
enum Admission {
    /// `poll_ready` has not admitted a call.
    None,
    /// Admitted: the permit is held until `call` (or drop).
    Permit(RawPermit),
    /// Rejected: `call` fails fast with this.
    Rejected(Rejected),
}

/// A service guarded by a circuit breaker. Built by
/// [`CircuitBreakerLayer`](super::CircuitBreakerLayer).
///
/// Admission happens in `poll_ready`, which takes a permit and keeps it
/// until `call`. A rejection is *not* an error of `poll_ready` (middleware
/// such as `tower::buffer` treats those as fatal): `poll_ready` returns
/// `Ready(Ok(()))` at once without waiting for the inner service, and the
/// next `call` returns [`CircuitBreakerError::Open`] without calling it,
/// as `tower::load_shed` does. `call` without a successful `poll_ready`
/// returns [`CircuitBreakerError::NotReady`]. A held permit is given back if
/// the service is dropped, and re-checked if the breaker changed state
/// while waiting for the inner service.
#[derive(Debug)]
pub struct CircuitBreaker<S, C = DefaultClassifier> {
    inner: S,
    handle: CircuitBreakerHandle,
    classifier: C,
    admission: Admission,
    /// The inner service's last `poll_ready` returned `Ready(Ok)`: only
    /// then does `call` reach it, even with a permit held.
    inner_ready: bool,
}

impl<S, C> CircuitBreaker<S, C> {
    /// Wraps `inner` in the breaker behind `handle`.
    pub fn new(inner: S, handle: CircuitBreakerHandle, classifier: C) -> Self {
        Self {
            inner,
            handle,
            classifier,
            admission: Admission::None,
            inner_ready: false,
        }
    }

    /// The shared breaker.
    pub fn handle(&self) -> &CircuitBreakerHandle {
        &self.handle
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    fn release(&mut self) {
        self.inner_ready = false;
        if let Admission::Permit(p) = mem::replace(&mut self.admission, Admission::None) {
            self.handle.core.release(p);
        }
    }
}

impl<S: Clone, C: Clone> Clone for CircuitBreaker<S, C> {
    /// The clone shares the breaker but not the permit: it must be driven to
    /// readiness itself.
    fn clone(&self) -> Self {
        Self::new(
            self.inner.clone(),
            self.handle.clone(),
            self.classifier.clone(),
        )
    }
}

impl<S, C> Drop for CircuitBreaker<S, C> {
    fn drop(&mut self) {
        self.release();
    }
}

impl<S, C, Req> Service<Req> for CircuitBreaker<S, C>
where
    S: Service<Req>,
    C: Classifier<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = CircuitBreakerError<S::Error>;
    type Future = ResponseFuture<S::Future, C>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let core = &self.handle.core;
        match self.admission {
            Admission::Permit(p) if core.is_current(p) => {}
            _ => {
                self.release();
                match self.handle.core.try_acquire() {
                    Ok(p) => self.admission = Admission::Permit(p),
                    Err(r) => {
                        self.admission = Admission::Rejected(r);
                        return Poll::Ready(Ok(()));
                    }
                }
            }
        }
        match self.inner.poll_ready(cx) {
            Poll::Ready(Ok(())) => {
                self.inner_ready = true;
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                self.inner_ready = false;
                Poll::Pending
            }
            Poll::Ready(Err(e)) => {
                self.release();
                Poll::Ready(Err(CircuitBreakerError::Inner(e)))
            }
        }
    }

    #[inline]
    fn call(&mut self, req: Req) -> Self::Future {
        match mem::replace(&mut self.admission, Admission::None) {
            Admission::Permit(raw) if mem::take(&mut self.inner_ready) => {
                // The permit exists before the inner call, so a panicking
                // `call` still gives it back.
                let permit = CallPermit::new(self.handle.clone(), raw);
                ResponseFuture::called(self.inner.call(req), permit, self.classifier.clone())
            }
            Admission::Rejected(r) => ResponseFuture::rejected(r),
            // A permit but the inner service is not ready (its last
            // `poll_ready` was `Pending`): keep the permit for the next
            // `poll_ready` and do not reach the inner service.
            held @ Admission::Permit(_) => {
                self.admission = held;
                ResponseFuture::not_ready()
            }
            Admission::None => ResponseFuture::not_ready(),
        }
    }
}
