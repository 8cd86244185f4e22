//! Helpers shared by the integration tests that declare `mod support;`.
#![allow(dead_code)] // each test file uses its own subset

use std::future::{Future, Ready, ready};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use futures_util::task::noop_waker_ref;
use tower::Service;
use tower::limit::ConcurrencyLimit;

/// An always-ready service answering its request, counting its calls.
#[derive(Debug, Clone, Default)]
pub struct Echo {
    pub calls: Arc<AtomicUsize>,
}

impl Echo {
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Service<u32> for Echo {
    type Response = u32;
    type Error = &'static str;
    type Future = Ready<Result<u32, &'static str>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: u32) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        ready(Ok(req))
    }
}

/// [`Echo`] behind tower's `ConcurrencyLimit` of one: clones share the one
/// permit, and a `call` without a permit panics ("service not ready;
/// poll_ready must be called first"), the misuse the layers must never
/// pass on.
pub fn limited_echo() -> (Echo, ConcurrencyLimit<Echo>) {
    let echo = Echo::default();
    (echo.clone(), ConcurrencyLimit::new(echo, 1))
}

/// Polls `svc.poll_ready` once, with a waker that does nothing.
pub fn poll_ready_once<S: Service<R>, R>(svc: &mut S) -> Poll<Result<(), S::Error>> {
    svc.poll_ready(&mut Context::from_waker(noop_waker_ref()))
}

/// Polls a future once, with a waker that does nothing.
pub fn poll_once<F: Future>(future: F) -> Poll<F::Output> {
    pin!(future).poll(&mut Context::from_waker(noop_waker_ref()))
}
