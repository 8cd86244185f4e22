//! Bulkhead: limit, immediate and bounded-wait rejection, permit release on
//! completion and on drop, sharing, readiness contract, concurrency.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use iot_resilience::bulkhead::{Bulkhead, BulkheadConfig, BulkheadError, BulkheadLayer};
use iot_resilience::{Hint, RetryHint};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt, service_fn};

const MS: Duration = Duration::from_millis(1);

/// A service whose calls take `delay` (request = delay in ms), counting
/// calls.
fn sleeper(
    calls: Arc<AtomicUsize>,
) -> impl Service<u64, Response = u64, Error = &'static str, Future: Send> + Clone + Send {
    service_fn(move |ms: u64| {
        calls.fetch_add(1, Ordering::SeqCst);
        async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(ms)
        }
    })
}

fn layer(max: usize, max_wait: Duration) -> BulkheadLayer {
    BulkheadLayer::new(BulkheadConfig::new(max).max_wait(max_wait)).unwrap()
}

#[tokio::test(start_paused = true)]
async fn limit_is_enforced_with_immediate_rejection() {
    let calls = Arc::new(AtomicUsize::new(0));
    let layer = layer(2, Duration::ZERO);
    let mut a = layer.layer(sleeper(calls.clone()));
    let mut b = a.clone();
    let mut c = a.clone();
    let fa = a.ready().await.unwrap().call(100);
    let fb = b.ready().await.unwrap().call(100);
    assert_eq!(layer.in_flight(), 2);
    let start = Instant::now();
    let err = c.ready().await.unwrap().call(100).await.unwrap_err();
    assert_eq!(
        err,
        BulkheadError::Full {
            max_concurrent: 2,
            waited: Duration::ZERO
        }
    );
    assert!(err.is_full());
    assert_eq!(err.retry_hint(), Hint::None);
    assert_eq!(Instant::now(), start, "rejected without waiting");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(fa.await, Ok(100));
    assert_eq!(fb.await, Ok(100));
    assert_eq!(layer.in_flight(), 0);
    // Free again.
    assert_eq!(c.ready().await.unwrap().call(1).await, Ok(1));
}

#[tokio::test(start_paused = true)]
async fn bounded_wait_gets_the_permit_released_in_time() {
    let calls = Arc::new(AtomicUsize::new(0));
    let layer = layer(1, 500 * MS);
    let mut a = layer.layer(sleeper(calls.clone()));
    let mut b = a.clone();
    let start = Instant::now();
    let fa = tokio::spawn(a.ready().await.unwrap().call(300));
    // b waits exactly until a's call completes at 300 ms.
    b.ready().await.unwrap();
    assert_eq!(Instant::now() - start, 300 * MS);
    assert_eq!(b.call(1).await, Ok(1));
    assert_eq!(fa.await.unwrap(), Ok(300));
}

/// A wait longer than the clock can represent means "no bound": the
/// caller waits until a permit frees up instead of overflowing `Instant`.
#[tokio::test(start_paused = true)]
async fn unbounded_wait_does_not_overflow_the_clock() {
    let calls = Arc::new(AtomicUsize::new(0));
    let layer = layer(1, Duration::MAX);
    let mut a = layer.layer(sleeper(calls.clone()));
    let mut b = a.clone();
    let start = Instant::now();
    let fa = tokio::spawn(a.ready().await.unwrap().call(86_400_000));
    b.ready().await.unwrap();
    assert_eq!(Instant::now() - start, 86_400_000 * MS);
    assert_eq!(b.call(1).await, Ok(1));
    assert_eq!(fa.await.unwrap(), Ok(86_400_000));
}

