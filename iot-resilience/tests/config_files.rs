//! Policies load from a TOML file the way applications keep them: one
//! table per layer, durations as `"250ms"`, missing fields defaulted, and
//! values that parse but make no sense rejected by `validate()` with the
//! field named.
#![cfg(feature = "serde")]

use std::time::Duration;

use iot_resilience::bulkhead::BulkheadConfig;
use iot_resilience::circuit_breaker::{CircuitBreakerConfig, SlidingWindow};
use iot_resilience::rate_limit::{RateLimitConfig, RateLimitMode};
use iot_resilience::retry::RetryConfig;
use iot_resilience::timeout::TimeoutConfig;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Policies {
    rate_limit: RateLimitConfig,
    breaker: CircuitBreakerConfig,
    retry: RetryConfig,
    timeout: TimeoutConfig,
    bulkhead: BulkheadConfig,
}

const FILE: &str = r#"
[rate_limit]
name = "ingest"
permits = 500
period = "1s"
burst = 50
mode = "wait"
max_wait = "250ms"

[breaker]
name = "ingest"
failure_rate_threshold = 40.0
slow_call_duration_threshold = "2s"
sliding_window = { type = "time_based", duration = "30s", bucket = "500ms" }
minimum_number_of_calls = 20
wait_duration_in_open = "15s"

[retry]
name = "ingest"
max_attempts = 4
deadline = "5s"
backoff = { strategy = "full_jitter", base = "100ms", cap = "2s" }
budget = { ratio = 0.1, min_retries_per_second = 5 }

[timeout]
name = "ingest"
timeout = "750ms"

[bulkhead]
name = "db"
max_concurrent = 16
max_wait = "50ms"
"#;

#[test]
fn a_policy_file_loads_and_validates() {
    let p: Policies = toml::from_str(FILE).unwrap();
    assert_eq!(p.rate_limit.permits, 500);
    assert_eq!(p.rate_limit.period, Duration::from_secs(1));
    assert_eq!(p.rate_limit.mode, RateLimitMode::Wait);
    assert_eq!(p.rate_limit.max_wait, Duration::from_millis(250));
    assert_eq!(p.breaker.failure_rate_threshold, 40.0);
    assert_eq!(
        p.breaker.sliding_window,
        SlidingWindow::time_with_bucket(Duration::from_secs(30), Duration::from_millis(500))
    );
    assert_eq!(p.breaker.minimum_number_of_calls, 20);
    // Left out: the default.
    assert_eq!(
        p.breaker.permitted_calls_in_half_open,
        CircuitBreakerConfig::default().permitted_calls_in_half_open
    );
    assert_eq!(p.retry.max_attempts, 4);
    assert_eq!(p.retry.deadline, Some(Duration::from_secs(5)));
    assert_eq!(p.retry.budget.as_ref().map(|b| b.ratio), Some(0.1));
    assert_eq!(p.timeout.timeout, Duration::from_millis(750));
    assert_eq!(p.bulkhead.max_concurrent, 16);
    assert_eq!(p.bulkhead.max_wait, Duration::from_millis(50));

    p.rate_limit.validate().unwrap();
    p.breaker.validate().unwrap();
    p.retry.validate().unwrap();
    p.timeout.validate().unwrap();
    p.bulkhead.validate().unwrap();
}

#[test]
fn nonsense_in_a_file_names_the_field() {
    let file = FILE.replace(
        "failure_rate_threshold = 40.0",
        "failure_rate_threshold = 150.0",
    );
    let p: Policies = toml::from_str(&file).unwrap();
    let e = p.breaker.validate().unwrap_err().to_string();
    assert!(
        e.contains("failure_rate_threshold") && e.contains("150"),
        "{e}"
    );

    // Typos and bad durations fail at parse time, with the key in the message.
    let typo = FILE.replace("max_attempts = 4", "max_attempt = 4");
    let e = toml::from_str::<Policies>(&typo).err().unwrap().to_string();
    assert!(e.contains("max_attempt"), "{e}");
    let bad = FILE.replace("timeout = \"750ms\"", "timeout = \"soon\"");
    let e = toml::from_str::<Policies>(&bad).err().unwrap().to_string();
    assert!(e.contains("timeout"), "{e}");

    // A negative integer duration: the key and the value, not "data did
    // not match any variant of untagged enum Raw" (issue #17).
    let negative = FILE.replace("deadline = \"5s\"", "deadline = -5");
    let e = toml::from_str::<Policies>(&negative)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("deadline") && e.contains("-5") && !e.contains("untagged"),
        "{e}"
    );
    let negative = FILE.replace("max_wait = \"50ms\"", "max_wait = -50");
    let e = toml::from_str::<Policies>(&negative)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("max_wait") && e.contains("-50"), "{e}");
}
