//! Infallible construction: configurations validated once (`build()`, or
//! deserializing into `Validated<_>`), then layers made from them without
//! a `Result`; the fallible `new(config)` constructors still work.

use std::time::Duration;

use iot_resilience::bulkhead::{BulkheadConfig, BulkheadLayer};
use iot_resilience::circuit_breaker::{
    CircuitBreakerConfig, CircuitBreakerHandle, CircuitBreakerLayer, KeyedCircuitBreakerConfig,
    KeyedCircuitBreakerLayer, State,
};
use iot_resilience::fallback::{FallbackConfig, FallbackLayer};
use iot_resilience::rate_limit::{
    KeyedRateLimitConfig, KeyedRateLimitLayer, RateLimitConfig, RateLimitLayer, RateLimiter,
};
use iot_resilience::retry::{RetryBudget, RetryBudgetConfig, RetryConfig, RetryLayer};
use iot_resilience::timeout::{TimeoutConfig, TimeoutLayer};
use iot_resilience::{ConfigError, ManualClock, Validated};
use tower::{ServiceBuilder, ServiceExt, service_fn};

#[tokio::test]
async fn every_layer_builds_infallibly_from_a_validated_config() {
    // No `?` and no `unwrap` on the layers: only `build()` can fail.
    let rate: RateLimitLayer = RateLimitConfig::per(10, Duration::from_secs(1))
        .build()
        .unwrap()
        .into();
    let breaker: CircuitBreakerLayer = CircuitBreakerConfig::default().build().unwrap().into();
    let retry: RetryLayer = RetryConfig::default().build().unwrap().into();
    let timeout: TimeoutLayer = TimeoutConfig::default().build().unwrap().into();
    let bulkhead: BulkheadLayer = BulkheadConfig::default().build().unwrap().into();
    let handle = breaker.handle().clone();

    let service = ServiceBuilder::new()
        .layer(rate)
        .layer(breaker)
        .layer(retry)
        .layer(timeout)
        .layer(bulkhead)
        .service(service_fn(|x: u32| async move {
            Ok::<_, std::io::Error>(x + 1)
        }));
    assert_eq!(service.oneshot(41).await.unwrap(), 42);
    assert_eq!(handle.state(), State::Closed);

    // The named constructors, and the shared parts.
    let _ = RateLimitLayer::from_validated(RateLimitConfig::default().build().unwrap());
    let _ = CircuitBreakerLayer::from_validated(CircuitBreakerConfig::default().build().unwrap());
    let _ = RetryLayer::from_validated(RetryConfig::default().build().unwrap());
    let _ = TimeoutLayer::from_validated(TimeoutConfig::default().build().unwrap());
    let _ = BulkheadLayer::from_validated(BulkheadConfig::default().build().unwrap());
    let _ = KeyedRateLimitLayer::<u32, _>::from_validated(
        KeyedRateLimitConfig::default().build().unwrap(),
        |r: &u32| *r,
    );
    let _ = KeyedCircuitBreakerLayer::<u32, _>::from_validated(
        KeyedCircuitBreakerConfig::default().build().unwrap(),
        |r: &u32| *r,
    );
    let _ = FallbackLayer::value(0u32)
        .with_validated_config(FallbackConfig::default().build().unwrap());
    let _ = RetryBudget::from_validated(RetryBudgetConfig::default().build().unwrap());
    let clock = ManualClock::new();
    let limiter = RateLimiter::from_validated_with_clock(
        RateLimitConfig::per(1, Duration::from_secs(1))
            .build()
            .unwrap(),
        clock.clone(),
    );
    assert!(limiter.check(1).is_ok());
    let breaker = CircuitBreakerHandle::from_validated_with_clock(
        CircuitBreakerConfig::default().build().unwrap(),
        clock,
    );
    assert_eq!(breaker.state(), State::Closed);
}

#[test]
fn build_rejects_what_validate_rejects_and_names_the_field() {
    let e = RetryConfig::default().max_attempts(0).build().unwrap_err();
    assert_eq!(e.field, "retry.max_attempts");
    let e = TimeoutConfig::default()
        .timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(
        e,
        TimeoutConfig::default()
            .timeout(Duration::ZERO)
            .validate()
            .unwrap_err()
    );
    assert!(
        CircuitBreakerConfig::default()
            .failure_rate_threshold(150.0)
            .build()
            .is_err()
    );
    assert!(BulkheadConfig::default().max_concurrent(0).build().is_err());
    assert!(
        RateLimitConfig::per(0, Duration::from_secs(1))
            .build()
            .is_err()
    );
    // The generic path.
    assert!(Validated::new(RetryBudgetConfig::default().ratio(-1.0)).is_err());
}

#[test]
fn a_validated_config_reads_like_the_config_and_comes_apart() {
    let config = RetryConfig::default().max_attempts(5).build().unwrap();
    assert_eq!(config.max_attempts, 5); // Deref
    assert_eq!(config.get().max_attempts, 5);
    let edited = config.into_inner().max_attempts(0);
    let error: ConfigError = edited.build().unwrap_err();
    assert_eq!(error.field, "retry.max_attempts");
}

#[test]
fn the_fallible_constructors_still_work() {
    assert!(RetryLayer::new(RetryConfig::default()).is_ok());
    assert!(RetryLayer::new(RetryConfig::default().max_attempts(0)).is_err());
    assert!(TimeoutLayer::new(TimeoutConfig::default().timeout(Duration::ZERO)).is_err());
    assert!(RateLimitLayer::new(RateLimitConfig::default()).is_ok());
    assert!(CircuitBreakerLayer::new(CircuitBreakerConfig::default()).is_ok());
    assert!(BulkheadLayer::new(BulkheadConfig::default().max_concurrent(0)).is_err());
    assert!(RetryBudget::new(RetryBudgetConfig::default().ttl(Duration::ZERO)).is_err());
}

#[cfg(feature = "serde")]
#[test]
fn deserializing_into_validated_validates() {
    let ok: Validated<RetryConfig> =
        serde_json::from_str(r#"{"max_attempts": 4, "deadline": "2s"}"#).unwrap();
    assert_eq!(ok.max_attempts, 4);
    let layer = RetryLayer::from(ok.clone());
    assert_eq!(layer.config().max_attempts, 4);
    // Serializes as the plain configuration.
    let json = serde_json::to_string(&ok).unwrap();
    assert_eq!(
        serde_json::from_str::<RetryConfig>(&json).unwrap(),
        ok.into_inner()
    );

    let error = serde_json::from_str::<Validated<RetryConfig>>(r#"{"max_attempts": 0}"#)
        .unwrap_err()
        .to_string();
    assert!(error.contains("retry.max_attempts"), "{error}");
    // A plain config accepts the same document: validation is what differs.
    assert!(serde_json::from_str::<RetryConfig>(r#"{"max_attempts": 0}"#).is_ok());
}
