//! The breaker as a tower service: readiness contract, shared state across
//! clones, permits released on drop, paused-time behaviour.

use std::future::{Future, pending};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::task::noop_waker_ref;
use iot_resilience::circuit_breaker::{
    CircuitBreaker, CircuitBreakerConfig, CircuitBreakerError, CircuitBreakerLayer, Outcome,
    SlidingWindow, State,
};
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};

type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;

fn config() -> CircuitBreakerConfig {
    CircuitBreakerConfig::default()
        .name("svc")
        .sliding_window(SlidingWindow::count(4))
        .minimum_number_of_calls(4)
        .permitted_calls_in_half_open(1)
        .wait_duration_in_open(Duration::from_secs(30))
}

/// Fails when the request is `true`; counts calls.
fn backend(
    calls: Arc<AtomicUsize>,
) -> impl Service<
    bool,
    Response = &'static str,
    Error = &'static str,
    Future = Boxed<Result<&'static str, &'static str>>,
> + Clone {
    service_fn(move |fail: bool| {
        calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move { if fail { Err("boom") } else { Ok("ok") } }) as Boxed<_>
    })
}

fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(noop_waker_ref()))
}

#[tokio::test(start_paused = true)]
async fn trips_and_rejects_without_calling_inner() {
    let calls = Arc::new(AtomicUsize::new(0));
    let layer = CircuitBreakerLayer::new(config()).unwrap();
    let handle = layer.handle().clone();
    let mut svc = layer.layer(backend(calls.clone()));
    for _ in 0..4 {
        let r = svc.ready().await.unwrap().call(true).await;
        assert!(matches!(r, Err(CircuitBreakerError::Inner("boom"))));
    }
    assert_eq!(handle.state(), State::Open);
    let r = svc.ready().await.unwrap().call(false).await;
    match r {
        Err(CircuitBreakerError::Open {
            state: State::Open,
            retry_after,
        }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(30)));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        4,
        "the rejected call never reached the backend"
    );

    // Paused tokio time drives the lazy open -> half-open move.
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(svc.ready().await.unwrap().call(false).await, Ok("ok"));
    assert_eq!(handle.state(), State::Closed);
}

#[tokio::test]
async fn clones_and_layer_share_one_breaker() {
    let calls = Arc::new(AtomicUsize::new(0));
    let layer = CircuitBreakerLayer::new(config()).unwrap();
    let a = layer.layer(backend(calls.clone()));
    let b = a.clone();
    let c = layer.layer(backend(calls.clone()));
    assert!(a.handle().same_breaker(b.handle()));
    assert!(a.handle().same_breaker(c.handle()));
    assert!(a.handle().same_breaker(layer.handle()));
    for _ in 0..4 {
        let _ = a.clone().oneshot(true).await;
    }
    assert_eq!(c.handle().stats().failed_calls, 4);
    assert!(matches!(
        b.oneshot(false).await,
        Err(CircuitBreakerError::Open { .. })
    ));
    assert!(matches!(
        c.oneshot(false).await,
        Err(CircuitBreakerError::Open { .. })
    ));
    assert_eq!(layer.handle().stats().not_permitted_calls, 2);
}

#[tokio::test]
async fn call_without_poll_ready_is_not_ready() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut svc = CircuitBreakerLayer::new(config())
        .unwrap()
        .layer(backend(calls.clone()));
    assert!(matches!(
        svc.call(false).await,
        Err(CircuitBreakerError::NotReady)
    ));
    // Readiness is not cloned, and is used up by one call.
    svc.ready().await.unwrap();
    let mut clone = svc.clone();
    assert!(matches!(
        clone.call(false).await,
        Err(CircuitBreakerError::NotReady)
    ));
    assert_eq!(svc.call(false).await, Ok("ok"));
    assert!(matches!(
        svc.call(false).await,
        Err(CircuitBreakerError::NotReady)
    ));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn rejection_is_not_a_poll_ready_error() {
    let calls = Arc::new(AtomicUsize::new(0));
    let layer = CircuitBreakerLayer::new(config()).unwrap();
    layer.handle().force_open();
    let mut svc = layer.layer(backend(calls.clone()));
    // Ready at once (fail fast), and the call carries the rejection.
    assert!(matches!(
        poll_once(&mut std::pin::pin!(svc.ready())),
        Poll::Ready(Ok(_))
    ));
    match svc.call(false).await {
        Err(CircuitBreakerError::Open {
            state: State::ForcedOpen,
            retry_after: None,
        }) => {}
        other => panic!("{other:?}"),
    }
    // Re-checked on the next poll_ready: closing the breaker admits again.
    layer.handle().close();
    assert_eq!(svc.ready().await.unwrap().call(false).await, Ok("ok"));
}

#[tokio::test]
async fn dropping_a_ready_service_returns_its_probe_permit() {
    let layer = CircuitBreakerLayer::new(config()).unwrap();
    let handle = layer.handle().clone();
    handle.transition_to_half_open();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut holder = layer.layer(backend(calls.clone()));
    holder.ready().await.unwrap();
    let mut other = layer.layer(backend(calls.clone()));
    assert!(matches!(
        other.ready().await.unwrap().call(false).await,
        Err(CircuitBreakerError::Open {
            state: State::HalfOpen,
            ..
        })
    ));
    drop(holder);
    assert_eq!(other.ready().await.unwrap().call(false).await, Ok("ok"));
    assert_eq!(handle.state(), State::Closed);
}

