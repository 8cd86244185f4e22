//! Fallback layer: value and service fallbacks, predicates, typed errors
//! when the fallback fails too, readiness of the fallback service.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use iot_resilience::fallback::{Fallback, FallbackConfig, FallbackError, FallbackLayer};
use iot_resilience::rate_limit::{RateLimitConfig, RateLimitError, RateLimitLayer};
use iot_resilience::{Hint, RetryHint};
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};

#[derive(Debug, Clone, PartialEq, Eq)]
enum ApiError {
    Unavailable,
    BadRequest,
}

impl RetryHint for ApiError {
    fn retry_hint(&self) -> Hint {
        match self {
            ApiError::Unavailable => Hint::RetryAfter(Duration::from_secs(1)),
            ApiError::BadRequest => Hint::DoNotRetry,
        }
    }
}

/// 0 => BadRequest, odd => Unavailable, even => Ok.
fn primary(
    calls: Arc<AtomicUsize>,
) -> impl Service<u32, Response = String, Error = ApiError, Future: Send> + Clone {
    service_fn(move |id: u32| {
        calls.fetch_add(1, Ordering::SeqCst);
        async move {
            match id {
                0 => Err(ApiError::BadRequest),
                n if n % 2 == 1 => Err(ApiError::Unavailable),
                n => Ok(format!("primary {n}")),
            }
        }
    })
}

