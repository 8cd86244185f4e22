//! The resilience benchmark's setups do what they claim: every variant
//! answers in its happy path without rejecting, and each layer really is in
//! the path (a forced-open breaker rejects, a tiny rate limit rejects, the
//! retry retries, the timeout fires, the bulkhead fills), so the numbers
//! cannot come from a broken or empty setup.

use std::io;
use std::num::NonZeroU32;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use iot_benches::resilience_driver::{Echo, Stuck, call, runtime, try_call};
use iot_benches::resilience_setup::test_services::{Flaky, Never};
use iot_benches::resilience_setup::{
    Direct, Layered, REQUEST, StackConfig, breaker_config, bulkhead_config, direct_caller,
    failsafe_breaker, governor_bench_quota, governor_limiter, iot_breaker, iot_breaker_leaked,
    iot_bulkhead, iot_limiter, iot_rate_limit, iot_retry, iot_stack, iot_timeout, layered_caller,
    rate_limit_config, retry_config, timeout_config, tower_rate_limit, tower_timeout, tr_breaker,
    tr_rate_limiter,
};
use iot_resilience::bulkhead::{BulkheadConfig, BulkheadError};
use iot_resilience::circuit_breaker::{CircuitBreakerError, State};
use iot_resilience::rate_limit::{RateLimitConfig, RateLimitError};
use iot_resilience::retry::{GiveUpReason, RetryConfig, RetryError};
use iot_resilience::timeout::{TimeoutConfig, TimeoutError};
use tower::{Service, ServiceExt};

/// More calls than any limiter's burst could absorb if it were small.
const HAPPY_CALLS: usize = 100_000;

fn one_per_hour() -> RateLimitConfig {
    RateLimitConfig::per(1, Duration::from_secs(3600)).name("tiny")
}

#[test]
fn every_variant_answers_in_its_happy_path() {
    let rt = runtime();
    let _context = rt.enter();
    for which in Layered::ALL {
        let mut f = layered_caller(which);
        for _ in 0..HAPPY_CALLS {
            assert_eq!(f(), REQUEST, "{}", which.id());
        }
    }
    for which in Direct::ALL {
        let mut f = direct_caller(which);
        for _ in 0..HAPPY_CALLS {
            f();
        }
    }
}

#[test]
fn our_breaker_is_in_the_path_and_records() {
    let rt = runtime();
    let _context = rt.enter();
    for leaked in [false, true] {
        let (mut svc, handle) = if leaked {
            iot_breaker_leaked(Echo, breaker_config())
        } else {
            iot_breaker(Echo, breaker_config())
        };
        for _ in 0..10 {
            assert_eq!(call(&mut svc, REQUEST).unwrap(), REQUEST);
        }
        let stats = handle.stats();
        assert_eq!(stats.state, State::Closed);
        assert_eq!((stats.buffered_calls, stats.successful_calls), (10, 10));
        handle.force_open();
        assert!(matches!(
            call(&mut svc, REQUEST),
            Err(CircuitBreakerError::Open {
                state: State::ForcedOpen,
                ..
            })
        ));
        // The by-hand variant uses the same handle API.
        assert!(handle.try_acquire().is_err());
    }
}

#[test]
fn our_rate_limit_is_in_the_path() {
    let rt = runtime();
    let _context = rt.enter();
    let (mut svc, _) = iot_rate_limit(Echo, one_per_hour());
    assert_eq!(call(&mut svc, REQUEST).unwrap(), REQUEST);
    assert!(matches!(
        call(&mut svc, REQUEST),
        Err(RateLimitError::Rejected { .. })
    ));
    // The bench configuration: one permit per nanosecond, burst 10^9.
    let (mut svc, limiter) = iot_rate_limit(Echo, rate_limit_config());
    assert_eq!(limiter.interval(), Duration::from_nanos(1));
    assert_eq!(limiter.burst(), 1_000_000_000);
    for _ in 0..HAPPY_CALLS {
        call(&mut svc, REQUEST).unwrap();
    }
}

