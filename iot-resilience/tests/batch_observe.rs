//! What the batch layer reports: its metrics (with the `metrics` feature)
//! and a `batch` span per batch.

mod batch_support;

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use iot_resilience::batch::{BatchConfig, BatchLayer};
use tower::{Layer, Service, ServiceExt, service_fn};

/// Spans and events as `name: field=value ...` lines.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// Writes every field as `name=value`, strings without their quotes.
struct Line<'a>(&'a mut String);

impl tracing::field::Visit for Line<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn Debug) {
        let value = format!("{value:?}");
        self.0
            .push_str(&format!(" {}={}", field.name(), value.trim_matches('"')));
    }
}

impl tracing::Subscriber for Lines {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut line = format!("span {}:", span.metadata().name());
        span.record(&mut Line(&mut line));
        let mut lines = self.0.lock().unwrap();
        lines.push(line);
        tracing::span::Id::from_u64(lines.len() as u64)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = format!(
            "{} {}:",
            event.metadata().level(),
            event.metadata().target()
        );
        event.record(&mut Line(&mut line));
        self.0.lock().unwrap().push(line);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test(start_paused = true)]
async fn a_span_per_batch_and_events_for_failures() {
    let lines = Lines::default();
    let _guard = tracing::subscriber::set_default(lines.clone());
    let sink = service_fn(|rows: Vec<u32>| async move {
        match rows[0] {
            0 => Err("down".to_string()),
            1 => Ok(vec![]),
            _ => Ok(rows.into_iter().map(Ok::<u32, String>).collect()),
        }
    });
    let mut svc = BatchLayer::new(BatchConfig::new(2, Duration::from_millis(5)).name("db"))
        .unwrap()
        .layer(sink);
    for batch in [[2, 3], [0, 9], [1, 9]] {
        let a = svc.ready().await.unwrap().call(batch[0]);
        let b = svc.ready().await.unwrap().call(batch[1]);
        let _ = (a.await, b.await);
    }
    let _ = svc.ready().await.unwrap().call(7).await.unwrap();
    let _ = svc.call(8).await.unwrap_err();

    let lines = lines.all();
    let spans: Vec<&String> = lines.iter().filter(|l| l.starts_with("span ")).collect();
    assert_eq!(
        spans,
        [
            "span batch: name=db items=2 bytes=0 reason=count",
            "span batch: name=db items=2 bytes=0 reason=count",
            "span batch: name=db items=2 bytes=0 reason=count",
            "span batch: name=db items=1 bytes=0 reason=age",
        ],
        "{lines:#?}"
    );
    let has = |prefix: &str, message: &str| {
        lines
            .iter()
            .any(|l| l.starts_with(prefix) && l.contains(message))
    };
    assert!(
        has("DEBUG iot_resilience::batch", "failed the whole batch"),
        "{lines:#?}"
    );
    assert!(
        has("WARN iot_resilience::batch", "outcomes=0") && has("WARN", "different number"),
        "{lines:#?}"
    );
    assert!(
        has("DEBUG iot_resilience::batch", "name=db") && has("DEBUG", "before poll_ready"),
        "{lines:#?}"
    );
}

#[cfg(feature = "metrics")]
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

#[cfg(feature = "metrics")]
use {batch_support::Sink, recorder::Series};

#[cfg(feature = "metrics")]
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
