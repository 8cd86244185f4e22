//! The tower contract, for every layer of the crate, over tower's
//! `ConcurrencyLimit` (which panics when called without a permit):
//!
//! * `call` without `poll_ready` never panics and never reaches the inner
//!   service: it resolves to the layer's `NotReady` error;
//! * neither does `call` after a `poll_ready` that returned `Pending`
//!   (the inner service was not ready, even if the layer had admitted the
//!   call: issue #17 found the timeout and fallback layers forwarding
//!   every `call`, and the limiter, breaker and bulkhead forwarding a call
//!   they had admitted while the inner service was still pending);
//! * `poll_ready` then drop releases what readiness reserved, in the
//!   layer (permit, probe, slot) and in the inner service.

mod support;

use std::fmt::Debug;
use std::time::Duration;

use iot_resilience::bulkhead::{BulkheadConfig, BulkheadError, BulkheadLayer};
use iot_resilience::circuit_breaker::{
    CircuitBreakerConfig, CircuitBreakerError, CircuitBreakerLayer, KeyedCircuitBreakerConfig,
    KeyedCircuitBreakerLayer, State,
};
use iot_resilience::fallback::{FallbackError, FallbackLayer};
use iot_resilience::rate_limit::{
    KeyedRateLimitConfig, KeyedRateLimitLayer, RateLimitConfig, RateLimitError, RateLimitLayer,
};
use iot_resilience::retry::{RetryConfig, RetryError, RetryLayer};
use iot_resilience::timeout::{TimeoutConfig, TimeoutError, TimeoutLayer};
use support::{Echo, limited_echo, poll_once, poll_ready_once};
use tower::limit::ConcurrencyLimit;
use tower::{Layer, Service, ServiceExt};

type Inner = ConcurrencyLimit<Echo>;

/// Runs the three checks on `layer` over a fresh `ConcurrencyLimit(1)`.
/// `released` checks the layer's own reservations are back after a ready
/// service was dropped.
async fn check_contract<L, E>(
    what: &str,
    layer: L,
    is_not_ready: fn(&E) -> bool,
    released: &dyn Fn(),
) where
    L: Layer<Inner>,
    L::Service: Service<u32, Response = u32, Error = E> + Clone,
    E: Debug,
{
    let (echo, inner) = limited_echo();
    let svc = layer.layer(inner);

    // 1. `call` on a service never made ready.
    let err = svc.clone().call(1).await.unwrap_err();
    assert!(
        is_not_ready(&err),
        "{what}: call without poll_ready gave {err:?}"
    );
    assert_eq!(echo.calls(), 0, "{what}: the inner service was reached");

    // 2. `call` after `poll_ready` returned `Pending`: `a` holds the inner
    //    service's only permit, so `b`'s inner readiness is pending.
    let mut a = svc.clone();
    a.ready().await.unwrap();
    let mut b = svc.clone();
    assert!(
        poll_ready_once(&mut b).is_pending(),
        "{what}: the inner service should be pending"
    );
    let err = b.call(2).await.unwrap_err();
    assert!(
        is_not_ready(&err),
        "{what}: call after Pending gave {err:?}"
    );
    assert_eq!(echo.calls(), 0, "{what}: the inner service was reached");
    // The ready one still works.
    assert_eq!(a.call(3).await.unwrap(), 3, "{what}");
    assert_eq!(echo.calls(), 1, "{what}");
    drop((a, b));
    released();

    // 3. Ready, then dropped unused: everything reserved comes back.
    let mut c = svc.clone();
    c.ready().await.unwrap();
    drop(c);
    released();
    let mut d = svc.clone();
    assert!(
        matches!(poll_ready_once(&mut d), std::task::Poll::Ready(Ok(()))),
        "{what}: the inner permit of a dropped ready service was not released"
    );
    assert_eq!(d.call(4).await.unwrap(), 4, "{what}");
    assert_eq!(echo.calls(), 2, "{what}");
    drop(d);
    released();
}

#[tokio::test]
async fn timeout() {
    let layer = TimeoutLayer::new(TimeoutConfig::default()).unwrap();
    check_contract(
        "timeout",
        layer,
        |e| matches!(e, TimeoutError::NotReady),
        &|| {},
    )
    .await;
}

