//! iot-resilience's default clock in a build like a service's release
//! build: tokio without `test-util`, so `TokioClock` reads the CPU's
//! time-stamp counter (feature `quanta`, on by default). These tests check
//! that it measures real time, agrees with `Instant`, and that the layers on
//! it (limiter, breaker, timeout) keep real time.

use std::future::{Future, pending};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use iot_resilience::circuit_breaker::{CircuitBreakerConfig, CircuitBreakerHandle};
use iot_resilience::rate_limit::{RateLimitConfig, RateLimiter};
use iot_resilience::timeout::{TimeoutConfig, TimeoutError, TimeoutLayer};
use iot_resilience::{Clock, TokioClock};
use tower::{Layer, Service, ServiceExt};

#[test]
fn this_build_reads_the_counter_not_tokios_clock() {
    assert!(!TokioClock::FOLLOWS_PAUSED_TIME);
}

#[test]
fn it_measures_real_time_and_agrees_with_instant() {
    let clock = TokioClock;
    let epoch = clock.epoch();
    let start = Instant::now();
    let from = clock.now();
    std::thread::sleep(Duration::from_millis(120));
    let nanos = clock.nanos_since(&epoch);
    let real = start.elapsed();
    let measured = clock.now() - from;
    // The counter against the OS clock over the same 120 ms: within 2 ms.
    let slack = Duration::from_millis(2);
    assert!(
        measured + slack >= real && measured <= real + slack,
        "{measured:?} vs {real:?}"
    );
    assert!(
        Duration::from_nanos(nanos) + slack >= real,
        "{nanos} ns vs {real:?}"
    );
    // Its instants and `Instant::now()` name the same moment to 2 ms.
    let (ours, os) = (clock.now(), Instant::now());
    let gap = if ours > os { ours - os } else { os - ours };
    assert!(gap < slack, "TokioClock is {gap:?} off Instant::now()");
}

#[test]
fn a_limiter_on_the_default_clock_refills_in_real_time() {
    let limiter = RateLimiter::new(RateLimitConfig::per(10, Duration::from_secs(1)).burst(1))
        .expect("valid config");
    assert!(limiter.check(1).is_ok());
    assert!(limiter.check(1).is_err(), "the burst of 1 is spent");
    std::thread::sleep(Duration::from_millis(110));
    assert!(limiter.check(1).is_ok(), "100 ms refills one permit");
}

#[test]
fn a_breaker_on_the_default_clock_half_opens_after_real_time() {
    let breaker = CircuitBreakerHandle::new(
        CircuitBreakerConfig::default()
            .minimum_number_of_calls(1)
            .failure_rate_threshold(50.0)
            .wait_duration_in_open(Duration::from_millis(100)),
    )
    .expect("valid config");
    let permit = breaker.try_acquire().expect("closed");
    permit.failure();
    assert!(breaker.try_acquire().is_err(), "open after the failure");
    std::thread::sleep(Duration::from_millis(130));
    assert!(
        breaker.try_acquire().is_ok(),
        "a probe after the open duration"
    );
}

/// A service whose calls never finish.
#[derive(Clone)]
struct Hangs;

impl Service<()> for Hangs {
    type Response = ();
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<(), Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, (): ()) -> Self::Future {
        Box::pin(pending())
    }
}

#[tokio::test]
async fn the_timeout_fires_after_its_duration_of_real_time() {
    let after = Duration::from_millis(80);
    let layer = TimeoutLayer::new(TimeoutConfig::new(after)).expect("valid config");
    let start = Instant::now();
    let result = layer.layer(Hangs).oneshot(()).await;
    let took = start.elapsed();
    assert!(
        matches!(result, Err(TimeoutError::Elapsed { .. })),
        "{result:?}"
    );
    assert!(took >= after, "fired after {took:?}, before its {after:?}");
    assert!(
        took < after + Duration::from_secs(1),
        "fired after {took:?}"
    );
}