#[tokio::test(start_paused = true)]
async fn bounded_wait_rejects_after_max_wait() {
    let layer = layer(1, 500 * MS);
    let mut a = layer.layer(sleeper(Arc::default()));
    let mut b = a.clone();
    let start = Instant::now();
    let fa = tokio::spawn(a.ready().await.unwrap().call(1_000));
    let err = b.ready().await.unwrap().call(1).await.unwrap_err();
    assert_eq!(
        err,
        BulkheadError::Full {
            max_concurrent: 1,
            waited: 500 * MS
        }
    );
    assert_eq!(Instant::now() - start, 500 * MS);
    assert_eq!(fa.await.unwrap(), Ok(1_000));
    // The wait state is reused for a second wait on the same instance.
    let fa = tokio::spawn(a.ready().await.unwrap().call(200));
    let before = Instant::now();
    b.ready().await.unwrap();
    assert_eq!(Instant::now() - before, 200 * MS);
    assert_eq!(b.call(5).await, Ok(5));
    fa.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn permit_released_on_completion_and_on_drop_of_the_response_future() {
    let layer = layer(1, Duration::ZERO);
    let mut svc = layer.layer(sleeper(Arc::default()));
    // Completion: released as soon as the future resolves.
    let mut fut = Box::pin(svc.ready().await.unwrap().call(10));
    assert_eq!(layer.in_flight(), 1);
    assert_eq!((&mut fut).await, Ok(10));
    assert_eq!(
        layer.in_flight(),
        0,
        "released before the future is dropped"
    );
    drop(fut);
    // Drop before completion.
    let fut = svc.ready().await.unwrap().call(10_000);
    assert_eq!(layer.in_flight(), 1);
    drop(fut);
    assert_eq!(layer.in_flight(), 0);
    // Dropped unpolled futures release too, and a NotReady future holds
    // nothing.
    let fut = svc.call(1);
    assert_eq!(layer.in_flight(), 0);
    assert_eq!(fut.await, Err(BulkheadError::NotReady));
}

#[tokio::test(start_paused = true)]
async fn permit_of_a_ready_clone_never_called_is_released_on_drop() {
    let layer = layer(1, Duration::ZERO);
    let svc = layer.layer(sleeper(Arc::default()));
    let mut clone = svc.clone();
    clone.ready().await.unwrap();
    assert_eq!(layer.in_flight(), 1);
    let mut other = svc.clone();
    assert!(
        other
            .ready()
            .await
            .unwrap()
            .call(1)
            .await
            .unwrap_err()
            .is_full(),
        "the ready clone holds the only permit"
    );
    drop(clone);
    assert_eq!(layer.in_flight(), 0);
    assert_eq!(other.ready().await.unwrap().call(1).await, Ok(1));
}

#[tokio::test(start_paused = true)]
async fn a_drop_wakes_a_waiter() {
    let layer = layer(1, Duration::from_secs(10));
    let mut a = layer.layer(sleeper(Arc::default()));
    let mut b = a.clone();
    let start = Instant::now();
    let fa = a.ready().await.unwrap().call(60_000);
    let waiter = tokio::spawn(async move {
        b.ready().await.unwrap();
        Instant::now()
    });
    tokio::time::sleep(100 * MS).await;
    drop(fa);
    assert_eq!(waiter.await.unwrap() - start, 100 * MS);
}

#[tokio::test(start_paused = true)]
async fn a_waiter_that_gives_up_does_not_swallow_the_wakeup() {
    let layer = layer(1, Duration::from_secs(10));
    let mut a = layer.layer(sleeper(Arc::default()));
    let mut quitter = a.clone();
    let mut c = a.clone();
    let start = Instant::now();
    let fa = a.ready().await.unwrap().call(60_000);
    // The quitter starts waiting first, then gives up and is dropped.
    assert!(
        tokio::time::timeout(10 * MS, quitter.ready())
            .await
            .is_err()
    );
    let waiter = tokio::spawn(async move {
        c.ready().await.unwrap();
        Instant::now()
    });
    tokio::time::sleep(10 * MS).await;
    drop(quitter);
    tokio::time::sleep(80 * MS).await;
    drop(fa);
    assert_eq!(waiter.await.unwrap() - start, 100 * MS);
}

#[tokio::test(start_paused = true)]
async fn call_without_readiness_is_not_ready() {
    let calls = Arc::new(AtomicUsize::new(0));
    let layer = layer(3, Duration::ZERO);
    let mut svc = layer.layer(sleeper(calls.clone()));
    let err = svc.call(1).await.unwrap_err();
    assert_eq!(err, BulkheadError::NotReady);
    assert_eq!(err.retry_hint(), Hint::DoNotRetry);
    svc.ready().await.unwrap();
    // Readiness does not carry over to a clone...
    assert_eq!(svc.clone().call(1).await, Err(BulkheadError::NotReady));
    // ...and is consumed by one call.
    svc.call(1).await.unwrap();
    assert_eq!(svc.call(1).await, Err(BulkheadError::NotReady));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn inner_readiness_error_passes_through_and_releases() {
    let layer = layer(1, Duration::ZERO);
    let mut svc = layer.layer(FailReady);
    let Err(err) = svc.ready().await else {
        panic!("the inner readiness error must pass through");
    };
    assert_eq!(err, BulkheadError::Inner("broken"));
    assert_eq!(err.into_inner(), Some("broken"));
    assert_eq!(layer.in_flight(), 0);
}

struct FailReady;

impl Service<u64> for FailReady {
    type Response = u64;
    type Error = &'static str;
    type Future = std::future::Ready<Result<u64, &'static str>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Err("broken"))
    }

    fn call(&mut self, req: u64) -> Self::Future {
        std::future::ready(Ok(req))
    }
}

#[tokio::test(start_paused = true)]
async fn services_of_one_layer_share_the_limit() {
    let layer = layer(2, Duration::ZERO);
    let mut a = layer.layer(sleeper(Arc::default()));
    let mut b = layer.layer(sleeper(Arc::default()));
    let mut c = b.clone();
    let _fa = a.ready().await.unwrap().call(100);
    let _fb = b.ready().await.unwrap().call(100);
    assert!(
        c.ready()
            .await
            .unwrap()
            .call(1)
            .await
            .unwrap_err()
            .is_full()
    );
    assert_eq!(a.in_flight(), 2);
    assert_eq!(c.max_concurrent(), 2);
}

/// A service that records how many of its calls run at once.
#[derive(Clone, Default)]
struct Gauge {
    now: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
    done: Arc<AtomicUsize>,
}

impl Service<()> for Gauge {
    type Response = ();
    type Error = &'static str;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<(), &'static str>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, (): ()) -> Self::Future {
        let g = self.clone();
        Box::pin(async move {
            let now = g.now.fetch_add(1, Ordering::SeqCst) + 1;
            g.max.fetch_max(now, Ordering::SeqCst);
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            g.now.fetch_sub(1, Ordering::SeqCst);
            g.done.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }
}

fn hammer(max_wait: Duration) -> (usize, usize, Gauge, BulkheadLayer) {
    const TASKS: usize = 16;
    const CALLS: usize = 300;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .unwrap();
    let gauge = Gauge::default();
    let layer = layer(4, max_wait);
    let svc = layer.layer(gauge.clone());
    let (ok, full) = runtime.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let mut svc = svc.clone();
                tokio::spawn(async move {
                    let (mut ok, mut full) = (0, 0);
                    for _ in 0..CALLS {
                        match svc.ready().await.unwrap().call(()).await {
                            Ok(()) => ok += 1,
                            Err(BulkheadError::Full { .. }) => full += 1,
                            Err(e) => panic!("unexpected {e:?}"),
                        }
                    }
                    (ok, full)
                })
            })
            .collect();
        let (mut ok, mut full) = (0, 0);
        for t in tasks {
            let (o, f) = t.await.unwrap();
            ok += o;
            full += f;
        }
        (ok, full)
    });
    assert_eq!(ok + full, TASKS * CALLS);
    (ok, full, gauge, layer)
}

