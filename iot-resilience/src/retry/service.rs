//! The retry service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower_service::Service;

use super::budget::RetryBudget;
use super::error::{GiveUpReason, RetryError};
use super::future::ResponseFuture;
use super::policy::{
    ErrorHint, HintFromError, NoResponseHint, ResponseHint, RetryOnError, RetryPredicate,
};
use super::shared::Shared;
use crate::backoff::{BackoffConfig, MakeBackoff};
use crate::clock::Stamp;

/// Retries calls to the inner service; made by [`RetryLayer`](super::RetryLayer).
///
/// Clones share the configuration, the predicate, the backoff factory and
/// the retry budget. A clone starts not ready: drive `poll_ready` before
/// `call`, or the call resolves to [`RetryError::NotReady`].
///
/// Requires `S: Clone` (each call keeps a clone of the inner service to
/// retry on, driven to readiness before every retry, as `tower::retry`
/// does; wrap non-`Clone` services in `tower::buffer::Buffer`) and
/// `Req: Clone` (a copy of the request is kept for the next attempt; see
/// tower issue #682 for why retrying needs one). Use cheaply cloneable
/// requests (`bytes::Bytes`, `Arc`) on hot paths.
pub struct Retry<S, P = RetryOnError, B = BackoffConfig, H = NoResponseHint, C = HintFromError> {
    inner: S,
    shared: Arc<Shared<P, B, H, C>>,
    ready: bool,
}

impl<S, P, B, H, C> Retry<S, P, B, H, C> {
    pub(crate) fn from_parts(inner: S, shared: Arc<Shared<P, B, H, C>>) -> Self {
        Self {
            inner,
            shared,
            ready: false,
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, by value.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The retry budget shared by the clones, if one is configured.
    pub fn budget(&self) -> Option<&Arc<RetryBudget>> {
        self.shared.budget.as_ref()
    }
}

impl<S: Clone, P, B, H, C> Clone for Retry<S, P, B, H, C> {
    /// A clone shares the policy and the budget but starts not ready.
    fn clone(&self) -> Self {
        Self::from_parts(self.inner.clone(), Arc::clone(&self.shared))
    }
}

impl<S: fmt::Debug, P, B, H, C> fmt::Debug for Retry<S, P, B, H, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("name", &self.shared.name)
            .field("max_attempts", &self.shared.settings.max_attempts())
            .field("inner", &self.inner)
            .field("ready", &self.ready)
            .finish_non_exhaustive()
    }
}

impl<S, Req, P, B, H, C> Service<Req> for Retry<S, P, B, H, C>
where
    S: Service<Req> + Clone,
    C: ErrorHint<S::Error>,
    Req: Clone,
    P: RetryPredicate<S::Response, S::Error>,
    B: MakeBackoff,
    H: ResponseHint<S::Response>,
{
    type Response = S::Response;
    type Error = RetryError<S::Error>;
    type Future = ResponseFuture<S, Req, P, B, H, C>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match self.inner.poll_ready(cx) {
            Poll::Ready(Ok(())) => {
                self.ready = true;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => {
                self.ready = false;
                Poll::Ready(Err(RetryError::Failed {
                    error,
                    attempts: 0,
                    reason: GiveUpReason::ReadinessFailed,
                }))
            }
            // Readiness is that of the last poll: `call` after `Pending`
            // must not reach the inner service.
            Poll::Pending => {
                self.ready = false;
                Poll::Pending
            }
        }
    }

    #[inline]
    fn call(&mut self, request: Req) -> Self::Future {
        if !std::mem::take(&mut self.ready) {
            return ResponseFuture::not_ready(self.inner.clone(), Arc::clone(&self.shared));
        }
        let copy = (self.shared.settings.max_attempts() > 1).then(|| request.clone());
        // Call the clone that was made ready; retries use a fresh clone,
        // which the future drives to readiness itself.
        let future = match &self.shared.budget {
            // One reading of the time for the call: the budget's deposit,
            // and the layers below (a timeout's deadline) through
            // `Stamp::now`.
            Some(budget) => {
                let stamp = Stamp::now();
                budget.deposit_at(stamp);
                stamp.during(|| self.inner.call(request))
            }
            None => self.inner.call(request),
        };
        ResponseFuture::new(future, self.inner.clone(), copy, Arc::clone(&self.shared))
    }
}
