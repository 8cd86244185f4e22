//! [`ResponseFuture`], the future of [`MetricsService`](super::MetricsService).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::classify::Classify;
use super::handles::InFlight;

pin_project! {
    /// Completes with the inner service's result after recording it.
    ///
    /// Dropped before completion (cancelled), it only decrements the
    /// in-flight gauge: a cancelled request is neither counted nor timed.
    pub struct ResponseFuture<F, C> {
        #[pin]
        inner: F,
        in_flight: Option<InFlight<C>>,
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(crate) fn new(inner: F, in_flight: InFlight<C>) -> Self {
        Self {
            inner,
            in_flight: Some(in_flight),
        }
    }
}

impl<F, C, Resp, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<Resp, E>>,
    C: Classify<Resp, E>,
{
    type Output = Result<Resp, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Some(in_flight) = this.in_flight.take() {
            in_flight.finish(&result);
        }
        Poll::Ready(result)
    }
}

impl<F, C> fmt::Debug for ResponseFuture<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("in_flight", &self.in_flight.is_some())
            .finish_non_exhaustive()
    }
}