#[test]
fn concurrent_callers_never_exceed_the_limit_rejecting() {
    let (ok, full, gauge, layer) = hammer(Duration::ZERO);
    assert!(gauge.max.load(Ordering::SeqCst) <= 4);
    assert_eq!(gauge.done.load(Ordering::SeqCst), ok);
    assert!(full > 0, "16 tasks on 4 permits must see rejections");
    assert_eq!(layer.in_flight(), 0);
}

#[test]
fn concurrent_callers_never_exceed_the_limit_waiting() {
    let (ok, full, gauge, layer) = hammer(Duration::from_secs(30));
    assert_eq!(full, 0, "a 30 s wait is always enough");
    assert_eq!(gauge.done.load(Ordering::SeqCst), ok);
    assert!(gauge.max.load(Ordering::SeqCst) <= 4);
    assert_eq!(layer.in_flight(), 0);
}

#[test]
fn services_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Bulkhead<FailReady>>();
    check::<BulkheadLayer>();
    check::<iot_resilience::bulkhead::ResponseFuture<std::future::Ready<Result<u64, ()>>, ()>>();
}

#[test]
fn config_validation_names_field_and_value() {
    let err = BulkheadConfig::new(0).validate().unwrap_err();
    assert_eq!(err.field, "bulkhead.max_concurrent");
    assert!(err.message.contains('0'), "{err}");
    let err = BulkheadConfig::new(usize::MAX).validate().unwrap_err();
    assert!(err.message.contains(&usize::MAX.to_string()), "{err}");
    let err = BulkheadConfig::new(1).name("").validate().unwrap_err();
    assert_eq!(err.field, "bulkhead.name");
    assert!(BulkheadLayer::new(BulkheadConfig::new(0)).is_err());
    assert_eq!(BulkheadConfig::default().max_concurrent, 25);
    BulkheadConfig::default().validate().unwrap();
}

