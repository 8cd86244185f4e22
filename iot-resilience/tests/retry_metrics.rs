//! Metrics of the retry layer, read through a small in-test recorder.
#![cfg(feature = "metrics")]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::ready;
use iot_resilience::backoff::BackoffConfig;
use iot_resilience::retry::{RetryBudgetConfig, RetryConfig, RetryLayer};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use tower::{Layer, ServiceExt};

/// Counters keyed `name{label=value,...}`; remembers described names.
#[derive(Default)]
struct TestRecorder {
    counters: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
    described: Mutex<Vec<String>>,
}

impl TestRecorder {
    fn get(&self, key: &str) -> u64 {
        self.counters
            .lock()
            .unwrap()
            .get(key)
            .map_or(0, |c| c.load(Ordering::SeqCst))
    }
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, key: KeyName, _: Option<Unit>, _: SharedString) {
        self.described.lock().unwrap().push(key.as_str().to_owned());
    }
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let labels: Vec<_> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let id = format!("{}{{{}}}", key.name(), labels.join(","));
        let counter = self.counters.lock().unwrap().entry(id).or_default().clone();
        Counter::from_arc(counter)
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

#[tokio::test(start_paused = true)]
async fn counters_follow_outcomes() {
    let recorder = TestRecorder::default();
    let config = RetryConfig::default()
        .name("ingest")
        .max_attempts(3)
        .backoff(BackoffConfig::constant(Duration::from_millis(10)))
        .budget(
            RetryBudgetConfig::default()
                .ratio(0.0)
                .min_retries_per_second(0),
        );
    // Handles are registered when the layer is built.
    let budgeted =
        metrics::with_local_recorder(&recorder, || RetryLayer::new(config.clone()).unwrap());
    let layer = metrics::with_local_recorder(&recorder, || {
        RetryLayer::new(config.clone().name("free"))
            .unwrap()
            .without_budget()
    });
    let retry_503 = |r: &Result<u16, String>| matches!(r, Err(_) | Ok(503));
    let layer = layer.with_predicate(retry_503);

    // success: first attempt.
    let ok = tower::service_fn(|_: u8| ready(Ok::<u16, String>(200)));
    layer.layer(ok).oneshot(0).await.unwrap();
    // success_after_retry: 503 then 200.
    let n = Arc::new(AtomicU64::new(0));
    let flaky = tower::service_fn(move |_: u8| {
        let first = n.fetch_add(1, Ordering::SeqCst) == 0;
        ready(Ok::<u16, String>(if first { 503 } else { 200 }))
    });
    layer.layer(flaky).oneshot(0).await.unwrap();
    // exhausted: always failing, 3 attempts = 2 retries.
    let down = tower::service_fn(|_: u8| ready(Err::<u16, String>("down".into())));
    layer.layer(down).oneshot(0).await.unwrap_err();
    // budget_exhausted: the budget has nothing.
    let down = tower::service_fn(|_: u8| ready(Err::<u16, String>("down".into())));
    budgeted.layer(down).oneshot(0).await.unwrap_err();

    let calls = |name: &str, outcome: &str| {
        recorder.get(&format!(
            "resilience_retry_calls_total{{name={name},outcome={outcome}}}"
        ))
    };
    assert_eq!(calls("free", "success"), 1);
    assert_eq!(calls("free", "success_after_retry"), 1);
    assert_eq!(calls("free", "exhausted"), 1);
    assert_eq!(calls("free", "not_retryable"), 0);
    assert_eq!(calls("ingest", "budget_exhausted"), 1);
    assert_eq!(
        recorder.get("resilience_retry_attempts_total{name=free}"),
        3
    );
    assert_eq!(
        recorder.get("resilience_retry_attempts_total{name=ingest}"),
        0
    );
    assert_eq!(
        recorder.get("resilience_retry_budget_exhausted_total{name=ingest}"),
        1
    );

    // All six outcomes are registered up front, so they export as 0.
    let registered = recorder.counters.lock().unwrap().len();
    assert_eq!(registered, 2 * (1 + 6 + 1));
    let described = recorder.described.lock().unwrap();
    for name in [
        "resilience_retry_attempts_total",
        "resilience_retry_calls_total",
        "resilience_retry_budget_exhausted_total",
    ] {
        assert!(described.iter().any(|d| d == name), "{name} not described");
    }
}
