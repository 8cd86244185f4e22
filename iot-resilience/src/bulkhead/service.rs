//! The bulkhead service.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;
use tower_service::Service;

use super::error::BulkheadError;
use super::future::ResponseFuture;
use super::limit::{Limit, Permit, WaitGuard};
use super::waiter::Waiter;

/// Limits the calls in flight to `S`, shared by every clone.
///
/// Made by [`BulkheadLayer`](super::BulkheadLayer); see the
/// [module docs](super) for the readiness contract.
pub struct Bulkhead<S> {
    inner: S,
    limit: Arc<Limit>,
    state: State,
    /// The inner service's last `poll_ready` returned `Ready(Ok)`: only
    /// then does `call` reach it, even with a permit held.
    inner_ready: bool,
    /// Allocated on this instance's first wait, reused afterwards.
    waiter: Option<Pin<Box<Waiter>>>,
}

#[derive(Debug)]
enum State {
    Idle,
    Waiting { since: Instant, _guard: WaitGuard },
    Ready(Permit),
    Full { waited: Duration },
}

impl<S> Bulkhead<S> {
    pub(crate) fn new(inner: S, limit: Arc<Limit>) -> Self {
        Self {
            inner,
            limit,
            state: State::Idle,
            inner_ready: false,
            waiter: None,
        }
    }

    /// Permits held now, by all clones together.
    pub fn in_flight(&self) -> usize {
        self.limit.in_flight()
    }

    /// The limit in effect (as configured, or as last changed through
    /// [`BulkheadLayer::handle`](super::BulkheadLayer::handle)).
    pub fn max_concurrent(&self) -> usize {
        self.limit.max()
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Leaves `Idle`: takes a permit, starts waiting, or rejects.
    fn start(&mut self) -> State {
        if let Some(permit) = self.limit.try_acquire() {
            return State::Ready(permit);
        }
        let max_wait = self.limit.max_wait();
        if max_wait.is_zero() {
            return self.reject(Duration::ZERO);
        }
        let now = Instant::now();
        // `Duration::MAX` (or any wait past the clock's range) means "wait
        // as long as it takes": a century stands in for it instead of
        // overflowing the `Instant`.
        let deadline = now
            .checked_add(max_wait)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600));
        let guard = WaitGuard::new(&self.limit);
        let notify = &self.limit.notify;
        self.waiter
            .get_or_insert_with(|| Box::pin(Waiter::new(notify, deadline)))
            .as_mut()
            .arm(notify, deadline);
        tracing::trace!(name = %self.limit.name, "bulkhead full: waiting for a permit");
        State::Waiting {
            since: now,
            _guard: guard,
        }
    }

    /// One step of a wait: `Some(next state)` or `None` if still waiting.
    fn poll_wait(&mut self, since: Instant, cx: &mut Context<'_>) -> Option<State> {
        let notify = &self.limit.notify;
        let mut waiter = self.waiter.as_mut()?.as_mut();
        loop {
            // Registered before this check, so a release after it wakes us.
            if let Some(permit) = self.limit.try_acquire() {
                waiter.disarm(notify);
                return Some(State::Ready(permit));
            }
            if waiter.as_mut().poll_notified(cx) {
                waiter.as_mut().rearm(notify);
                continue;
            }
            if waiter.as_mut().poll_expired(cx) {
                waiter.disarm(notify);
                let waited = Instant::now().saturating_duration_since(since);
                return Some(self.reject(waited));
            }
            return None;
        }
    }

    fn reject(&self, waited: Duration) -> State {
        self.limit.metrics.rejected();
        tracing::debug!(
            name = %self.limit.name,
            max_concurrent = self.limit.max(),
            ?waited,
            "bulkhead full: call rejected"
        );
        State::Full { waited }
    }
}

impl<S, Req> Service<Req> for Bulkhead<S>
where
    S: Service<Req>,
{
    type Response = S::Response;
    type Error = BulkheadError<S::Error>;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        loop {
            match &self.state {
                State::Ready(_) => {
                    let polled = self.inner.poll_ready(cx);
                    self.inner_ready = matches!(polled, Poll::Ready(Ok(())));
                    if let Poll::Ready(Err(e)) = polled {
                        self.state = State::Idle; // releases the permit
                        return Poll::Ready(Err(BulkheadError::Inner(e)));
                    }
                    return polled.map_err(BulkheadError::Inner);
                }
                &State::Waiting { since, .. } => match self.poll_wait(since, cx) {
                    Some(full @ State::Full { .. }) => {
                        self.state = full;
                        return Poll::Ready(Ok(()));
                    }
                    Some(next) => self.state = next,
                    None => return Poll::Pending,
                },
                // A rejection is delivered by `call`, never by `poll_ready`
                // (which `Buffer` and others treat as fatal). Polling again
                // tries again.
                State::Idle | State::Full { .. } => {
                    self.state = self.start();
                    if let State::Full { .. } = self.state {
                        return Poll::Ready(Ok(()));
                    }
                }
            }
        }
    }

    #[inline]
    fn call(&mut self, req: Req) -> Self::Future {
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Ready(permit) if std::mem::take(&mut self.inner_ready) => {
                ResponseFuture::called(self.inner.call(req), permit)
            }
            State::Full { waited } => ResponseFuture::failed(BulkheadError::Full {
                max_concurrent: self.limit.max(),
                waited,
            }),
            // Not ready, or a permit held while the inner service is not
            // (its last `poll_ready` was `Pending`): the state, permit
            // included, stays for the next `poll_ready`.
            other => {
                self.state = other;
                ResponseFuture::failed(BulkheadError::NotReady)
            }
        }
    }
}

impl<S: Clone> Clone for Bulkhead<S> {
    /// The clone shares the limit but is not ready and holds no permit.
    fn clone(&self) -> Self {
        Self::new(self.inner.clone(), Arc::clone(&self.limit))
    }
}

impl<S: fmt::Debug> fmt::Debug for Bulkhead<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bulkhead")
            .field("inner", &self.inner)
            .field("name", &self.limit.name)
            .field("max_concurrent", &self.limit.max())
            .field("max_wait", &self.limit.max_wait())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
