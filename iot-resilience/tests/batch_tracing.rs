//! The batch layer's `batch` span per batch and its events for failures.
//!
//! One test in a binary of its own: tracing caches each callsite's interest
//! process-wide, computed by whichever thread reaches it first. A sibling
//! test driving the same batch worker without a subscriber could cache
//! "never" for the `batch` span while this test's subscriber is installed
//! (tokio-rs/tracing#3611), and spans would go missing at random.

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
