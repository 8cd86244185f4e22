//! The response future of the breaker services.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::{CallPermit, CircuitBreakerError, Classifier, Rejected};

pin_project! {
    /// Response future of [`CircuitBreaker`](super::CircuitBreaker) and
    /// [`KeyedCircuitBreakerService`](super::KeyedCircuitBreakerService).
    ///
    /// Classifies the inner result and records it when it completes. If it
    /// is dropped before completing, the call is not counted and a half-open
    /// probe permit is given back.
    pub struct ResponseFuture<F, C> {
        #[pin]
        kind: Kind<F, C>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, C> {
        Called {
            #[pin]
            future: F,
            permit: Option<CallPermit>,
            classifier: C,
        },
        Rejected {
            rejected: Rejected,
        },
        NotReady,
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(crate) fn called(future: F, permit: CallPermit, classifier: C) -> Self {
        Self {
            kind: Kind::Called {
                future,
                permit: Some(permit),
                classifier,
            },
        }
    }

    pub(crate) fn rejected(rejected: Rejected) -> Self {
        Self {
            kind: Kind::Rejected { rejected },
        }
    }

    pub(crate) fn not_ready() -> Self {
        Self {
            kind: Kind::NotReady,
        }
    }
}

impl<F, C, Res, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<Res, E>>,
    C: Classifier<Res, E>,
{
    type Output = Result<Res, CircuitBreakerError<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Called {
                future,
                permit,
                classifier,
            } => {
                let result = ready!(future.poll(cx));
                if let Some(permit) = permit.as_mut() {
                    permit.record_in_place(classifier.classify(&result));
                }
                Poll::Ready(result.map_err(CircuitBreakerError::Inner))
            }
            KindProj::Rejected { rejected } => Poll::Ready(Err((*rejected).into())),
            KindProj::NotReady => Poll::Ready(Err(CircuitBreakerError::NotReady)),
        }
    }
}

impl<F, C> std::fmt::Debug for ResponseFuture<F, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.kind {
            Kind::Called { .. } => "called",
            Kind::Rejected { .. } => "rejected",
            Kind::NotReady => "not_ready",
        };
        f.debug_struct("ResponseFuture")
            .field("kind", &kind)
            .finish()
    }
}
