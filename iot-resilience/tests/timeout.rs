//! Timeout layer: typed errors, exact deadlines with paused time,
//! per-request timeouts, cancellation of the inner future.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use iot_resilience::timeout::{TimeoutConfig, TimeoutError, TimeoutLayer};
use iot_resilience::{Hint, RetryHint};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};

const MS: Duration = Duration::from_millis(1);

#[derive(Debug, Clone, PartialEq, Eq)]
enum ApiError {
    Throttled,
}

impl RetryHint for ApiError {
    fn retry_hint(&self) -> Hint {
        Hint::RetryAfter(Duration::from_secs(7))
    }
}

/// Request = how long the call takes in ms; odd values fail.
fn slow() -> impl Service<u64, Response = u64, Error = ApiError, Future: Send> + Clone {
    service_fn(|ms: u64| async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        if ms % 2 == 1 {
            Err(ApiError::Throttled)
        } else {
            Ok(ms)
        }
    })
}

fn layer(ms: u64) -> TimeoutLayer {
    TimeoutLayer::new(TimeoutConfig::new(Duration::from_millis(ms))).unwrap()
}

#[tokio::test(start_paused = true)]
async fn responses_within_the_timeout_pass_and_errors_stay_typed() {
    let svc = layer(100).layer(slow());
    assert_eq!(svc.clone().oneshot(40).await, Ok(40));
    let err = svc.clone().oneshot(41).await.unwrap_err();
    assert_eq!(err, TimeoutError::Inner(ApiError::Throttled));
    assert_eq!(err.retry_hint(), Hint::RetryAfter(Duration::from_secs(7)));
    assert_eq!(err.into_inner(), Some(ApiError::Throttled));
}

#[tokio::test(start_paused = true)]
async fn elapses_exactly_at_the_timeout_and_drops_the_inner_future() {
    let dropped = Arc::new(AtomicBool::new(false));
    let d = dropped.clone();
    let inner = service_fn(move |(): ()| {
        let guard = DropFlag(d.clone());
        async move {
            let _guard = guard;
            std::future::pending::<Result<(), ApiError>>().await
        }
    });
    let start = Instant::now();
    let err = layer(250).layer(inner).oneshot(()).await.unwrap_err();
    assert_eq!(err, TimeoutError::Elapsed { after: 250 * MS });
    assert!(err.is_elapsed());
    assert_eq!(err.retry_hint(), Hint::None);
    assert_eq!(Instant::now() - start, 250 * MS);
    assert!(
        dropped.load(Ordering::SeqCst),
        "the inner call is cancelled"
    );
}

struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn a_response_ready_at_the_deadline_wins() {
    let svc = layer(100).layer(slow());
    assert_eq!(svc.clone().oneshot(100).await, Ok(100));
    assert_eq!(
        svc.oneshot(102).await,
        Err(TimeoutError::Elapsed { after: 100 * MS })
    );
}

#[tokio::test(start_paused = true)]
async fn the_timer_starts_at_call_not_at_poll() {
    let mut svc = layer(100).layer(slow());
    let fut = svc.ready().await.unwrap().call(80);
    tokio::time::sleep(50 * MS).await;
    // 50 ms already passed: the 80 ms call now ends at 130 ms from call,
    // beyond the deadline at 100 ms.
    assert_eq!(fut.await, Err(TimeoutError::Elapsed { after: 100 * MS }));
}

#[tokio::test(start_paused = true)]
async fn per_request_timeouts_override_the_configured_one() {
    let layer = layer(100)
        .with_per_request(|ms: &u64| (*ms >= 1_000).then(|| Duration::from_millis(5 * *ms)));
    assert_eq!(layer.timeout(), 100 * MS);
    let svc = ServiceBuilder::new().layer(layer).service(slow());
    assert_eq!(svc.clone().oneshot(2_000).await, Ok(2_000));
    assert_eq!(
        svc.clone().oneshot(500).await,
        Err(TimeoutError::Elapsed { after: 100 * MS })
    );
    // A per-request timeout can also be shorter.
    let short = self::layer(100).with_per_request(|_: &u64| Some(10 * MS));
    assert_eq!(
        short.layer(slow()).oneshot(20).await,
        Err(TimeoutError::Elapsed { after: 10 * MS })
    );
}