#[cfg(feature = "serde")]
#[test]
fn config_serde_round_trip() {
    let config = BulkheadConfig::new(8).name("db").max_wait(250 * MS);
    let json = serde_json::to_value(&config).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"name": "db", "max_concurrent": 8, "max_wait": "250ms"})
    );
    assert_eq!(
        serde_json::from_value::<BulkheadConfig>(json).unwrap(),
        config
    );
    let zero: BulkheadConfig = serde_json::from_str(r#"{"max_wait": 0}"#).unwrap();
    assert_eq!(zero.max_wait, Duration::ZERO);
    assert!(serde_json::from_str::<BulkheadConfig>(r#"{"max": 1}"#).is_err());
}

#[cfg(feature = "metrics")]
#[tokio::test(start_paused = true)]
async fn metrics_track_in_flight_and_rejections() {
    use std::sync::Mutex;
    use std::sync::atomic::AtomicU64;

    #[derive(Default)]
    struct Capture(Mutex<Vec<(String, Arc<AtomicU64>)>>);
    impl Capture {
        fn get(&self, name: &str) -> u64 {
            let all = self.0.lock().unwrap();
            all.iter()
                .find(|(n, _)| n == name)
                .unwrap()
                .1
                .load(Ordering::SeqCst)
        }
        fn add(&self, key: &metrics::Key) -> Arc<AtomicU64> {
            let a = Arc::new(AtomicU64::new(0));
            let labels: Vec<_> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            self.0
                .lock()
                .unwrap()
                .push((format!("{}{{{}}}", key.name(), labels.join(",")), a.clone()));
            a
        }
    }
    impl metrics::Recorder for Capture {
        fn describe_counter(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn describe_gauge(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn describe_histogram(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn register_counter(
            &self,
            key: &metrics::Key,
            _: &metrics::Metadata<'_>,
        ) -> metrics::Counter {
            metrics::Counter::from_arc(self.add(key))
        }
        fn register_gauge(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
            metrics::Gauge::from_arc(self.add(key))
        }
        fn register_histogram(
            &self,
            _: &metrics::Key,
            _: &metrics::Metadata<'_>,
        ) -> metrics::Histogram {
            metrics::Histogram::noop()
        }
    }

    let capture = Capture::default();
    let layer = metrics::with_local_recorder(&capture, || {
        BulkheadLayer::new(BulkheadConfig::new(1).name("db")).unwrap()
    });
    let in_flight = || f64::from_bits(capture.get("resilience_bulkhead_in_flight{name=db}"));
    let mut a = layer.layer(sleeper(Arc::default()));
    let mut b = a.clone();
    let fa = a.ready().await.unwrap().call(10);
    assert_eq!(in_flight(), 1.0);
    assert!(b.ready().await.unwrap().call(1).await.is_err());
    assert!(b.ready().await.unwrap().call(1).await.is_err());
    assert_eq!(
        capture.get("resilience_bulkhead_rejections_total{name=db}"),
        2
    );
    fa.await.unwrap();
    assert_eq!(in_flight(), 0.0);
}
