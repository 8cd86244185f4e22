//! Circuit breaker metrics through a capturing recorder.
#![cfg(feature = "metrics")]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use iot_resilience::ManualClock;
use iot_resilience::circuit_breaker::{
    CircuitBreakerConfig, CircuitBreakerHandle, KeyedCircuitBreaker, KeyedCircuitBreakerConfig,
    Outcome, SlidingWindow,
};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};

/// Records counters and gauges as `name{label=value,...}` => value.
#[derive(Default)]
struct Capture(Mutex<BTreeMap<String, Arc<AtomicU64>>>);

impl Capture {
    fn handle(&self, key: &Key) -> Arc<AtomicU64> {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let id = format!("{}{{{}}}", key.name(), labels.join(","));
        self.0.lock().unwrap().entry(id).or_default().clone()
    }

    fn counter(&self, id: &str) -> u64 {
        self.0.lock().unwrap()[id].load(Ordering::SeqCst)
    }

    fn gauge(&self, id: &str) -> f64 {
        f64::from_bits(self.0.lock().unwrap()[id].load(Ordering::SeqCst))
    }

    fn series(&self, prefix: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .count()
    }
}

impl Recorder for Capture {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.handle(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.handle(key))
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

fn config() -> CircuitBreakerConfig {
    CircuitBreakerConfig::default()
        .name("ingest")
        .sliding_window(SlidingWindow::count(3))
        .minimum_number_of_calls(3)
        .slow_call_duration_threshold(Duration::from_secs(1))
}

#[test]
fn calls_states_and_transitions_are_counted() {
    let capture = Capture::default();
    let clock = ManualClock::new();
    let b = metrics::with_local_recorder(&capture, || {
        CircuitBreakerHandle::with_clock(config(), clock.clone()).unwrap()
    });
    let calls = |o: &str| {
        capture.counter(&format!(
            "resilience_circuit_breaker_calls_total{{name=ingest,outcome={o}}}"
        ))
    };
    let state = |s: &str| {
        capture.gauge(&format!(
            "resilience_circuit_breaker_state{{name=ingest,state={s}}}"
        ))
    };
    let transitions = |from: &str, to: &str| {
        capture.counter(&format!(
            "resilience_circuit_breaker_transitions_total{{name=ingest,from={from},to={to}}}"
        ))
    };
    assert_eq!((state("closed"), state("open")), (1.0, 0.0));
    // Every (from, to) pair exists from the start, at zero.
    assert_eq!(
        capture.series("resilience_circuit_breaker_transitions_total"),
        30
    );

    let ms = Duration::from_millis;
    b.try_acquire()
        .unwrap()
        .record_with_duration(Outcome::Success, ms(10));
    b.try_acquire()
        .unwrap()
        .record_with_duration(Outcome::Ignored, ms(10));
    b.try_acquire()
        .unwrap()
        .record_with_duration(Outcome::Success, ms(1500));
    b.try_acquire()
        .unwrap()
        .record_with_duration(Outcome::Failure, ms(1500));
    assert_eq!(
        (
            calls("success"),
            calls("ignored"),
            calls("slow_success"),
            calls("slow_failure")
        ),
        (1, 1, 1, 1)
    );
    // 3 calls, 2 slow (67% < 100%), 1 failed (33% < 50%): closed. Two more
    // failures: 2 of 3 failed.
    b.try_acquire()
        .unwrap()
        .record_with_duration(Outcome::Failure, ms(1));
    assert_eq!(calls("failure"), 1);
    assert_eq!((state("closed"), state("open")), (0.0, 1.0));
    assert_eq!(transitions("closed", "open"), 1);
    assert!(b.try_acquire().is_err());
    assert_eq!(calls("rejected"), 1);

    b.disable();
    b.try_acquire().unwrap().failure();
    assert_eq!(calls("failure"), 1, "nothing is counted while disabled");
    assert_eq!(transitions("open", "disabled"), 1);
    assert_eq!((state("open"), state("disabled")), (0.0, 1.0));
    drop(b);
    assert_eq!(state("disabled"), 0.0, "a dropped breaker leaves the gauge");
}

#[test]
fn keyed_breakers_share_one_series_set() {
    let capture = Capture::default();
    let breakers = metrics::with_local_recorder(&capture, || {
        KeyedCircuitBreaker::<u32>::new(KeyedCircuitBreakerConfig::new(config()).capacity(64))
            .unwrap()
    });
    for key in 0..100 {
        breakers.get(&key).try_acquire().unwrap().success();
    }
    let entries = capture.gauge("resilience_circuit_breaker_keyed_entries{name=ingest}");
    assert_eq!(entries as usize, breakers.len());
    let evicted = capture
        .counter("resilience_circuit_breaker_keyed_evictions_total{name=ingest,reason=capacity}");
    assert_eq!(evicted as usize, 100 - breakers.len());
    assert_eq!(
        capture.counter("resilience_circuit_breaker_calls_total{name=ingest,outcome=success}"),
        100
    );
    // The state gauge counts live per-key breakers (evicted ones are dropped).
    assert_eq!(
        capture.gauge("resilience_circuit_breaker_state{name=ingest,state=closed}") as usize,
        breakers.len()
    );
}
