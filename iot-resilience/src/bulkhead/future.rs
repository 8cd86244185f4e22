//! The response future: holds the permit until the inner call completes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::error::BulkheadError;
use super::limit::Permit;

pin_project! {
    /// The future of [`Bulkhead`](super::Bulkhead). It holds the permit
    /// taken in `poll_ready` and releases it when the inner future
    /// completes or when it is dropped.
    pub struct ResponseFuture<F, E> {
        #[pin]
        kind: Kind<F, E>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, E> {
        Called { #[pin] future: F, permit: Option<Permit> },
        Failed { error: Option<BulkheadError<E>> },
    }
}

impl<F, E> ResponseFuture<F, E> {
    #[inline]
    pub(crate) fn called(future: F, permit: Permit) -> Self {
        Self {
            kind: Kind::Called {
                future,
                permit: Some(permit),
            },
        }
    }

    pub(crate) fn failed(error: BulkheadError<E>) -> Self {
        Self {
            kind: Kind::Failed { error: Some(error) },
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F, E>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<T, BulkheadError<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Called { future, permit } => {
                let out = ready!(future.poll(cx));
                // Release now, not when the caller gets round to dropping us.
                drop(permit.take());
                Poll::Ready(out.map_err(BulkheadError::Inner))
            }
            KindProj::Failed { error } => Poll::Ready(Err(error
                .take()
                .expect("ResponseFuture polled after completion"))),
        }
    }
}

impl<F, E> std::fmt::Debug for ResponseFuture<F, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
