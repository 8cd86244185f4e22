//! Rate limit metrics through a capturing recorder.
#![cfg(feature = "metrics")]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use iot_resilience::ManualClock;
use iot_resilience::rate_limit::{
    KeyedRateLimitConfig, KeyedRateLimiter, RateLimitConfig, RateLimitLayer,
};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use tower::{Layer, Service, ServiceExt, service_fn};

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

#[tokio::test(start_paused = true)]
async fn decisions_are_counted_by_outcome() {
    let capture = Capture::default();
    let config = RateLimitConfig::per(10, Duration::from_secs(1))
        .burst(2)
        .name("ingest")
        .wait(Duration::from_millis(150));
    let layer = metrics::with_local_recorder(&capture, || RateLimitLayer::new(config).unwrap());
    let mut svc = layer.layer(service_fn(|x: u32| async move { Ok::<_, &'static str>(x) }));
    for i in 0..5 {
        let _ = svc.ready().await.unwrap().call(i).await;
    }
    // 2 at once; each later one, called after the previous completed, waits
    // 100 ms (within the 150 ms allowed).
    let id = |d: &str| format!("resilience_rate_limit_decisions_total{{name=ingest,decision={d}}}");
    assert_eq!(capture.counter(&id("allowed")), 2);
    assert_eq!(capture.counter(&id("waited")), 3);
    assert_eq!(capture.counter(&id("rejected")), 0);
    // Three at once: the first reservation waits 100 ms, the others would
    // wait 200 and 300 ms and are rejected.
    let (a, b, c) = (svc.clone(), svc.clone(), svc.clone());
    let mut all = [a, b, c];
    let results = futures_util::future::join_all(
        all.iter_mut()
            .map(|s| async move { s.ready().await.unwrap().call(9).await }),
    )
    .await;
    let rejected = results.iter().filter(|r| r.is_err()).count();
    assert_eq!(rejected, 2);
    assert_eq!(capture.counter(&id("rejected")), 2);
    assert_eq!(capture.counter(&id("waited")), 4);
}

#[test]
fn keyed_gauge_and_evictions() {
    let capture = Capture::default();
    let clock = ManualClock::new();
    let config = KeyedRateLimitConfig::per(1, Duration::from_secs(1))
        .capacity(64)
        .name("per_device");
    let limiter = metrics::with_local_recorder(&capture, || {
        KeyedRateLimiter::with_clock(config, clock.clone()).unwrap()
    });
    for k in 0..100u32 {
        limiter.check(&k, 1).unwrap();
    }
    let keys = capture.gauge("resilience_rate_limit_keys{name=per_device}");
    assert_eq!(keys as usize, limiter.len());
    let busy =
        capture.counter("resilience_rate_limit_evictions_total{name=per_device,reason=busy}");
    assert_eq!(busy, limiter.evictions().busy);
    assert_eq!(busy as usize + limiter.len(), 100);
    clock.advance(Duration::from_secs(5));
    let purged = limiter.purge_idle();
    assert_eq!(
        capture.counter("resilience_rate_limit_evictions_total{name=per_device,reason=idle}"),
        purged as u64
    );
    assert_eq!(
        capture.gauge("resilience_rate_limit_keys{name=per_device}"),
        0.0
    );
}

#[tokio::test(start_paused = true)]
async fn oneshot_is_counted_once() {
    let capture = Capture::default();
    let config = RateLimitConfig::per(1, Duration::from_secs(1)).name("one");
    let layer = metrics::with_local_recorder(&capture, || RateLimitLayer::new(config).unwrap());
    let svc = layer.layer(service_fn(|x: u32| async move { Ok::<_, &'static str>(x) }));
    assert!(svc.clone().oneshot(1).await.is_ok());
    assert!(svc.oneshot(2).await.is_err());
    let id = |d: &str| format!("resilience_rate_limit_decisions_total{{name=one,decision={d}}}");
    assert_eq!(capture.counter(&id("allowed")), 1);
    assert_eq!(capture.counter(&id("rejected")), 1);
}
