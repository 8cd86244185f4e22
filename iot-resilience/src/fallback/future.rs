//! The response future: the primary call, then the fallback if needed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::error::FallbackError;
use super::handler::RunFallback;
use super::predicate::FallbackPredicate;
use super::shared::Shared;

pin_project! {
    /// The future of [`Fallback`](super::Fallback): `F` is the primary
    /// future, `Pd` what was saved from the request, `HF` the fallback's
    /// future.
    pub struct ResponseFuture<F, Pd, HF, H, P> {
        #[pin]
        state: State<F, Pd, HF>,
        shared: Arc<Shared<H, P>>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, Pd, HF> {
        Primary { #[pin] future: F, pending: Option<Pd> },
        Fallback { #[pin] future: HF },
        // `call` without readiness: resolves to `FallbackError::NotReady`.
        NotReady,
    }
}

impl<F, Pd, HF, H, P> ResponseFuture<F, Pd, HF, H, P> {
    pub(crate) fn new(future: F, pending: Pd, shared: Arc<Shared<H, P>>) -> Self {
        Self {
            state: State::Primary {
                future,
                pending: Some(pending),
            },
            shared,
        }
    }

    pub(crate) fn not_ready(shared: Arc<Shared<H, P>>) -> Self {
        Self {
            state: State::NotReady,
            shared,
        }
    }
}

impl<F, Pd, HF, H, P, T, E> Future for ResponseFuture<F, Pd, HF, H, P>
where
    F: Future<Output = Result<T, E>>,
    H: RunFallback<Pd, E, Response = T, Future = HF>,
    HF: Future<Output = Result<T, FallbackError<E, H::Error>>>,
    P: FallbackPredicate<E>,
{
    type Output = Result<T, FallbackError<E, H::Error>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Primary { future, pending } => {
                    let error = match ready!(future.poll(cx)) {
                        Ok(response) => return Poll::Ready(Ok(response)),
                        Err(error) => error,
                    };
                    let shared = &**this.shared;
                    if !shared.predicate.should_fallback(&error) {
                        return Poll::Ready(Err(FallbackError::Inner(error)));
                    }
                    let pending = pending
                        .take()
                        .expect("ResponseFuture polled after completion");
                    tracing::debug!(name = %shared.name, "fallback: primary call failed, running the fallback");
                    let future = shared.handler.run(pending, error);
                    this.state.set(State::Fallback { future });
                }
                StateProj::Fallback { future } => {
                    let out = ready!(future.poll(cx));
                    let shared = &**this.shared;
                    match &out {
                        Ok(_) => shared.metrics.succeeded(),
                        Err(_) => {
                            shared.metrics.failed();
                            tracing::debug!(name = %shared.name, "fallback: the fallback failed too");
                        }
                    }
                    return Poll::Ready(out);
                }
                StateProj::NotReady => return Poll::Ready(Err(FallbackError::NotReady)),
            }
        }
    }
}

impl<F, Pd, HF, H, P> std::fmt::Debug for ResponseFuture<F, Pd, HF, H, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
