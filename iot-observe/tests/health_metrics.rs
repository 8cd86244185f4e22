//! Check runs are exported through the `metrics` facade. A binary of its
//! own: it installs a global recorder.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use iot_observe::health::{
    CheckOptions, HEALTH_CHECK_DURATION_SECONDS, HEALTH_CHECK_RUNS_TOTAL, HEALTH_CHECK_STATUS,
    HealthRegistry, Status, check_fn,
};
use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

/// Stores the latest value (gauges, counters) or every sample (histograms)
/// under `name{label="value",...}`.
#[derive(Default)]
struct Store {
    values: Mutex<BTreeMap<String, f64>>,
    samples: Mutex<BTreeMap<String, Vec<f64>>>,
    described: Mutex<BTreeMap<String, (Option<Unit>, String)>>,
}

struct Cell {
    key: String,
    store: Arc<Store>,
    count: AtomicU64,
}

impl CounterFn for Cell {
    fn increment(&self, value: u64) {
        let total = self.count.fetch_add(value, Ordering::SeqCst) + value;
        self.store
            .values
            .lock()
            .unwrap()
            .insert(self.key.clone(), total as f64);
    }
    fn absolute(&self, value: u64) {
        self.store
            .values
            .lock()
            .unwrap()
            .insert(self.key.clone(), value as f64);
    }
}

impl GaugeFn for Cell {
    fn increment(&self, _: f64) {}
    fn decrement(&self, _: f64) {}
    fn set(&self, value: f64) {
        self.store
            .values
            .lock()
            .unwrap()
            .insert(self.key.clone(), value);
    }
}

impl HistogramFn for Cell {
    fn record(&self, value: f64) {
        self.store
            .samples
            .lock()
            .unwrap()
            .entry(self.key.clone())
            .or_default()
            .push(value);
    }
}

struct TestRecorder(Arc<Store>);

impl TestRecorder {
    fn cell(&self, key: &Key) -> Arc<Cell> {
        let mut labels: Vec<_> = key
            .labels()
            .map(|l| format!("{}=\"{}\"", l.key(), l.value()))
            .collect();
        labels.sort();
        let key = format!("{}{{{}}}", key.name(), labels.join(","));
        // The macros register on every call: carry a counter's total over.
        let count = self
            .0
            .values
            .lock()
            .unwrap()
            .get(&key)
            .copied()
            .unwrap_or(0.0) as u64;
        Arc::new(Cell {
            key,
            store: self.0.clone(),
            count: AtomicU64::new(count),
        })
    }

    fn describe(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0
            .described
            .lock()
            .unwrap()
            .insert(key.as_str().to_owned(), (unit, description.to_string()));
    }
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(key, unit, description);
    }
    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(key, unit, description);
    }
    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(key, unit, description);
    }
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.cell(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.cell(key))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.cell(key))
    }
}

#[tokio::test(start_paused = true)]
async fn check_runs_are_recorded() {
    let store = Arc::new(Store::default());
    metrics::set_global_recorder(TestRecorder(store.clone())).unwrap();

    let registry = HealthRegistry::builder()
        .check(
            "db:ping",
            check_fn(|| async { Status::Pass }),
            CheckOptions::readiness(),
        )
        .check(
            "cache:ping",
            check_fn(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                Status::Pass
            }),
            CheckOptions::readiness().timeout(Duration::from_secs(1)),
        )
        .build()
        .unwrap();
    registry.refresh().await;
    registry.refresh().await;

    let values = store.values.lock().unwrap().clone();
    let value = |key: &str| values.get(key).copied();
    assert_eq!(
        value(&format!(
            r#"{HEALTH_CHECK_RUNS_TOTAL}{{check="db:ping",status="pass"}}"#
        )),
        Some(2.0)
    );
    assert_eq!(
        value(&format!(
            r#"{HEALTH_CHECK_RUNS_TOTAL}{{check="cache:ping",status="fail"}}"#
        )),
        Some(2.0)
    );
    assert_eq!(
        value(&format!(
            r#"{HEALTH_CHECK_STATUS}{{check="db:ping",status="pass"}}"#
        )),
        Some(1.0)
    );
    assert_eq!(
        value(&format!(
            r#"{HEALTH_CHECK_STATUS}{{check="db:ping",status="fail"}}"#
        )),
        Some(0.0)
    );
    assert_eq!(
        value(&format!(
            r#"{HEALTH_CHECK_STATUS}{{check="cache:ping",status="fail"}}"#
        )),
        Some(1.0)
    );
    assert_eq!(
        value(&format!(
            r#"{HEALTH_CHECK_STATUS}{{check="cache:ping",status="warn"}}"#
        )),
        Some(0.0)
    );

    let samples = store.samples.lock().unwrap().clone();
    let cache = &samples[&format!(r#"{HEALTH_CHECK_DURATION_SECONDS}{{check="cache:ping"}}"#)];
    assert_eq!(cache, &[1.0, 1.0], "timed-out runs last the timeout");
    assert_eq!(
        samples[&format!(r#"{HEALTH_CHECK_DURATION_SECONDS}{{check="db:ping"}}"#)].len(),
        2
    );

    let described = store.described.lock().unwrap().clone();
    assert_eq!(
        described[HEALTH_CHECK_DURATION_SECONDS].0,
        Some(Unit::Seconds)
    );
    for name in [HEALTH_CHECK_STATUS, HEALTH_CHECK_RUNS_TOTAL] {
        assert!(!described[name].1.is_empty(), "{name} has HELP text");
    }
}