#[tokio::test]
async fn value_fallback_answers_every_failure_by_default() {
    let calls = Arc::new(AtomicUsize::new(0));
    let svc = FallbackLayer::value(|e: ApiError| format!("fallback for {e:?}"))
        .layer(primary(calls.clone()));
    assert_eq!(svc.clone().oneshot(2).await.unwrap(), "primary 2");
    assert_eq!(
        svc.clone().oneshot(3).await.unwrap(),
        "fallback for Unavailable"
    );
    assert_eq!(svc.oneshot(0).await.unwrap(), "fallback for BadRequest");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn predicate_selects_which_errors_fall_back() {
    let svc = FallbackLayer::value(|_: ApiError| "cached".to_string())
        .when(|e: &ApiError| *e == ApiError::Unavailable)
        .layer(primary(Arc::default()));
    assert_eq!(svc.clone().oneshot(5).await.unwrap(), "cached");
    let err = svc.oneshot(0).await.unwrap_err();
    assert_eq!(err, FallbackError::Inner(ApiError::BadRequest));
    assert_eq!(err.retry_hint(), Hint::DoNotRetry);
    assert_eq!(err.primary(), Some(&ApiError::BadRequest));
}

#[tokio::test]
async fn service_fallback_gets_the_same_request() {
    let fallback_calls = Arc::new(AtomicUsize::new(0));
    let fc = fallback_calls.clone();
    let replica = service_fn(move |id: u32| {
        fc.fetch_add(1, Ordering::SeqCst);
        async move { Ok::<_, ApiError>(format!("replica {id}")) }
    });
    let svc = Fallback::service(primary(Arc::default()), replica);
    assert_eq!(svc.clone().oneshot(4).await.unwrap(), "primary 4");
    assert_eq!(
        fallback_calls.load(Ordering::SeqCst),
        0,
        "not called on success"
    );
    assert_eq!(svc.clone().oneshot(7).await.unwrap(), "replica 7");
    assert_eq!(svc.oneshot(0).await.unwrap(), "replica 0");
    assert_eq!(fallback_calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn both_failing_keeps_both_errors() {
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct CacheMiss;
    impl RetryHint for CacheMiss {
        fn retry_hint(&self) -> Hint {
            Hint::RetryAfter(Duration::from_secs(9))
        }
    }
    let cache = service_fn(|_: u32| async { Err::<String, _>(CacheMiss) });
    let svc = FallbackLayer::service(cache).layer(primary(Arc::default()));
    let err = svc.oneshot(3).await.unwrap_err();
    assert_eq!(
        err,
        FallbackError::Fallback {
            primary: ApiError::Unavailable,
            fallback: CacheMiss
        }
    );
    // The last thing tried speaks for the retry.
    assert_eq!(err.retry_hint(), Hint::RetryAfter(Duration::from_secs(9)));
    assert_eq!(err.into_primary(), Some(ApiError::Unavailable));
}

#[tokio::test]
async fn fallback_service_readiness_is_driven_and_its_errors_typed() {
    let fallback = Gate::default();
    let svc = FallbackLayer::service(fallback.clone()).layer(primary(Arc::default()));
    let mut fut = Box::pin(svc.oneshot(1));
    // The fallback is not ready yet: the future waits for it.
    let first = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
    assert!(first.is_pending());
    assert_eq!(fallback.polls.load(Ordering::SeqCst), 1);
    fallback.open.store(1, Ordering::SeqCst);
    assert_eq!(fut.await.unwrap(), "gate 1");
    // A readiness error of the fallback is a fallback failure.
    fallback.open.store(2, Ordering::SeqCst);
    let svc = FallbackLayer::service(fallback).layer(primary(Arc::default()));
    assert_eq!(
        svc.oneshot(1).await.unwrap_err(),
        FallbackError::Fallback {
            primary: ApiError::Unavailable,
            fallback: "gate broken"
        }
    );
}

/// Not ready while `open` is 0, ready at 1, failing readiness at 2.
#[derive(Clone, Default)]
struct Gate {
    open: Arc<AtomicUsize>,
    polls: Arc<AtomicUsize>,
}

impl Service<u32> for Gate {
    type Response = String;
    type Error = &'static str;
    type Future = std::future::Ready<Result<String, &'static str>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        match self.open.load(Ordering::SeqCst) {
            0 => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            1 => Poll::Ready(Ok(())),
            _ => Poll::Ready(Err("gate broken")),
        }
    }

    fn call(&mut self, id: u32) -> Self::Future {
        std::future::ready(Ok(format!("gate {id}")))
    }
}

#[tokio::test(start_paused = true)]
async fn falls_back_on_rate_limit_rejections_only() {
    let calls = Arc::new(AtomicUsize::new(0));
    let limit = RateLimitLayer::new(RateLimitConfig::per(1, Duration::from_secs(60))).unwrap();
    let svc = ServiceBuilder::new()
        .layer(
            FallbackLayer::value(|e: RateLimitError<ApiError>| {
                format!("degraded, retry after {:?}", e.retry_after().unwrap())
            })
            .when(|e: &RateLimitError<ApiError>| e.is_rejected()),
        )
        .layer(limit)
        .service(primary(calls.clone()));
    assert_eq!(svc.clone().oneshot(2).await.unwrap(), "primary 2");
    assert_eq!(
        svc.clone().oneshot(4).await.unwrap(),
        "degraded, retry after 60s"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn readiness_errors_of_the_primary_are_not_handled() {
    struct Broken;
    impl Service<u32> for Broken {
        type Response = String;
        type Error = ApiError;
        type Future = std::future::Ready<Result<String, ApiError>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ApiError>> {
            Poll::Ready(Err(ApiError::Unavailable))
        }
        fn call(&mut self, _: u32) -> Self::Future {
            std::future::ready(Ok(String::new()))
        }
    }
    let mut svc = Fallback::value(Broken, |_: ApiError| "never".to_string());
    let Err(err) = svc.ready().await else {
        panic!("readiness error expected");
    };
    assert_eq!(err, FallbackError::Inner(ApiError::Unavailable));
}

#[test]
fn config_validation_and_layer_naming() {
    let err = FallbackConfig::new("").validate().unwrap_err();
    assert_eq!(err.field, "fallback.name");
    assert!(
        FallbackLayer::value(|_: ApiError| 0)
            .with_config(FallbackConfig::new(""))
            .is_err()
    );
    FallbackConfig::default().validate().unwrap();
}

#[cfg(feature = "serde")]
#[test]
fn config_serde_round_trip() {
    let config = FallbackConfig::new("cached_reading");
    let json = serde_json::to_value(&config).unwrap();
    assert_eq!(json, serde_json::json!({"name": "cached_reading"}));
    assert_eq!(
        serde_json::from_value::<FallbackConfig>(json).unwrap(),
        config
    );
    assert!(serde_json::from_str::<FallbackConfig>(r#"{"value": 1}"#).is_err());
}

#[cfg(feature = "metrics")]
#[tokio::test]
async fn invocations_are_counted_by_outcome() {
    use std::sync::Mutex;
    use std::sync::atomic::AtomicU64;

    #[derive(Default)]
    struct Capture(Mutex<Vec<(String, Arc<AtomicU64>)>>);
    impl Capture {
        fn get(&self, id: &str) -> u64 {
            let all = self.0.lock().unwrap();
            all.iter()
                .find(|(n, _)| n == id)
                .unwrap()
                .1
                .load(Ordering::SeqCst)
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
            let labels: Vec<_> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let a = Arc::new(AtomicU64::new(0));
            self.0
                .lock()
                .unwrap()
                .push((format!("{}{{{}}}", key.name(), labels.join(",")), a.clone()));
            metrics::Counter::from_arc(a)
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

    let capture = Capture::default();
    let odd_only = service_fn(|id: u32| async move {
        if id % 2 == 1 {
            Ok(format!("replica {id}"))
        } else {
            Err("replica down")
        }
    });
    let svc = metrics::with_local_recorder(&capture, || {
        FallbackLayer::service(odd_only)
            .with_config(FallbackConfig::new("replica"))
            .unwrap()
            .layer(primary(Arc::default()))
    });
    svc.clone().oneshot(2).await.unwrap(); // primary ok: no fallback
    svc.clone().oneshot(3).await.unwrap(); // fallback ok
    svc.clone().oneshot(0).await.unwrap_err(); // fallback fails
    svc.oneshot(5).await.unwrap();
    let id = |o: &str| format!("resilience_fallback_invocations_total{{name=replica,outcome={o}}}");
    assert_eq!(capture.get(&id("success")), 2);
    assert_eq!(capture.get(&id("failure")), 1);
}