#[tokio::test]
async fn fallback_value() {
    // A fallback answers failures, not misuse: `NotReady` is not one.
    let layer = FallbackLayer::value(|_: &'static str| 0u32);
    check_contract(
        "fallback value",
        layer,
        |e| matches!(e, FallbackError::NotReady),
        &|| {},
    )
    .await;
}

#[tokio::test]
async fn fallback_service() {
    let (replica_echo, replica) = limited_echo();
    let layer = FallbackLayer::service(replica);
    check_contract(
        "fallback service",
        layer,
        |e| matches!(e, FallbackError::NotReady),
        &|| {},
    )
    .await;
    assert_eq!(replica_echo.calls(), 0, "the fallback never ran");
}

#[tokio::test]
async fn rate_limit_reject_and_wait() {
    for config in [
        RateLimitConfig::per(1000, Duration::from_secs(1)).burst(10),
        RateLimitConfig::per(1000, Duration::from_secs(1))
            .burst(10)
            .wait(Duration::from_secs(1)),
    ] {
        let mode = format!("rate limit {:?}", config.mode);
        let layer = RateLimitLayer::new(config).unwrap();
        let limiter = layer.limiter().clone();
        check_contract(
            &mode,
            layer,
            |e| matches!(e, RateLimitError::NotReady),
            // Permits of ready services dropped unused came back: at
            // most the two calls made so far are spent (time refills
            // more, hence a lower bound).
            &|| assert!(limiter.available() >= 8, "{}", limiter.available()),
        )
        .await;
    }
}

#[tokio::test]
async fn rate_limit_weighted() {
    let layer = RateLimitLayer::new(RateLimitConfig::per(1000, Duration::from_secs(1)).burst(10))
        .unwrap()
        .with_cost(|_: &u32| 2);
    check_contract(
        "weighted rate limit",
        layer,
        |e| matches!(e, RateLimitError::NotReady),
        &|| {},
    )
    .await;
}

#[tokio::test]
async fn keyed_rate_limit() {
    let layer = KeyedRateLimitLayer::new(
        KeyedRateLimitConfig::per(1000, Duration::from_secs(1)).burst(10),
        |r: &u32| r % 2,
    )
    .unwrap();
    check_contract(
        "keyed rate limit",
        layer,
        |e| matches!(e, RateLimitError::NotReady),
        &|| {},
    )
    .await;
}

#[tokio::test]
async fn circuit_breaker_closed_and_half_open() {
    let layer = CircuitBreakerLayer::new(CircuitBreakerConfig::default()).unwrap();
    check_contract(
        "breaker",
        layer,
        |e| matches!(e, CircuitBreakerError::NotReady),
        &|| {},
    )
    .await;

    // Half-open with two probes (`a` and `b` each get one): the probe slot
    // of a ready service dropped unused, or of one whose call was refused
    // because the inner service was pending, comes back.
    let layer =
        CircuitBreakerLayer::new(CircuitBreakerConfig::default().permitted_calls_in_half_open(2))
            .unwrap();
    let handle = layer.handle().clone();
    handle.transition_to_half_open();
    check_contract(
        "half-open breaker",
        layer,
        |e| matches!(e, CircuitBreakerError::NotReady),
        &|| {
            // Closed again after a successful probe, or still half-open
            // with the probe slot free.
            let s = handle.stats();
            assert!(
                s.state == State::Closed || s.state == State::HalfOpen,
                "{s:?}"
            );
            if s.state == State::HalfOpen {
                let probe = handle.try_acquire().expect("the probe slot is free");
                drop(probe);
            }
        },
    )
    .await;
}

#[tokio::test]
async fn keyed_circuit_breaker() {
    let layer = KeyedCircuitBreakerLayer::new(
        KeyedCircuitBreakerConfig::new(CircuitBreakerConfig::default()),
        |r: &u32| r % 2,
    )
    .unwrap();
    check_contract(
        "keyed breaker",
        layer,
        |e| matches!(e, CircuitBreakerError::NotReady),
        &|| {},
    )
    .await;
}

#[tokio::test]
async fn retry() {
    let layer = RetryLayer::new(RetryConfig::default()).unwrap();
    check_contract(
        "retry",
        layer,
        |e| matches!(e, RetryError::NotReady),
        &|| {},
    )
    .await;
}

#[tokio::test]
async fn bulkhead() {
    for max_wait in [Duration::ZERO, Duration::from_secs(1)] {
        let layer = BulkheadLayer::new(BulkheadConfig::new(4).max_wait(max_wait)).unwrap();
        let probe = layer.clone();
        check_contract(
            "bulkhead",
            layer,
            |e| matches!(e, BulkheadError::NotReady),
            &|| assert_eq!(probe.in_flight(), 0, "bulkhead permits leaked"),
        )
        .await;
    }
}

/// The whole documented stack, outermost first, misused the same way.
#[tokio::test]
async fn composed_stack() {
    let (echo, inner) = limited_echo();
    let svc = tower::ServiceBuilder::new()
        .layer(RateLimitLayer::new(RateLimitConfig::per(1000, Duration::from_secs(1))).unwrap())
        .layer(CircuitBreakerLayer::new(CircuitBreakerConfig::default()).unwrap())
        .layer(RetryLayer::new(RetryConfig::default()).unwrap())
        .layer(TimeoutLayer::new(TimeoutConfig::default()).unwrap())
        .service(inner);
    let err = svc.clone().call(1).await.unwrap_err();
    assert!(matches!(err, RateLimitError::NotReady), "{err:?}");
    let mut a = svc.clone();
    a.ready().await.unwrap();
    let mut b = svc.clone();
    assert!(poll_ready_once(&mut b).is_pending());
    assert!(matches!(
        poll_once(b.call(2)),
        std::task::Poll::Ready(Err(RateLimitError::NotReady))
    ));
    assert_eq!(echo.calls(), 0);
    assert_eq!(a.call(3).await.unwrap(), 3);
    assert_eq!(echo.calls(), 1);
}