#[test]
fn the_bare_limiters_reject_with_a_tiny_quota() {
    let ours = iot_limiter(one_per_hour());
    assert!(ours.check(1).is_ok());
    assert!(ours.check(1).is_err());
    let governor = governor_limiter(governor::Quota::per_hour(NonZeroU32::new(1).expect("1")));
    assert!(governor.check().is_ok());
    assert!(governor.check().is_err());
    // The bench quotas never reject.
    let ours = iot_limiter(rate_limit_config());
    let governor = governor_limiter(governor_bench_quota());
    for _ in 0..HAPPY_CALLS {
        ours.check(1).unwrap();
        governor.check().unwrap();
    }
}

#[test]
fn our_retry_retries_and_its_budget_is_on() {
    let rt = runtime();
    let _context = rt.enter();
    // Happy path: one attempt per call.
    let flaky = Flaky::failing(0);
    let (mut svc, budget) = iot_retry(flaky.clone(), retry_config());
    let budget = budget.expect("the budget is on by default");
    let before = budget.available();
    for _ in 0..1_000 {
        call(&mut svc, REQUEST).unwrap();
    }
    assert_eq!(flaky.calls(), 1_000, "no retries on success");
    // Each call deposited 0.2 of a retry.
    assert!(
        budget.available() >= before + 150,
        "{before} -> {}",
        budget.available()
    );

    // A failure is retried (after a backoff, so not within one poll).
    let flaky = Flaky::failing(1);
    let (mut svc, _) = iot_retry(flaky.clone(), retry_config());
    assert_eq!(try_call(&mut svc, REQUEST).unwrap_err(), Stuck::Pending);
    assert_eq!(flaky.calls(), 1);
    let flaky = Flaky::failing(1);
    let (svc, _) = iot_retry(flaky.clone(), retry_config());
    assert_eq!(rt.block_on(svc.oneshot(REQUEST)).unwrap(), REQUEST);
    assert_eq!(flaky.calls(), 2, "a failure, then a success");
}

#[test]
fn timeouts_fire() {
    let rt = runtime();
    let _context = rt.enter();
    let ms = Duration::from_millis(1);
    let svc = iot_timeout(Never, TimeoutConfig::new(ms).name("t"));
    assert!(matches!(
        rt.block_on(svc.oneshot(REQUEST)),
        Err(TimeoutError::Elapsed { after }) if after == ms
    ));
    let svc = tower_timeout(Never, ms);
    let err = rt.block_on(svc.oneshot(REQUEST)).unwrap_err();
    assert!(err.is::<tower::timeout::error::Elapsed>(), "{err}");
    // The bench configurations answer at once.
    let mut ours = iot_timeout(Echo, timeout_config());
    let mut theirs = tower_timeout(Echo, Duration::from_secs(1));
    assert_eq!(call(&mut ours, REQUEST).unwrap(), REQUEST);
    assert_eq!(call(&mut theirs, REQUEST).unwrap(), REQUEST);
}

#[test]
fn our_bulkhead_is_in_the_path() {
    let mut holder = iot_bulkhead(Echo, BulkheadConfig::new(1).name("one"));
    let mut other = holder.clone();
    let mut cx = Context::from_waker(Waker::noop());
    // `holder` takes the only permit and keeps it until its call.
    assert!(matches!(holder.poll_ready(&mut cx), Poll::Ready(Ok(()))));
    assert!(matches!(
        call(&mut other, REQUEST),
        Err(BulkheadError::Full {
            max_concurrent: 1,
            ..
        })
    ));
    let mut svc = iot_bulkhead(Echo, bulkhead_config());
    for _ in 0..1_000 {
        call(&mut svc, REQUEST).unwrap();
    }
    assert_eq!(svc.in_flight(), 0, "permits are released");
}

