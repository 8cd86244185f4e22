//! Every metric iot-resilience defines, recorded through iot-observe's real
//! Prometheus exporter after each layer did its job, passes
//! `promtool check metrics` with zero findings and matches the table in
//! `docs/observability.md`. (iot-observe's own metrics are linted in its
//! crate; the transport's and the gateway's in `tests/gateway.rs`.)

mod common;

use std::time::Duration;

use iot_observe::prometheus::{PrometheusConfig, PrometheusExporter};
use iot_resilience::backoff::BackoffConfig;
use iot_resilience::bulkhead::{BulkheadConfig, BulkheadLayer};
use iot_resilience::circuit_breaker::{
    CircuitBreakerConfig, CircuitBreakerLayer, KeyedCircuitBreaker, KeyedCircuitBreakerConfig,
    SlidingWindow,
};
use iot_resilience::fallback::{FallbackConfig, FallbackLayer};
use iot_resilience::rate_limit::{
    KeyedRateLimitConfig, KeyedRateLimiter, RateLimitConfig, RateLimitLayer,
};
use iot_resilience::retry::{RetryBudgetConfig, RetryConfig, RetryLayer};
use iot_resilience::timeout::{TimeoutConfig, TimeoutLayer};
use tower::{Layer, ServiceExt, service_fn};

async fn exercise_every_layer() {
    let failing = || service_fn(|_: u32| async { Err::<u32, &'static str>("down") });
    let ok = || service_fn(|x: u32| async move { Ok::<u32, &'static str>(x) });

    // Breaker: two failures open it, the third call is rejected.
    let breaker = CircuitBreakerLayer::new(
        CircuitBreakerConfig::default()
            .name("sink")
            .sliding_window(SlidingWindow::count(2))
            .minimum_number_of_calls(2),
    )
    .unwrap();
    let svc = breaker.layer(failing());
    for _ in 0..3 {
        let _ = svc.clone().oneshot(1).await;
    }

    // Keyed breakers: a flood of keys past the capacity evicts some.
    let keyed = KeyedCircuitBreaker::<u32>::new(
        KeyedCircuitBreakerConfig::new(CircuitBreakerConfig::default().name("per_host"))
            .capacity(64),
    )
    .unwrap();
    for key in 0..200 {
        keyed.get(&key).try_acquire().unwrap().success();
    }

    // Retry: retries until exhausted; a zero budget refuses retries.
    let retry = RetryLayer::new(
        RetryConfig::default()
            .name("ingest")
            .max_attempts(3)
            .backoff(BackoffConfig::constant(Duration::from_millis(1))),
    )
    .unwrap()
    .without_budget();
    let _ = retry.layer(failing()).oneshot(1).await;
    let starved = RetryLayer::new(
        RetryConfig::default()
            .name("starved")
            .backoff(BackoffConfig::constant(Duration::from_millis(1)))
            .budget(
                RetryBudgetConfig::default()
                    .ratio(0.0)
                    .min_retries_per_second(0),
            ),
    )
    .unwrap();
    let _ = starved.layer(failing()).oneshot(1).await;

    // Rate limit: the second call within the period is rejected.
    let limit =
        RateLimitLayer::new(RateLimitConfig::per(1, Duration::from_secs(60)).name("api")).unwrap();
    let svc = limit.layer(ok());
    let _ = svc.clone().oneshot(1).await;
    let _ = svc.oneshot(2).await;

    // Keyed limiter past its capacity.
    let keyed_limit = KeyedRateLimiter::<u32>::new(
        KeyedRateLimitConfig::per(1, Duration::from_secs(60))
            .capacity(64)
            .name("per_device"),
    )
    .unwrap();
    for key in 0..200 {
        let _ = keyed_limit.check(&key, 1);
    }

    // Bulkhead: a second call while one is in flight is rejected.
    let bulkhead = BulkheadLayer::new(BulkheadConfig::new(1).name("db")).unwrap();
    let slow = service_fn(|_: u32| async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok::<u32, &'static str>(0)
    });
    let svc = bulkhead.layer(slow);
    let first = tokio::spawn(svc.clone().oneshot(1));
    tokio::time::sleep(Duration::from_millis(5)).await;
    let _ = svc.oneshot(2).await;
    let _ = first.await;

    // Timeout elapses.
    let timeout = TimeoutLayer::new(
        TimeoutConfig::default()
            .name("cloud")
            .timeout(Duration::from_millis(1)),
    )
    .unwrap();
    let hung = service_fn(|_: u32| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok::<u32, &'static str>(0)
    });
    let _ = timeout.layer(hung).oneshot(1).await;

    // Fallback answers a failure.
    let fallback = FallbackLayer::value(|_: &'static str| 0u32)
        .with_config(FallbackConfig::new("cache"))
        .unwrap();
    let _ = fallback.layer(failing()).oneshot(1).await;
}

#[test]
fn every_resilience_metric_passes_promtool() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let config = PrometheusConfig::default()
        .service("gateway")
        .instance("pod-1");
    let (exporter, recorder) = PrometheusExporter::build(config).unwrap();
    metrics::with_local_recorder(&recorder, || runtime.block_on(exercise_every_layer()));
    let text = exporter.render();

    let ours: Vec<String> = common::documented_metrics()
        .into_iter()
        .filter(|(_, source)| source == "iot-resilience")
        .map(|(name, _)| name)
        .collect();
    assert_eq!(ours.len(), 15, "{ours:?}");
    let exported = common::exported_families(&text);
    for name in &ours {
        assert!(exported.contains(name), "{name} not exported:\n{text}");
    }
    // Each layer did its job (a counter that stayed 0 would prove nothing).
    for sample in [
        r#"resilience_circuit_breaker_calls_total{service="gateway",instance="pod-1",name="sink",outcome="rejected"} 1"#,
        r#"resilience_retry_attempts_total{service="gateway",instance="pod-1",name="ingest"} 2"#,
        r#"resilience_retry_budget_exhausted_total{service="gateway",instance="pod-1",name="starved"} 1"#,
        r#"resilience_rate_limit_decisions_total{service="gateway",instance="pod-1",name="api",decision="rejected"} 1"#,
        r#"resilience_bulkhead_rejections_total{service="gateway",instance="pod-1",name="db"} 1"#,
        r#"resilience_timeout_elapsed_total{service="gateway",instance="pod-1",name="cloud"} 1"#,
        r#"resilience_fallback_invocations_total{service="gateway",instance="pod-1",name="cache",outcome="success"} 1"#,
    ] {
        assert!(text.lines().any(|l| l == sample), "{sample} in\n{text}");
    }
    common::assert_all_documented(&text);
    common::assert_promtool_clean(&text);
}
