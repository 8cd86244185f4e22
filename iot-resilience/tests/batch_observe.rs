//! What the batch layer records as metrics (with the `metrics` feature).
//! Its spans and events are tested in `batch_tracing.rs`.

#![cfg(feature = "metrics")]

mod batch_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use iot_resilience::batch::{BatchConfig, BatchLayer};
use tower::{Layer, Service, ServiceExt};

mod recorder {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicU64, Ordering};

    use metrics::{Key, KeyName, Metadata, SharedString, Unit};

    /// Every series and its values, by `name{label=value,...}`.
    #[derive(Default)]
    pub(super) struct Series {
        values: Mutex<BTreeMap<String, Arc<Values>>>,
        /// Metric names with their HELP text and unit.
        described: Mutex<BTreeMap<String, String>>,
    }

    /// A counter or gauge (`last`, as f64 bits) or a histogram (`recorded`).
    #[derive(Default)]
    struct Values {
        last: AtomicU64,
        recorded: Mutex<Vec<f64>>,
    }

    impl Values {
        fn get(&self) -> f64 {
            f64::from_bits(self.last.load(Ordering::SeqCst))
        }
        fn add(&self, delta: f64) {
            let _ = self
                .last
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |bits| {
                    Some((f64::from_bits(bits) + delta).to_bits())
                });
        }
    }

    impl metrics::CounterFn for Values {
        fn increment(&self, value: u64) {
            self.add(value as f64);
        }
        fn absolute(&self, value: u64) {
            self.last.store((value as f64).to_bits(), Ordering::SeqCst);
        }
    }

    impl metrics::GaugeFn for Values {
        fn increment(&self, value: f64) {
            self.add(value);
        }
        fn decrement(&self, value: f64) {
            self.add(-value);
        }
        fn set(&self, value: f64) {
            self.last.store(value.to_bits(), Ordering::SeqCst);
        }
    }

    impl metrics::HistogramFn for Values {
        fn record(&self, value: f64) {
            self.recorded.lock().unwrap().push(value);
        }
    }

    impl Series {
        fn of(&self, key: &Key) -> Arc<Values> {
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let id = format!("{}{{{}}}", key.name(), labels.join(","));
            Arc::clone(self.values.lock().unwrap().entry(id).or_default())
        }

        fn describe(&self, name: KeyName, unit: Option<Unit>, help: SharedString) {
            let text = format!("{help} [{}]", unit.map_or("-", |u| u.as_str()));
            self.described
                .lock()
                .unwrap()
                .insert(name.as_str().to_owned(), text);
        }

        pub(super) fn value(&self, id: &str) -> f64 {
            self.values.lock().unwrap()[id].get()
        }

        pub(super) fn recorded(&self, id: &str) -> Vec<f64> {
            self.values.lock().unwrap()[id]
                .recorded
                .lock()
                .unwrap()
                .clone()
        }

        pub(super) fn help(&self) -> BTreeMap<String, String> {
            self.described.lock().unwrap().clone()
        }
    }

    impl metrics::Recorder for Series {
        fn describe_counter(&self, name: KeyName, unit: Option<Unit>, help: SharedString) {
            self.describe(name, unit, help);
        }
        fn describe_gauge(&self, name: KeyName, unit: Option<Unit>, help: SharedString) {
            self.describe(name, unit, help);
        }
        fn describe_histogram(&self, name: KeyName, unit: Option<Unit>, help: SharedString) {
            self.describe(name, unit, help);
        }
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> metrics::Counter {
            metrics::Counter::from_arc(self.of(key))
        }
        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> metrics::Gauge {
            metrics::Gauge::from_arc(self.of(key))
        }
        fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> metrics::Histogram {
            metrics::Histogram::from_arc(self.of(key))
        }
    }
}

use {batch_support::Sink, recorder::Series};

#[tokio::test(start_paused = true)]
async fn sizes_flush_reasons_and_pending_are_recorded() {
    let series = Series::default();
    let config = BatchConfig::new(3, Duration::from_millis(10))
        .name("db")
        .max_bytes(100);
    let layer = metrics::with_local_recorder(&series, || {
        BatchLayer::with_weigher(config, |x: &u32| *x as usize).unwrap()
    });
    let sink = Sink::new();
    let mut svc = layer.layer(sink.clone());
    let flushes = |reason: &str| {
        series.value(&format!(
            "resilience_batch_flushes_total{{name=db,reason={reason}}}"
        ))
    };
    let pending = || series.value("resilience_batch_pending{name=db}");

    // count: three items.
    let mut futures = Vec::new();
    for x in [1, 2, 3] {
        futures.push(svc.ready().await.unwrap().call(x));
    }
    // bytes: 60 + 50 > 100 cuts before 50; age: 50 alone, 10 ms later.
    for x in [60, 50] {
        futures.push(svc.ready().await.unwrap().call(x));
    }
    assert_eq!(pending(), 5.0, "queued, the worker has not run yet");
    for f in futures.drain(..) {
        f.await.unwrap();
    }
    // close: the last handle dropped with 4 pending.
    futures.push(svc.ready().await.unwrap().call(4));
    tokio::task::yield_now().await;
    assert_eq!(pending(), 1.0);
    drop(svc);
    futures.pop().unwrap().await.unwrap();

    assert_eq!(sink.batches(), [vec![1, 2, 3], vec![60], vec![50], vec![4]]);
    for reason in ["count", "bytes", "age", "close"] {
        assert_eq!(flushes(reason), 1.0, "{reason}");
    }
    assert_eq!(
        series.recorded("resilience_batch_size{name=db}"),
        [3.0, 1.0, 1.0, 1.0]
    );
    assert_eq!(pending(), 0.0);
    let help = series.help();
    for name in [
        "resilience_batch_size",
        "resilience_batch_flushes_total",
        "resilience_batch_pending",
    ] {
        assert!(
            help[name].ends_with("[count]"),
            "{name}: {:?}",
            help.get(name)
        );
    }
}