#[test]
fn the_stack_has_every_layer_in_order() {
    let rt = runtime();
    let _context = rt.enter();

    // Happy path; the breaker records, the budget fills.
    let (mut svc, parts) = iot_stack(Echo, StackConfig::default());
    let budget = parts.budget.clone().expect("budget on");
    let before = budget.available();
    for _ in 0..1_000 {
        assert_eq!(call(&mut svc, REQUEST).unwrap(), REQUEST);
    }
    assert_eq!(
        parts.breaker.stats().successful_calls,
        100,
        "count window of 100"
    );
    assert!(budget.available() > before);

    // The breaker, inside the rate limit.
    parts.breaker.force_open();
    assert!(matches!(
        call(&mut svc, REQUEST),
        Err(RateLimitError::Inner(CircuitBreakerError::Open { .. }))
    ));

    // The rate limit, outermost: a rejection never reaches the breaker.
    let config = StackConfig {
        rate_limit: one_per_hour(),
        ..StackConfig::default()
    };
    let (mut svc, parts) = iot_stack(Echo, config);
    call(&mut svc, REQUEST).unwrap();
    assert!(matches!(
        call(&mut svc, REQUEST),
        Err(RateLimitError::Rejected { .. })
    ));
    assert_eq!(parts.breaker.stats().buffered_calls, 1);

    // The retry, inside the breaker: the breaker sees one successful call.
    let flaky = Flaky::failing(1);
    let (svc, parts) = iot_stack(flaky.clone(), StackConfig::default());
    assert_eq!(rt.block_on(svc.oneshot(REQUEST)).unwrap(), REQUEST);
    assert_eq!(flaky.calls(), 2);
    assert_eq!(parts.breaker.stats().successful_calls, 1);
    assert_eq!(parts.breaker.stats().failed_calls, 0);

    // The timeout, innermost (per attempt).
    let ms = Duration::from_millis(1);
    let config = StackConfig {
        retry: RetryConfig::default().name("once").max_attempts(1),
        timeout: TimeoutConfig::new(ms).name("t"),
        ..StackConfig::default()
    };
    let (svc, parts) = iot_stack(Never, config);
    let err = rt.block_on(svc.oneshot(REQUEST)).unwrap_err();
    assert!(
        matches!(
            err,
            RateLimitError::Inner(CircuitBreakerError::Inner(RetryError::Failed {
                error: TimeoutError::Elapsed { .. },
                attempts: 1,
                reason: GiveUpReason::MaxAttempts,
            }))
        ),
        "{err:?}"
    );
    assert_eq!(parts.breaker.stats().failed_calls, 1);
}

#[test]
fn towers_rate_limit_throttles_with_a_tiny_rate() {
    let rt = runtime();
    let _context = rt.enter();
    let mut svc = tower_rate_limit(Echo, 1, Duration::from_secs(3600));
    assert_eq!(try_call(&mut svc, REQUEST).unwrap().unwrap(), REQUEST);
    assert_eq!(try_call(&mut svc, REQUEST).unwrap_err(), Stuck::NotReady);
}

#[test]
fn failsafe_opens_after_failures() {
    use failsafe::CircuitBreaker as _;
    let breaker = failsafe_breaker();
    for _ in 0..HAPPY_CALLS {
        breaker.call(|| Ok::<_, io::Error>(REQUEST)).unwrap();
    }
    let rejected = (0..20).any(|_| {
        matches!(
            breaker.call(|| Err::<u64, _>(io::Error::other("down"))),
            Err(failsafe::Error::Rejected)
        )
    });
    assert!(
        rejected,
        "the default policy opens after consecutive failures"
    );
    assert!(!breaker.is_call_permitted());
}

#[test]
fn tower_resilience_breaker_is_in_the_path() {
    let rt = runtime();
    let _context = rt.enter();
    let (mut svc, handle) = tr_breaker(Echo);
    for _ in 0..1_000 {
        assert_eq!(call(&mut svc, REQUEST).unwrap(), REQUEST);
    }
    rt.block_on(handle.force_open());
    assert!(matches!(
        try_call(&mut svc, REQUEST),
        Ok(Err(
            tower_resilience::circuitbreaker::CircuitBreakerError::OpenCircuit
        ))
    ));
}

#[test]
fn tower_resilience_rate_limiter_rejects_with_a_tiny_rate() {
    let rt = runtime();
    let _context = rt.enter();
    let mut svc = tr_rate_limiter(Echo, 1, Duration::from_secs(3600), Duration::ZERO);
    assert_eq!(call(&mut svc, REQUEST).unwrap(), REQUEST);
    assert!(matches!(
        try_call(&mut svc, REQUEST),
        Ok(Err(
            tower_resilience::ratelimiter::RateLimiterServiceError::RateLimited
        ))
    ));
}

#[test]
#[should_panic(expected = "not ready")]
fn the_driver_refuses_a_service_that_waits() {
    let rt = runtime();
    let _context = rt.enter();
    let mut svc = tower_rate_limit(Echo, 1, Duration::from_secs(3600));
    call(&mut svc, REQUEST).unwrap();
    let _ = call(&mut svc, REQUEST);
}
