//! The rate limit service.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::time::Sleep;
use tower_service::Service;

use super::config::RateLimitMode;
use super::cost::{RequestCost, UnitCost};
use super::error::RateLimitError;
use super::future::ResponseFuture;
use super::limiter::{CheckError, RateLimiter, Reservation};
use crate::clock::nanos;
use crate::{Clock, TokioClock};

/// Limits the rate of requests to `S` with a shared [`RateLimiter`].
///
/// Made by [`RateLimitLayer`](super::RateLimitLayer); see the
/// [module docs](super) for where permits are taken. Clones share the
/// limiter; each clone has its own readiness (and, in wait mode, its own
/// timer, allocated on its first wait and reused).
pub struct RateLimit<S, W = UnitCost, C = TokioClock> {
    inner: S,
    limiter: RateLimiter<C>,
    cost: W,
    state: State,
    /// The inner service's last `poll_ready` returned `Ready(Ok)`: only
    /// then may `call` reach it (tower's `ConcurrencyLimit` and others
    /// panic otherwise).
    inner_ready: bool,
    sleep: Option<Pin<Box<Sleep>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No readiness: `call` returns `NotReady`.
    Idle,
    /// Sleeping until a reserved unit permit is due (`permit`), or until
    /// the limiter has a permit again (weighted costs).
    Waiting { permit: Option<Reservation> },
    /// The limiter admitted the call; `permit` if a unit permit is held.
    Ready {
        permit: Option<Reservation>,
        waited: bool,
    },
    /// The limiter refused; the next `call` fails with this.
    Rejected { retry_after: Duration },
}

impl<S, W, C: Clock> RateLimit<S, W, C> {
    /// Wraps `inner` with `limiter` and a cost function (use [`UnitCost`]
    /// for one permit per request).
    pub fn new(inner: S, limiter: RateLimiter<C>, cost: W) -> Self {
        Self {
            inner,
            limiter,
            cost,
            state: State::Idle,
            inner_ready: false,
            sleep: None,
        }
    }

