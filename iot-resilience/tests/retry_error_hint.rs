//! Retrying errors that do not implement `RetryHint` (errors of other
//! crates: reqwest, tonic, anyhow), classified by a closure, a trait
//! object or `NoErrorHint`; the `RetryHint` path is unchanged.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use iot_resilience::Hint;
use iot_resilience::backoff::BackoffConfig;
use iot_resilience::retry::{
    DynErrorHint, ErrorHint, GiveUpReason, NoErrorHint, RetryConfig, RetryError, RetryLayer,
};
use tower::{Layer, ServiceExt, service_fn};

/// Stands for `reqwest::Error` or `tonic::Status`: a foreign error type
/// with no `RetryHint` implementation.
#[derive(Debug, Clone, PartialEq)]
struct ForeignError {
    status: u16,
}

fn layer() -> RetryLayer {
    RetryLayer::from_validated(
        RetryConfig::default()
            .max_attempts(4)
            .budget(None)
            .backoff(BackoffConfig::constant(Duration::from_millis(10)))
            .build()
            .unwrap(),
    )
}

/// A service failing with `status` `failures` times, then answering `200`.
fn flaky(
    status: u16,
    failures: u32,
) -> (
    Arc<AtomicU32>,
    impl tower::Service<(), Response = u16, Error = ForeignError, Future: Send> + Clone,
) {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let service = service_fn(move |()| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if n < failures {
                Err(ForeignError { status })
            } else {
                Ok(200)
            }
        }
    });
    (calls, service)
}

fn classify(e: &ForeignError) -> Hint {
    match e.status {
        429 => Hint::RetryAfter(Duration::from_secs(2)),
        500..=599 => Hint::None,
        _ => Hint::DoNotRetry,
    }
}

#[tokio::test(start_paused = true)]
async fn a_closure_classifies_a_foreign_error() {
    // 503: retried on the schedule.
    let (calls, inner) = flaky(503, 2);
    let service = layer().with_error_hint(classify).layer(inner);
    assert_eq!(service.oneshot(()).await.unwrap(), 200);
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    // 404: not retried, the error kept intact.
    let (calls, inner) = flaky(404, 5);
    let service = layer().with_error_hint(classify).layer(inner);
    let error = service.oneshot(()).await.unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        error,
        RetryError::Failed {
            error: ForeignError { status: 404 },
            attempts: 1,
            reason: GiveUpReason::ServerSaidDoNotRetry,
        }
    );

    // 429: retried no sooner than the hint says.
    let (calls, inner) = flaky(429, 1);
    let service = layer()
        .with_error_hint(|e: &ForeignError| classify(e))
        .layer(inner);
    let started = tokio::time::Instant::now();
    assert_eq!(service.oneshot(()).await.unwrap(), 200);
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_trait_object_classifies_a_foreign_error() {
    let hint: DynErrorHint<ForeignError> = DynErrorHint::new(classify);
    assert_eq!(
        hint.error_hint(&ForeignError { status: 400 }),
        Hint::DoNotRetry
    );
    let from_arc: DynErrorHint<ForeignError> =
        DynErrorHint::from(Arc::new(classify) as Arc<dyn Fn(&ForeignError) -> Hint + Send + Sync>);

    let (calls, inner) = flaky(500, 1);
    let service = layer().with_error_hint(hint.clone()).layer(inner);
    assert_eq!(service.oneshot(()).await.unwrap(), 200);
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    let (calls, inner) = flaky(401, 1);
    let service = layer().with_error_hint(from_arc).layer(inner);
    assert!(service.oneshot(()).await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn no_error_hint_retries_every_foreign_error() {
    let (calls, inner) = flaky(404, 10);
    let service = layer().with_error_hint(NoErrorHint).layer(inner);
    let error = service.oneshot(()).await.unwrap_err();
    assert_eq!(error.attempts(), 4);
    assert_eq!(error.reason(), Some(GiveUpReason::MaxAttempts));
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn the_error_hint_overrides_the_errors_own_retry_hint() {
    // `io::Error` implements `RetryHint` (no opinion); a classifier wins.
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let inner = service_fn(move |()| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Err::<(), _>(std::io::Error::other("refused")) }
    });
    let service = layer()
        .with_error_hint(|_: &std::io::Error| Hint::DoNotRetry)
        .layer(inner.clone());
    assert!(service.oneshot(()).await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Without one, the `RetryHint` path as before: retried.
    calls.store(0, Ordering::SeqCst);
    let service = layer().layer(inner);
    assert_eq!(service.oneshot(()).await.unwrap_err().attempts(), 4);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}
