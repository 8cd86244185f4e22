//! Every configuration type with a duration, filled with arbitrary
//! durations (nanoseconds to `Duration::MAX`), survives JSON and TOML
//! exactly: the iot-duration format round-trips through each field
//! (issue #16, "one duration format").
#![cfg(feature = "serde")]

use std::fmt::Debug;
use std::time::Duration;

use iot_resilience::backoff::BackoffConfig;
use iot_resilience::batch::BatchConfig;
use iot_resilience::bulkhead::BulkheadConfig;
use iot_resilience::circuit_breaker::{
    CircuitBreakerConfig, KeyedCircuitBreakerConfig, SlidingWindow,
};
use iot_resilience::rate_limit::{KeyedRateLimitConfig, RateLimitConfig};
use iot_resilience::retry::{RetryBudgetConfig, RetryConfig};
use iot_resilience::timeout::TimeoutConfig;
use iot_testkit::duration::any_duration;
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// JSON and TOML, each back to an equal value. TOML has no null: a `None`
/// is left out and reads back as the field's default (also `None` for
/// every optional duration here).
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
    let json = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
    assert_eq!(&back, value, "JSON {json}");
    let toml = toml::to_string(value).unwrap();
    let back: T = toml::from_str(&toml).unwrap_or_else(|e| panic!("{toml}: {e}"));
    assert_eq!(&back, value, "TOML {toml}");
}

fn breaker(d: [Duration; 5], some: bool) -> CircuitBreakerConfig {
    let mut config = CircuitBreakerConfig::default()
        .sliding_window(SlidingWindow::time_with_bucket(d[0], d[1]))
        .wait_duration_in_open(d[2]);
    if some {
        config = config
            .slow_call_duration_threshold(d[3])
            .max_wait_in_half_open(d[4])
            .max_wait_duration_in_open(d[0]);
    }
    config
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_resilience_config_round_trips(
        d in proptest::array::uniform5(any_duration()),
        some in any::<bool>(),
    ) {
        let backoff = BackoffConfig::default().base(d[0]).cap(d[1]);
        round_trip(&backoff);
        let budget = RetryBudgetConfig::default().ttl(d[2]);
        round_trip(&budget);
        round_trip(
            &RetryConfig::default()
                .deadline(some.then_some(d[3]))
                .backoff(backoff)
                .budget(budget),
        );
        round_trip(&breaker(d, some));
        round_trip(&KeyedCircuitBreakerConfig::new(breaker(d, some)).idle_timeout(d[4]));
        round_trip(&RateLimitConfig::default().rate(7, d[0]).wait(d[1]));
        round_trip(&KeyedRateLimitConfig::default().rate(7, d[2]));
        round_trip(&BulkheadConfig::new(4).max_wait(d[3]));
        round_trip(&TimeoutConfig::new(d[4]));
        round_trip(&BatchConfig::new(10, d[0]));
    }
}

/// What users hit (issue #16): fractions and microseconds load everywhere,
/// integers stay milliseconds, and what is saved is what was loaded.
#[test]
fn fractions_and_microseconds_load_and_save_exactly() {
    let config: TimeoutConfig = serde_json::from_str(r#"{"timeout": "1.5s"}"#).unwrap();
    assert_eq!(config.timeout, Duration::from_millis(1500));
    assert_eq!(
        serde_json::to_string(&config).unwrap(),
        r#"{"name":"timeout","timeout":"1s500ms"}"#
    );
    let config: RetryConfig = serde_json::from_str(r#"{"deadline": "1500us"}"#).unwrap();
    assert_eq!(config.deadline, Some(Duration::from_micros(1500)));
    let config: BulkheadConfig = toml::from_str("max_wait = 1500").unwrap();
    assert_eq!(config.max_wait, Duration::from_millis(1500));
    let err = toml::from_str::<BulkheadConfig>("max_wait = \"1.5 sec\"").unwrap_err();
    let err = err.to_string();
    assert!(
        err.contains("max_wait") && err.contains("at byte 4: \"sec\""),
        "{err}"
    );
}
