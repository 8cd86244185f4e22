//! The response future: a state machine over attempts, sleeps and
//! readiness checks.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower_service::Service;

use super::error::{GiveUpReason, RetryError};
use super::policy::{ErrorHint, ResponseHint, RetryPredicate};
use super::shared::{Progress, Shared, Step};
use crate::backoff::MakeBackoff;

pin_project! {
    /// The future of [`Retry`](super::Retry): runs attempts until one is
    /// accepted or the layer gives up.
    ///
    /// A call that succeeds at its first attempt only polls the inner
    /// future; the backoff schedule is made and the sleep armed (inline, no
    /// allocation) only when a retry happens.
    pub struct ResponseFuture<S, Req, P, B, H, C>
    where
        S: Service<Req>,
        B: MakeBackoff,
    {
        #[pin]
        state: State<S::Future, Result<S::Response, S::Error>>,
        // A clone of the inner service, driven to readiness before every
        // retry (the caller's clone was consumed by the first call).
        service: S,
        // A copy kept for the next attempt; `None` on the last attempt.
        request: Option<Req>,
        shared: Arc<Shared<P, B, H, C>>,
        progress: Progress<B::Backoff>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, R> {
        // An attempt is in flight.
        Calling { #[pin] future: F },
        // Backing off before the next attempt. `last` is the outcome of
        // the previous attempt, returned if the deadline passes before the
        // next one can start.
        Waiting { #[pin] sleep: Sleep, last: Option<R> },
        // Driving `poll_ready` of the service clone before the next attempt.
        CheckingReadiness { last: Option<R> },
        // `call` came before readiness: resolves to `RetryError::NotReady`.
        NotReady,
    }
}

impl<S, Req, P, B, H, C> ResponseFuture<S, Req, P, B, H, C>
where
    S: Service<Req>,
    B: MakeBackoff,
{
    #[inline]
    pub(crate) fn new(
        future: S::Future,
        service: S,
        request: Option<Req>,
        shared: Arc<Shared<P, B, H, C>>,
    ) -> Self {
        Self {
            state: State::Calling { future },
            progress: shared.start(),
            service,
            request,
            shared,
        }
    }

    pub(crate) fn not_ready(service: S, shared: Arc<Shared<P, B, H, C>>) -> Self {
        Self {
            state: State::NotReady,
            progress: Progress {
                attempts: 0,
                deadline_at: None,
                schedule: None,
            },
            service,
            request: None,
            shared,
        }
    }
}

impl<S, Req, P, B, H, C> Future for ResponseFuture<S, Req, P, B, H, C>
where
    S: Service<Req>,
    C: ErrorHint<S::Error>,
    Req: Clone,
    P: RetryPredicate<S::Response, S::Error>,
    B: MakeBackoff,
    H: ResponseHint<S::Response>,
{
    type Output = Result<S::Response, RetryError<S::Error>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Calling { future } => {
                    let result = ready!(future.poll(cx));
                    let can_resend = this.request.is_some();
                    match this.shared.after_attempt(this.progress, can_resend, result) {
                        Step::Done(output) => return Poll::Ready(output),
                        Step::Retry(delay, last) if delay.is_zero() => {
                            this.state
                                .set(State::CheckingReadiness { last: Some(last) });
                        }
                        Step::Retry(delay, last) => {
                            let sleep = tokio::time::sleep(delay);
                            this.state.set(State::Waiting {
                                sleep,
                                last: Some(last),
                            });
                        }
                    }
                }
                StateProj::Waiting { sleep, last } => {
                    ready!(sleep.poll(cx));
                    // The delay was planned to end before the deadline, but
                    // tokio's timer fires on a 1 ms tick, and a busy
                    // runtime polls later still: check again.
                    if let Some(output) = this.shared.deadline_passed(this.progress, last) {
                        return Poll::Ready(output);
                    }
                    let last = last.take();
                    this.state.set(State::CheckingReadiness { last });
                }
                StateProj::CheckingReadiness { last } => {
                    if let Err(error) = ready!(this.service.poll_ready(cx)) {
                        // The attempt that failed before already counted.
                        let attempts = this.progress.attempts - 1;
                        return Poll::Ready(this.shared.give_up(
                            Err(error),
                            attempts,
                            GiveUpReason::ReadinessFailed,
                            None,
                        ));
                    }
                    // Readiness can take arbitrarily long (a full
                    // bulkhead, a rate limiter's wait): the last check
                    // before the attempt starts.
                    if let Some(output) = this.shared.deadline_passed(this.progress, last) {
                        return Poll::Ready(output);
                    }
                    // A retry is only scheduled while a copy is kept
                    // (`after_attempt` gets `can_resend`).
                    let request = this
                        .request
                        .take()
                        .expect("a retry is scheduled only with a request copy");
                    if this.progress.attempts < this.shared.settings.max_attempts() {
                        *this.request = Some(request.clone());
                    }
                    this.shared.retry_started();
                    let future = this.service.call(request);
                    this.state.set(State::Calling { future });
                }
                StateProj::NotReady => {
                    tracing::debug!(
                        target: super::shared::TARGET,
                        name = %this.shared.name,
                        "called before poll_ready returned Ready"
                    );
                    return Poll::Ready(Err(RetryError::NotReady));
                }
            }
        }
    }
}

impl<S, Req, P, B, H, C> fmt::Debug for ResponseFuture<S, Req, P, B, H, C>
where
    S: Service<Req>,
    B: MakeBackoff,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Calling { .. } => "calling",
            State::Waiting { .. } => "waiting",
            State::CheckingReadiness { .. } => "checking_readiness",
            State::NotReady => "not_ready",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .field("attempts", &self.progress.attempts)
            .finish_non_exhaustive()
    }
}
