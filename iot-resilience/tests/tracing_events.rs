//! Every state transition, rejection and retry is a `tracing` event with a
//! target under `iot_resilience` and the layer's `name`, as the crate docs
//! promise. One test function: tracing's per-callsite interest cache is
//! process-wide, so the capturing subscriber is installed once.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use iot_resilience::backoff::BackoffConfig;
use iot_resilience::bulkhead::{BulkheadConfig, BulkheadLayer};
use iot_resilience::circuit_breaker::{CircuitBreakerConfig, CircuitBreakerLayer, SlidingWindow};
use iot_resilience::rate_limit::{RateLimitConfig, RateLimitLayer};
use iot_resilience::retry::{RetryConfig, RetryLayer};
use iot_resilience::timeout::{TimeoutConfig, TimeoutLayer};
use tower::{Layer, ServiceExt, service_fn};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

#[derive(Debug, Clone)]
struct Captured {
    level: Level,
    target: String,
    fields: BTreeMap<String, String>,
}

impl Captured {
    fn message(&self) -> &str {
        self.fields.get("message").map_or("", String::as_str)
    }
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(Captured {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            fields,
        });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

impl Capture {
    /// The one event whose message contains `text`, from layer `name`.
    fn find(&self, name: &str, text: &str) -> Captured {
        let events = self.0.lock().unwrap();
        let found: Vec<&Captured> = events
            .iter()
            .filter(|e| {
                e.message().contains(text) && e.fields.get("name").map(String::as_str) == Some(name)
            })
            .collect();
        assert!(
            !found.is_empty(),
            "no event {text:?} of {name}: {events:#?}"
        );
        let e = found[0].clone();
        assert!(e.target.starts_with("iot_resilience"), "{e:?}");
        e
    }
}

async fn exercise() {
    let failing = || service_fn(|_: u32| async { Err::<u32, &'static str>("down") });

    // Breaker: two failures open it (a transition), the third is rejected.
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

    // Retry: two retries, then it gives up.
    let retry = RetryLayer::new(
        RetryConfig::default()
            .name("ingest")
            .max_attempts(3)
            .backoff(BackoffConfig::constant(Duration::from_millis(1))),
    )
    .unwrap()
    .without_budget();
    let _ = retry.layer(failing()).oneshot(1).await;

    // Rate limit: the second call is rejected.
    let limit = RateLimitLayer::new(RateLimitConfig::per(1, Duration::from_secs(60)).name("api"))
        .unwrap()
        .layer(service_fn(
            |x: u32| async move { Ok::<u32, &'static str>(x) },
        ));
    let _ = limit.clone().oneshot(1).await;
    let _ = limit.oneshot(2).await;

    // Bulkhead: full while one call is in flight.
    let slow = service_fn(|_: u32| async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok::<u32, &'static str>(0)
    });
    let bulkhead = BulkheadLayer::new(BulkheadConfig::new(1).name("db"))
        .unwrap()
        .layer(slow);
    let first = tokio::spawn(bulkhead.clone().oneshot(1));
    tokio::time::sleep(Duration::from_millis(2)).await;
    let _ = bulkhead.oneshot(2).await;
    let _ = first.await;

    // Timeout elapses.
    let hung = service_fn(|_: u32| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok::<u32, &'static str>(0)
    });
    let timeout = TimeoutLayer::new(
        TimeoutConfig::default()
            .name("cloud")
            .timeout(Duration::from_millis(1)),
    )
    .unwrap();
    let _ = timeout.layer(hung).oneshot(1).await;
}

#[test]
fn transitions_rejections_and_retries_are_events() {
    let capture = Capture::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(capture.clone(), || runtime.block_on(exercise()));

    let opened = capture.find("sink", "circuit breaker opened");
    assert_eq!(opened.level, Level::WARN);
    assert_eq!(opened.fields["from"], "closed");
    assert_eq!(opened.fields["to"], "open");
    capture.find("sink", "circuit breaker rejected a call");

    let retries = capture
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|e| {
            e.message() == "retrying" && e.fields.get("name").map(String::as_str) == Some("ingest")
        })
        .count();
    assert_eq!(retries, 2);
    let gave_up = capture.find("ingest", "giving up");
    assert_eq!(gave_up.level, Level::WARN);
    assert_eq!(gave_up.fields["reason"], "max_attempts");
    assert_eq!(gave_up.fields["attempts"], "3");

    capture.find("api", "rate limit: request rejected");
    capture.find("db", "bulkhead");
    capture.find("cloud", "timed out");
}
