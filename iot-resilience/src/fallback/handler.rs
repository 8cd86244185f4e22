//! What runs instead of a failed call: a value computed from the error, or
//! another service called with the same request.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tower_service::Service;

use super::error::FallbackError;

/// Saves what a fallback needs from a request before the request moves
/// into the primary service.
pub trait PrepareFallback<Req> {
    /// The saved data: `()` for [`FallbackValue`], a clone of the request
    /// for [`FallbackService`].
    type Pending;

    /// Called in `call` for every request, before the primary service.
    fn prepare(&self, req: &Req) -> Self::Pending;
}

/// Runs the fallback for a failed call.
pub trait RunFallback<Pending, E> {
    /// The fallback's response (the primary service's response type).
    type Response;
    /// The fallback's error.
    type Error;
    /// The fallback's future.
    type Future: Future<Output = Result<Self::Response, FallbackError<E, Self::Error>>>;

    /// Starts the fallback for the primary `error`.
    fn run(&self, pending: Pending, error: E) -> Self::Future;
}

/// A fallback response computed from the primary error by a function
/// `Fn(E) -> Response`. It cannot fail.
#[derive(Debug, Clone, Copy)]
pub struct FallbackValue<F>(pub(crate) F);

impl<F, Req> PrepareFallback<Req> for FallbackValue<F> {
    type Pending = ();

    #[inline]
    fn prepare(&self, _: &Req) {}
}

impl<F, E, T> RunFallback<(), E> for FallbackValue<F>
where
    F: Fn(E) -> T,
{
    type Response = T;
    type Error = Infallible;
    type Future = std::future::Ready<Result<T, FallbackError<E, Infallible>>>;

    fn run(&self, (): (), error: E) -> Self::Future {
        std::future::ready(Ok((self.0)(error)))
    }
}

/// A fallback service called with a clone of the request (so the request
/// type must be `Clone`; it is cloned for every call, before the primary
/// service sees it). The service is cloned only when the fallback runs, and
/// its readiness is driven before the call.
#[derive(Debug, Clone, Copy)]
pub struct FallbackService<S>(pub(crate) S);

impl<S, Req: Clone> PrepareFallback<Req> for FallbackService<S> {
    type Pending = Req;

    #[inline]
    fn prepare(&self, req: &Req) -> Req {
        req.clone()
    }
}

impl<S, Req, E> RunFallback<Req, E> for FallbackService<S>
where
    S: Service<Req> + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ServiceFallbackFuture<S, Req, S::Future, E>;

    fn run(&self, req: Req, error: E) -> Self::Future {
        ServiceFallbackFuture {
            state: Oneshot::NotReady {
                service: self.0.clone(),
                request: Some(req),
            },
            primary: Some(error),
        }
    }
}

pin_project! {
    /// Drives a [`FallbackService`]: readiness, then the call.
    pub struct ServiceFallbackFuture<S, Req, F, E> {
        #[pin]
        state: Oneshot<S, Req, F>,
        primary: Option<E>,
    }
}

pin_project! {
    #[project = OneshotProj]
    enum Oneshot<S, Req, F> {
        NotReady { service: S, request: Option<Req> },
        Called { #[pin] future: F },
    }
}

impl<S, Req, E> Future for ServiceFallbackFuture<S, Req, S::Future, E>
where
    S: Service<Req>,
{
    type Output = Result<S::Response, FallbackError<E, S::Error>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let result = loop {
            match this.state.as_mut().project() {
                OneshotProj::NotReady { service, request } => {
                    if let Err(e) = ready!(service.poll_ready(cx)) {
                        break Err(e);
                    }
                    let request = request
                        .take()
                        .expect("ServiceFallbackFuture polled after completion");
                    let future = service.call(request);
                    this.state.set(Oneshot::Called { future });
                }
                OneshotProj::Called { future } => break ready!(future.poll(cx)),
            }
        };
        Poll::Ready(result.map_err(|fallback| {
            FallbackError::Fallback {
                primary: this
                    .primary
                    .take()
                    .expect("ServiceFallbackFuture polled after completion"),
                fallback,
            }
        }))
    }
}

impl<S, Req, F, E> std::fmt::Debug for ServiceFallbackFuture<S, Req, F, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceFallbackFuture")
            .finish_non_exhaustive()
    }
}