    /// The shared limiter.
    pub fn limiter(&self) -> &RateLimiter<C> {
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

    /// Decides the next state from `Idle`: takes (or reserves) a unit
    /// permit, or for weighted costs checks that the limiter is not
    /// exhausted. The state is written in place, not returned (a returned
    /// `State` went through the stack and was read back in words over its
    /// one-byte field, a stalled read on every `poll_ready`).
    fn acquire(&mut self, unit: bool) {
        let (mode, max_wait) = self.limiter.mode();
        // Waits in nanoseconds: the common answer, 0, makes no `Duration`.
        let taken = match (mode, unit) {
            (RateLimitMode::Reject, false) => Ok((0, None)),
            (RateLimitMode::Reject, true) => self
                .limiter
                .reserve_unit(0)
                .map(|(wait, r)| (wait, Some(r))),
            (RateLimitMode::Wait, true) => {
                let max_wait = nanos(max_wait);
                self.limiter
                    .reserve_unit(max_wait)
                    .map(|(wait, r)| (wait, Some(r)))
            }
            (RateLimitMode::Wait, false) => match self.limiter.time_until(1) {
                Ok(wait) if wait > max_wait => return self.reject_after(wait),
                other => other.map(|wait| (nanos(wait), None)),
            },
        };
        match taken {
            Ok((0, permit)) => {
                if unit {
                    self.limiter.metrics().allowed();
                }
                self.state = State::Ready {
                    permit,
                    waited: false,
                };
            }
            Ok((wait, permit)) => {
                let wait = Duration::from_nanos(wait);
                tracing::trace!(name = %self.limiter.name(), ?wait, "rate limit: waiting for a permit");
                let deadline = tokio::time::Instant::now() + wait;
                match &mut self.sleep {
                    Some(sleep) => sleep.as_mut().reset(deadline),
                    None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
                }
                self.state = State::Waiting { permit };
            }
            Err(CheckError::NotUntil(n)) => self.reject_after(n.retry_after()),
            // Cost 1 never exceeds a burst of at least 1.
            Err(CheckError::InsufficientCapacity { .. }) => self.reject_after(Duration::MAX),
        }
    }

    fn reject_after(&mut self, retry_after: Duration) {
        self.limiter.metrics().rejected();
        tracing::debug!(name = %self.limiter.name(), ?retry_after, "rate limit: request rejected");
        self.state = State::Rejected { retry_after };
    }
}

impl<S, W, C> RateLimit<S, W, C> {
    /// Back to `Idle`, giving back an unused permit.
    fn release(&mut self) {
        if let State::Ready {
            permit: Some(r), ..
        }
        | State::Waiting { permit: Some(r) } = self.state
        {
            self.limiter.refund(r);
        }
        self.state = State::Idle;
        self.inner_ready = false;
    }
}

impl<S, W, C, Req> Service<Req> for RateLimit<S, W, C>
where
    S: Service<Req>,
    W: RequestCost<Req>,
    C: Clock,
{
    type Response = S::Response;
    type Error = RateLimitError<S::Error>;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        loop {
            match self.state {
                State::Ready { .. } => {
                    return match self.inner.poll_ready(cx) {
                        Poll::Ready(Ok(())) => {
                            self.inner_ready = true;
                            Poll::Ready(Ok(()))
                        }
                        Poll::Ready(Err(e)) => {
                            self.release();
                            Poll::Ready(Err(RateLimitError::Inner(e)))
                        }
                        Poll::Pending => {
                            self.inner_ready = false;
                            Poll::Pending
                        }
                    };
                }
                State::Waiting { permit } => {
                    if let Some(sleep) = self.sleep.as_mut() {
                        ready!(sleep.as_mut().poll(cx));
                    }
                    if permit.is_some() {
                        self.limiter.metrics().waited();
                    }
                    self.state = State::Ready {
                        permit,
                        waited: true,
                    };
                }
                // A rejection is delivered by `call`, never by `poll_ready`:
                // `Buffer`, `Balance` and others treat a `poll_ready` error
                // as the end of the service. Polling again retries.
                State::Idle | State::Rejected { .. } => {
                    self.acquire(W::UNIT);
                    if let State::Rejected { .. } = self.state {
                        return Poll::Ready(Ok(()));
                    }
                }
            }
        }
    }

    fn call(&mut self, req: Req) -> Self::Future {
        match self.state {
            // Admitted by the limiter but the inner service has not said
            // Ready (its last `poll_ready` was `Pending`, or was never
            // made): keep the permit for the next `poll_ready`.
            State::Ready { .. } if !self.inner_ready => {
                ResponseFuture::failed(RateLimitError::NotReady)
            }
            State::Ready { waited, .. } => {
                self.state = State::Idle;
                self.inner_ready = false;
                if !W::UNIT {
                    let metrics = self.limiter.metrics();
                    match self.limiter.check(self.cost.cost(&req)) {
                        Ok(()) if waited => metrics.waited(),
                        Ok(()) => metrics.allowed(),
                        Err(e) => {
                            metrics.rejected();
                            tracing::debug!(name = %self.limiter.name(), error = %e, "rate limit: request rejected");
                            return ResponseFuture::failed(e.into());
                        }
                    }
                }
                ResponseFuture::called(self.inner.call(req))
            }
            State::Rejected { retry_after } => {
                self.state = State::Idle;
                ResponseFuture::failed(RateLimitError::Rejected { retry_after })
            }
            State::Idle | State::Waiting { .. } => ResponseFuture::failed(RateLimitError::NotReady),
        }
    }
}

impl<S, W, C> Drop for RateLimit<S, W, C> {
    fn drop(&mut self) {
        // A permit taken in `poll_ready` but never used goes back (when
        // that cannot over-admit: `RateLimiter::refund`).
        self.release();
    }
}

impl<S: Clone, W: Clone, C> Clone for RateLimit<S, W, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            limiter: self.limiter.clone(),
            cost: self.cost.clone(),
            state: State::Idle,
            inner_ready: false,
            sleep: None,
        }
    }
}

impl<S: fmt::Debug, W, C> fmt::Debug for RateLimit<S, W, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner)
            .field("limiter", &self.limiter)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
