//! The driver every middleware benchmark uses: one `poll_ready` and one
//! `call`, the response future polled once, all with a no-op waker.
//!
//! No executor is involved, so what is timed is the services' own work
//! (readiness, the call, the response future, drops), not a runtime's
//! scheduling. The caller enters a tokio runtime context once
//! ([`runtime`] + `Runtime::enter`) because timeouts create
//! `tokio::time::Sleep`s, which need the time driver's handle; nothing is
//! ever spawned or blocked on while timing.
//!
//! The benchmarks of `benches/resilience.rs` and `benches/observe.rs` drive
//! every variant (the bare service included) through [`call`], so the
//! driver's own cost cancels in the overhead (variant minus bare).

use std::future::{Future, Ready, ready};
use std::io;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use tower::Service;

/// The bare, always-ready service every layer wraps: answers its request
/// at once (what `tower::service_fn(|x| ready(Ok(x)))` does, as a nameable
/// type). The error type is `io::Error`, a realistic one that the retry
/// layer's `RetryHint` and tower's `BoxError` both accept.
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo;

impl Service<u64> for Echo {
    type Response = u64;
    type Error = io::Error;
    type Future = Ready<Result<u64, io::Error>>;

    #[inline]
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }

    #[inline]
    fn call(&mut self, request: u64) -> Self::Future {
        ready(Ok(request))
    }
}

/// A current-thread runtime with the time driver, whose context
/// (`rt.enter()`) the benchmarks and tests run in.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime")
}

/// `poll_ready`, `call`, one poll of the response future.
///
/// # Panics
///
/// If the service is not ready or its future does not complete at the
/// first poll: a benchmark setup that waits is broken (a limiter that
/// throttles, a breaker that is not closed), and must not produce a number.
#[inline]
pub fn call<S, Req>(service: &mut S, request: Req) -> Result<S::Response, S::Error>
where
    S: Service<Req>,
{
    let mut cx = Context::from_waker(Waker::noop());
    match service.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        Poll::Ready(Err(e)) => return Err(e),
        Poll::Pending => not_ready(),
    }
    let future = pin!(service.call(request));
    match future.poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => pending(),
    }
}

#[cold]
#[inline(never)]
fn not_ready() -> ! {
    panic!("benchmark setup broken: the service is not ready (poll_ready returned Pending)")
}

#[cold]
#[inline(never)]
fn pending() -> ! {
    panic!("benchmark setup broken: the response future did not complete at the first poll")
}

/// Where [`try_call`] stopped when the service did not answer at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stuck {
    /// `poll_ready` returned `Pending`.
    NotReady,
    /// The response future returned `Pending` at its first poll.
    Pending,
}

/// [`call`] for tests: reports a service that waits instead of panicking.
pub fn try_call<S, Req>(
    service: &mut S,
    request: Req,
) -> Result<Result<S::Response, S::Error>, Stuck>
where
    S: Service<Req>,
{
    let mut cx = Context::from_waker(Waker::noop());
    match service.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        Poll::Ready(Err(e)) => return Ok(Err(e)),
        Poll::Pending => return Err(Stuck::NotReady),
    }
    let future = pin!(service.call(request));
    match future.poll(&mut cx) {
        Poll::Ready(output) => Ok(output),
        Poll::Pending => Err(Stuck::Pending),
    }
}