#[tokio::test]
async fn dropped_probe_future_returns_permit_and_counts_nothing() {
    let layer = CircuitBreakerLayer::new(config()).unwrap();
    let handle = layer.handle().clone();
    handle.transition_to_half_open();
    let hang = service_fn(|_: ()| async {
        pending::<()>().await;
        Ok::<(), &'static str>(())
    });
    let mut svc = layer.layer(hang);
    let mut fut = Box::pin(svc.ready().await.unwrap().call(()));
    assert!(poll_once(&mut fut).is_pending());
    assert!(handle.try_acquire().is_err(), "the probe is in flight");
    drop(fut);
    let s = handle.stats();
    assert_eq!((s.state, s.buffered_calls), (State::HalfOpen, 0));
    handle.try_acquire().expect("permit given back").success();
    assert_eq!(handle.state(), State::Closed);
}

#[tokio::test]
async fn inner_poll_ready_error_releases_the_permit() {
    #[derive(Clone)]
    struct Broken;
    impl Service<()> for Broken {
        type Response = ();
        type Error = &'static str;
        type Future = std::future::Ready<Result<(), &'static str>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Err("down"))
        }
        fn call(&mut self, _: ()) -> Self::Future {
            std::future::ready(Ok(()))
        }
    }
    let layer = CircuitBreakerLayer::new(config()).unwrap();
    layer.handle().transition_to_half_open();
    let mut svc = layer.layer(Broken);
    assert!(matches!(
        svc.ready().await,
        Err(CircuitBreakerError::Inner("down"))
    ));
    assert!(
        layer.handle().try_acquire().is_ok(),
        "the probe permit was released"
    );
    assert!(matches!(
        svc.call(()).await,
        Err(CircuitBreakerError::NotReady)
    ));
}

#[tokio::test(start_paused = true)]
async fn slow_calls_measured_with_paused_time() {
    let layer = CircuitBreakerLayer::new(
        config()
            .sliding_window(SlidingWindow::count(2))
            .minimum_number_of_calls(2)
            .slow_call_duration_threshold(Duration::from_millis(500)),
    )
    .unwrap();
    let handle = layer.handle().clone();
    let svc = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(|ms: u64| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok::<_, &'static str>(ms)
        }));
    svc.clone().oneshot(501).await.unwrap();
    svc.clone().oneshot(500).await.unwrap();
    let s = handle.stats();
    assert_eq!(
        (s.state, s.slow_calls, s.slow_call_rate),
        (State::Closed, 1, Some(50.0))
    );
    svc.clone().oneshot(1000).await.unwrap();
    assert_eq!(handle.state(), State::Closed, "500 + 1000: 1 of 2 slow");
    svc.clone().oneshot(2000).await.unwrap();
    assert_eq!(handle.state(), State::Open, "2 of 2 slow = 100%");
}

#[tokio::test]
async fn classifier_closure_decides_outcomes() {
    let layer = CircuitBreakerLayer::new(
        config()
            .sliding_window(SlidingWindow::count(2))
            .minimum_number_of_calls(2),
    )
    .unwrap()
    .classifier(|r: &Result<u16, &'static str>| match r {
        Ok(code) if *code >= 500 => Outcome::Failure,
        Ok(code) if *code >= 400 => Outcome::Ignored,
        Ok(_) => Outcome::Success,
        Err(_) => Outcome::Failure,
    });
    let handle = layer.handle().clone();
    let svc: CircuitBreaker<_, _> = layer.layer(service_fn(|code: u16| async move {
        Ok::<_, &'static str>(code)
    }));
    for code in [404, 404, 200, 404] {
        assert_eq!(svc.clone().oneshot(code).await.unwrap(), code);
    }
    assert_eq!(handle.stats().buffered_calls, 1);
    svc.clone().oneshot(503).await.unwrap();
    assert_eq!(handle.state(), State::Open);
}

#[tokio::test]
async fn disabled_breaker_passes_everything() {
    let calls = Arc::new(AtomicUsize::new(0));
    let layer = CircuitBreakerLayer::new(config()).unwrap();
    layer.handle().disable();
    let svc = layer.layer(backend(calls.clone()));
    for _ in 0..20 {
        assert!(matches!(
            svc.clone().oneshot(true).await,
            Err(CircuitBreakerError::Inner("boom"))
        ));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 20);
    assert_eq!(layer.handle().stats().buffered_calls, 0);
}

#[test]
fn types_are_send_and_sync() {
    use iot_resilience::circuit_breaker::{
        CircuitBreakerHandle, DefaultClassifier, KeyedCircuitBreaker, ResponseFuture,
    };
    fn check<T: Send + Sync>() {}
    check::<CircuitBreakerHandle>();
    check::<KeyedCircuitBreaker<String>>();
    check::<ResponseFuture<std::future::Ready<Result<u8, ()>>, DefaultClassifier>>();
    check::<CircuitBreaker<tower::util::BoxCloneSyncService<u8, u8, ()>, DefaultClassifier>>();
    check::<CircuitBreakerError<std::io::Error>>();
}

#[tokio::test]
async fn leaked_breaker_behaves_the_same() {
    let calls = Arc::new(AtomicUsize::new(0));
    let layer = CircuitBreakerLayer::new(config()).unwrap();
    let counted = layer.handle().clone();
    let layer = layer.leak();
    assert!(layer.handle().same_breaker(&counted));
    assert!(
        layer.handle().clone().leak().same_breaker(&counted),
        "leaking twice is a no-op"
    );
    let svc = layer.layer(backend(calls.clone()));
    for _ in 0..4 {
        let _ = svc.clone().oneshot(true).await;
    }
    assert_eq!(counted.state(), State::Open);
    assert!(matches!(
        svc.oneshot(false).await,
        Err(CircuitBreakerError::Open { .. })
    ));
}