#[tokio::test(start_paused = true)]
async fn readiness_is_forwarded_and_not_timed() {
    let layer = layer(10);
    let mut svc = layer.layer(NeverReady);
    let start = Instant::now();
    // Pending readiness is not cut short by the timeout...
    assert!(tokio::time::timeout(50 * MS, svc.ready()).await.is_err());
    assert_eq!(Instant::now() - start, 50 * MS);
    // ...and readiness errors pass through typed.
    let mut failing = layer.layer(FailReady);
    let Err(err) = failing.ready().await else {
        panic!("readiness error expected");
    };
    assert_eq!(err, TimeoutError::Inner(ApiError::Throttled));
}

struct NeverReady;

impl Service<()> for NeverReady {
    type Response = ();
    type Error = ApiError;
    type Future = std::future::Ready<Result<(), ApiError>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), ApiError>> {
        std::task::Poll::Pending
    }

    fn call(&mut self, (): ()) -> Self::Future {
        std::future::ready(Ok(()))
    }
}

struct FailReady;

impl Service<()> for FailReady {
    type Response = ();
    type Error = ApiError;
    type Future = std::future::Ready<Result<(), ApiError>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), ApiError>> {
        std::task::Poll::Ready(Err(ApiError::Throttled))
    }

    fn call(&mut self, (): ()) -> Self::Future {
        std::future::ready(Ok(()))
    }
}

#[test]
fn config_validation_names_field_and_value() {
    let err = TimeoutConfig::new(Duration::ZERO).validate().unwrap_err();
    assert_eq!(err.field, "timeout.timeout");
    assert!(err.message.contains("0s"), "{err}");
    let err = TimeoutConfig::default().name("").validate().unwrap_err();
    assert_eq!(err.field, "timeout.name");
    assert!(TimeoutLayer::new(TimeoutConfig::new(Duration::ZERO)).is_err());
    TimeoutConfig::default().validate().unwrap();
}

#[cfg(feature = "serde")]
#[test]
fn config_serde_round_trip() {
    let config = TimeoutConfig::new(1500 * MS).name("ingest");
    let json = serde_json::to_value(&config).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"name": "ingest", "timeout": "1s500ms"})
    );
    assert_eq!(
        serde_json::from_value::<TimeoutConfig>(json).unwrap(),
        config
    );
    let c: TimeoutConfig = serde_json::from_str(r#"{"timeout": "2s"}"#).unwrap();
    assert_eq!(c.timeout, Duration::from_secs(2));
    assert_eq!(c.name, "timeout");
    assert!(serde_json::from_str::<TimeoutConfig>(r#"{"after": "2s"}"#).is_err());
}

#[cfg(feature = "metrics")]
#[tokio::test(start_paused = true)]
async fn elapsed_calls_are_counted() {
    use std::sync::atomic::AtomicU64;

    struct One(Arc<AtomicU64>, std::sync::Mutex<Vec<String>>);
    impl metrics::Recorder for One {
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
            let labels: Vec<_> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            self.1
                .lock()
                .unwrap()
                .push(format!("{}{{{}}}", key.name(), labels.join(",")));
            metrics::Counter::from_arc(self.0.clone())
        }
        fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
            metrics::Gauge::noop()
        }
        fn register_histogram(
            &self,
            _: &metrics::Key,
            _: &metrics::Metadata<'_>,
        ) -> metrics::Histogram {
            metrics::Histogram::noop()
        }
    }

    let recorder = One(Arc::default(), Default::default());
    let layer = metrics::with_local_recorder(&recorder, || {
        TimeoutLayer::new(TimeoutConfig::new(100 * MS).name("ingest")).unwrap()
    });
    assert_eq!(
        *recorder.1.lock().unwrap(),
        ["resilience_timeout_elapsed_total{name=ingest}"]
    );
    let svc = layer.layer(slow());
    svc.clone().oneshot(50).await.unwrap();
    svc.clone().oneshot(51).await.unwrap_err();
    assert_eq!(recorder.0.load(Ordering::SeqCst), 0);
    svc.clone().oneshot(200).await.unwrap_err();
    svc.oneshot(300).await.unwrap_err();
    assert_eq!(recorder.0.load(Ordering::SeqCst), 2);
}
