//! The response future: the inner future raced against a deadline.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Sleep;

use super::error::TimeoutError;
use super::metrics::Shared;
use crate::clock::Stamp;

pin_project! {
    /// The future of [`Timeout`](super::Timeout). The timer lives inside
    /// it (no allocation). The deadline is fixed when the call is made; the
    /// timer itself is armed only when the inner future first returns
    /// `Pending`, so a call that completes in its first poll (a cache hit,
    /// an in-memory service) costs one clock read and no timer.
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
        after: Duration,
        shared: Arc<Shared>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Called {
            #[pin]
            future: F,
            // When the call was made: the deadline is `after` later.
            start: Stamp,
            // Armed at the first `Pending` of `future`.
            #[pin]
            sleep: Option<Sleep>,
        },
        // `call` without readiness: resolves to `TimeoutError::NotReady`.
        NotReady,
    }
}

impl<F> ResponseFuture<F> {
    #[inline]
    pub(crate) fn new(future: F, after: Duration, shared: Arc<Shared>) -> Self {
        Self {
            kind: Kind::Called {
                future,
                start: Stamp::now(),
                sleep: None,
            },
            after,
            shared,
        }
    }

    pub(crate) fn not_ready(shared: Arc<Shared>) -> Self {
        Self {
            kind: Kind::NotReady,
            after: Duration::ZERO,
            shared,
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<T, TimeoutError<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let (future, start, mut sleep) = match this.kind.project() {
            KindProj::Called {
                future,
                start,
                sleep,
            } => (future, start, sleep),
            KindProj::NotReady => return Poll::Ready(Err(TimeoutError::NotReady)),
        };
        // The inner future first: a response ready at the deadline wins.
        if let Poll::Ready(out) = future.poll(cx) {
            return Poll::Ready(out.map_err(TimeoutError::Inner));
        }
        if sleep.is_none() {
            let deadline = start.instant_after(*this.after);
            sleep.set(Some(tokio::time::sleep_until(deadline)));
        }
        let Some(sleep) = sleep.as_pin_mut() else {
            unreachable!("armed above")
        };
        match sleep.poll(cx) {
            Poll::Ready(()) => {
                this.shared.elapsed(*this.after);
                Poll::Ready(Err(TimeoutError::Elapsed { after: *this.after }))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("after", &self.after)
            .finish_non_exhaustive()
    }
}
