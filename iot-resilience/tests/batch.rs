//! The batch layer: each flush trigger, outcomes routed to their callers,
//! the pending bound, cancellation, errors, shutdown, the tower contract
//! and the configuration.

mod batch_support;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use batch_support::{Sink, outcome};
use iot_resilience::batch::{
    Batch, BatchConfig, BatchError, BatchLayer, FlushReason, ResponseFuture, Worker,
};
use iot_resilience::{Hint, RetryHint};
use support::{poll_once, poll_ready_once};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt, service_fn};

type Handle = Batch<u32, u32, String>;
type Outcome = Result<u32, BatchError<String>>;

const HOUR: Duration = Duration::from_secs(3600);

fn config(max_items: usize, max_age: Duration) -> BatchConfig {
    BatchConfig::new(max_items, max_age)
}

/// What the caller of item `x` should get from [`Sink`].
fn expected(x: u32) -> Outcome {
    outcome(x).map_err(BatchError::Item)
}

async fn submit(svc: &mut Handle, x: u32) -> ResponseFuture<u32, String> {
    svc.ready().await.unwrap().call(x)
}

/// Queues every item of `xs` in order; the futures in the same order.
async fn submit_all<S: Service<u32>>(
    svc: &mut S,
    xs: impl IntoIterator<Item = u32>,
) -> Vec<S::Future>
where
    S::Error: std::fmt::Debug,
{
    let mut futures = Vec::new();
    for x in xs {
        futures.push(svc.ready().await.unwrap().call(x));
    }
    futures
}

/// Awaits `futures` and checks each against the sink's answer for `xs`.
async fn check_all(xs: impl IntoIterator<Item = u32>, futures: Vec<ResponseFuture<u32, String>>) {
    for (x, f) in xs.into_iter().zip(futures) {
        assert_eq!(f.await, expected(x), "item {x}");
    }
}

/// Lets the worker (and whatever it woke) run, without moving time.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn flushes_by_count() {
    let sink = Sink::new();
    let mut svc = BatchLayer::new(config(3, HOUR))
        .unwrap()
        .layer(sink.clone());
    let futures = submit_all(&mut svc, 1..=7).await;
    settle().await;
    assert_eq!(sink.batches(), [vec![1, 2, 3], vec![4, 5, 6]]);
    assert_eq!(svc.pending(), 1, "the 7th waits for more");
    // Dropping the last handle flushes it.
    drop(svc);
    check_all(1..=7, futures).await;
    assert_eq!(sink.batches().last().unwrap(), &vec![7]);
}

#[tokio::test(start_paused = true)]
async fn flushes_by_age_of_the_first_item() {
    let sink = Sink::new();
    let mut svc = BatchLayer::new(config(100, Duration::from_millis(10)))
        .unwrap()
        .layer(sink.clone());
    let t0 = Instant::now();
    let a = submit(&mut svc, 1).await;
    settle().await;
    tokio::time::sleep(Duration::from_millis(4)).await;
    let b = submit(&mut svc, 2).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(sink.batches().is_empty(), "flushed before its age");
    assert_eq!((a.await, b.await), (expected(1), expected(2)));
    let seen = sink.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].items, [1, 2]);
    // 10 ms after the first item, not after the second.
    assert_eq!(seen[0].at - t0, Duration::from_millis(10));

    // The next batch's age counts from its own first item.
    let t1 = Instant::now();
    let c = submit(&mut svc, 3).await;
    assert_eq!(c.await, expected(3));
    assert_eq!(sink.seen()[1].at - t1, Duration::from_millis(10));
}

#[tokio::test(start_paused = true)]
async fn flushes_by_weight() {
    let sink = Sink::new();
    let layer =
        BatchLayer::with_weigher(config(100, HOUR).max_bytes(10), |x: &u32| *x as usize).unwrap();
    let mut svc = layer.layer(sink.clone());
    // 3 + 20 > 10: 3 goes alone; 20 alone reaches the limit; 6 + 4 = 10
    // reaches it exactly; 4 + 4 + 4 > 10 cuts after two; the last 4 waits.
    let weights = [3, 20, 6, 4, 4, 4, 4];
    let futures = submit_all(&mut svc, weights).await;
    settle().await;
    assert_eq!(
        sink.batches(),
        [vec![3], vec![20], vec![6, 4], vec![4, 4]],
        "weights 3 | 20 | 10 | 8"
    );
    assert_eq!(svc.pending(), 1);
    drop(svc);
    check_all(weights, futures).await;
    assert_eq!(sink.batches().last().unwrap(), &vec![4]);
}

#[tokio::test]
async fn a_weight_limit_needs_a_weigher() {
    let err = BatchLayer::<u32>::new(config(10, HOUR).max_bytes(100)).unwrap_err();
    assert_eq!(err.field, "batch.max_bytes");
    assert!(err.message.contains("with_weigher"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn zero_age_flushes_what_is_queued() {
    let sink = Sink::new();
    let mut svc = BatchLayer::new(config(100, Duration::ZERO))
        .unwrap()
        .layer(sink.clone());
    // Five calls before the worker runs: one batch of five.
    let futures = submit_all(&mut svc, 1..=5).await;
    check_all(1..=5, futures).await;
    // One at a time: batches of one, at once.
    let t0 = Instant::now();
    assert_eq!(submit(&mut svc, 6).await.await, expected(6));
    assert_eq!(sink.batches(), [vec![1, 2, 3, 4, 5], vec![6]]);
    assert_eq!(Instant::now(), t0, "no timer tick waited for");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_reach_their_own_callers_under_concurrency() {
    let sink = Sink::new().with_delay(Duration::from_micros(200));
    let svc = BatchLayer::new(
        config(64, Duration::from_millis(1))
            .max_pending(256)
            .max_concurrent_batches(2),
    )
    .unwrap()
    .layer(sink.clone());
    let tasks: Vec<_> = (0..8u32)
        .map(|t| {
            let mut svc = svc.clone();
            tokio::spawn(async move {
                let ids: Vec<u32> = (0..250).map(|i| t * 1000 + i).collect();
                let futures = submit_all(&mut svc, ids.iter().copied()).await;
                let outcomes = futures_util::future::join_all(futures).await;
                for (id, got) in ids.into_iter().zip(outcomes) {
                    assert_eq!(got, expected(id), "item {id}");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mut all: Vec<u32> = sink.batches().concat();
    all.sort_unstable();
    let want: Vec<u32> = (0..8)
        .flat_map(|t| (0..250).map(move |i| t * 1000 + i))
        .collect();
    assert_eq!(all, want, "every item reached the sink exactly once");
    assert!(sink.sizes().iter().all(|&n| n <= 64));
    assert!(sink.max_in_flight() <= 2);
}

#[tokio::test(start_paused = true)]
async fn pending_items_never_exceed_max_pending() {
    let gate = Arc::new(Semaphore::new(0));
    let sink = Sink::new().with_gate(gate.clone());
    let svc = BatchLayer::new(config(5, Duration::from_millis(1)).max_pending(10))
        .unwrap()
        .layer(sink.clone());
    let accepted = Arc::new(AtomicUsize::new(0));
    let callers: Vec<_> = (0..50u32)
        .map(|x| {
            let (mut svc, accepted) = (svc.clone(), accepted.clone());
            tokio::spawn(async move {
                let future = submit(&mut svc, x).await;
                accepted.fetch_add(1, Ordering::SeqCst);
                (x, future.await)
            })
        })
        .collect();
    let check = || {
        let queued = accepted.load(Ordering::SeqCst) - sink.item_count();
        assert!(queued <= 10, "{queued} items accepted and not in the sink");
        assert!(svc.pending() <= 10, "pending {}", svc.pending());
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    check();
    // The first batch is stuck in the sink; ten more wait behind it.
    assert_eq!(sink.item_count(), 5);
    assert_eq!(svc.pending(), 10);
    let mut probe = svc.clone();
    assert!(
        poll_ready_once(&mut probe).is_pending(),
        "poll_ready must wait at the bound"
    );
    drop(probe);
    while sink.item_count() < 50 {
        gate.add_permits(1);
        tokio::time::sleep(Duration::from_millis(2)).await;
        check();
    }
    gate.add_permits(100);
    for c in callers {
        let (x, got) = c.await.unwrap();
        assert_eq!(got, expected(x));
    }
    assert_eq!(svc.pending(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_caller_keeps_its_item_and_breaks_nobody() {
    let sink = Sink::new();
    let mut svc = BatchLayer::new(config(3, HOUR))
        .unwrap()
        .layer(sink.clone());
    let a = submit(&mut svc, 1).await;
    drop(submit(&mut svc, 2).await);
    let c = submit(&mut svc, 3).await;
    assert_eq!((a.await, c.await), (expected(1), expected(3)));
    assert_eq!(sink.batches(), [vec![1, 2, 3]]);

    // Fire and forget: every future dropped at once, the handle too.
    let layer = BatchLayer::new(config(100, HOUR)).unwrap();
    let sink = Sink::new();
    let (mut svc, worker) = layer.pair(sink.clone());
    let worker = tokio::spawn(worker);
    for x in 10..20 {
        drop(submit(&mut svc, x).await);
    }
    drop(svc);
    worker.await.unwrap();
    assert_eq!(sink.batches(), [(10..20).collect::<Vec<_>>()]);
}

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_flushes_and_ends_the_worker() {
    let sink = Sink::new().with_delay(Duration::from_millis(3));
    let layer = BatchLayer::new(config(4, HOUR)).unwrap();
    let (mut svc, worker) = layer.pair(sink.clone());
    let worker = tokio::spawn(worker);
    let mut clone = svc.clone();
    let mut futures = submit_all(&mut svc, 1..=6).await;
    futures.push(submit(&mut clone, 8).await);
    drop(svc);
    settle().await;
    assert_eq!(sink.batches(), [vec![1, 2, 3, 4]], "a clone is still alive");
    drop(clone);
    worker.await.unwrap();
    assert_eq!(sink.batches(), [vec![1, 2, 3, 4], vec![5, 6, 8]]);
    check_all([1, 2, 3, 4, 5, 6, 8], futures).await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_batch_fails_its_callers_only() {
    let sink = service_fn(|rows: Vec<u32>| async move {
        if rows.contains(&99) {
            Err("connection lost".to_string())
        } else {
            Ok(rows.into_iter().map(outcome).collect())
        }
    });
    let mut svc = BatchLayer::new(config(2, HOUR)).unwrap().layer(sink);
    let a = submit(&mut svc, 1).await;
    let b = submit(&mut svc, 99).await;
    let c = submit(&mut svc, 14).await;
    let d = submit(&mut svc, 3).await;
    let (a, b) = (a.await.unwrap_err(), b.await.unwrap_err());
    let (BatchError::Batch(ea), BatchError::Batch(eb)) = (&a, &b) else {
        panic!("{a:?} {b:?}");
    };
    assert!(Arc::ptr_eq(ea, eb), "one error shared by the batch");
    assert_eq!(a.to_string(), "the batch failed: connection lost");
    assert_eq!(
        a.shared_error().map(String::as_str),
        Some("connection lost")
    );
    // The next batch is unaffected; 14 is rejected on its own.
    assert_eq!(c.await, Err(BatchError::Item("bad 14".into())));
    assert_eq!(d.await, Ok(30));
    // The worker goes on (4 is flushed by age, an hour later).
    assert_eq!(submit(&mut svc, 4).await.await, Ok(40));
}

#[tokio::test(start_paused = true)]
async fn batch_level_middleware_sits_between_the_layer_and_the_sink() {
    use iot_resilience::timeout::{TimeoutConfig, TimeoutError, TimeoutLayer};
    // A batch holding 5 hangs; the timeout fails that batch as a whole,
    // while items keep the sink's own error type.
    let sink = service_fn(|rows: Vec<u32>| async move {
        if rows.contains(&5) {
            tokio::time::sleep(HOUR).await;
        }
        Ok::<_, String>(rows.into_iter().map(outcome).collect())
    });
    let mut svc = tower::ServiceBuilder::new()
        .layer(BatchLayer::new(config(2, HOUR)).unwrap())
        .layer(TimeoutLayer::new(TimeoutConfig::new(Duration::from_secs(1))).unwrap())
        .service(sink);
    let mut futures = Vec::new();
    for x in [1, 5, 7, 8] {
        futures.push(svc.ready().await.unwrap().call(x));
    }
    let outcomes: Vec<Result<u32, BatchError<TimeoutError<String>, String>>> =
        futures_util::future::join_all(futures).await;
    let elapsed = TimeoutError::Elapsed {
        after: Duration::from_secs(1),
    };
    assert_eq!(
        outcomes,
        [
            Err(BatchError::Batch(Arc::new(elapsed.clone()))),
            Err(BatchError::Batch(Arc::new(elapsed))),
            Err(BatchError::Item("bad 7".to_string())),
            Ok(80),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_breaker_inside_counts_batches_and_rejects_them_whole() {
    use iot_resilience::circuit_breaker::{
        CircuitBreakerConfig, CircuitBreakerError, CircuitBreakerLayer, State,
    };
    let breaker = CircuitBreakerLayer::new(CircuitBreakerConfig::default()).unwrap();
    let handle = breaker.handle().clone();
    let mut svc = tower::ServiceBuilder::new()
        .layer(BatchLayer::new(config(2, HOUR)).unwrap())
        .layer(breaker)
        .service(Sink::new());
    // A rejected row is an `Ok` response for the breaker: one success.
    let futures = submit_all(&mut svc, [7, 8]).await;
    let outcomes = futures_util::future::join_all(futures).await;
    assert_eq!(outcomes[0], Err(BatchError::Item("bad 7".to_string())));
    let stats = handle.stats();
    assert_eq!(
        (stats.successful_calls, stats.failed_calls),
        (1, 0),
        "{stats:?}"
    );

    handle.transition_to_open();
    let futures = submit_all(&mut svc, [1, 2]).await;
    for err in futures_util::future::join_all(futures).await {
        let err = err.unwrap_err();
        let Some(CircuitBreakerError::Open { state, .. }) = err.shared_error() else {
            panic!("{err:?}");
        };
        assert_eq!(*state, State::Open);
        assert!(matches!(err.retry_hint(), Hint::RetryAfter(_)), "{err:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_wrong_number_of_outcomes_fails_the_batch() {
    let sink = service_fn(|rows: Vec<u32>| async move {
        Ok::<_, String>(rows.into_iter().skip(1).map(Ok::<u32, String>).collect())
    });
    let mut svc = BatchLayer::new(config(2, HOUR)).unwrap().layer(sink);
    let a = submit(&mut svc, 1).await;
    let b = submit(&mut svc, 2).await;
    let want = BatchError::Mismatch {
        items: 2,
        outcomes: 1,
    };
    assert_eq!((a.await, b.await), (Err(want.clone()), Err(want.clone())));
    assert_eq!(want.retry_hint(), Hint::DoNotRetry);
}

/// A sink whose `poll_ready` fails once `broken` is set.
#[derive(Clone)]
struct Breakable {
    sink: Sink,
    broken: Arc<AtomicBool>,
}

impl Service<Vec<u32>> for Breakable {
    type Response = Vec<Result<u32, String>>;
    type Error = String;
    type Future = <Sink as Service<Vec<u32>>>::Future;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), String>> {
        if self.broken.load(Ordering::SeqCst) {
            Poll::Ready(Err("sink closed".into()))
        } else {
            Poll::Ready(Ok(()))
        }
    }

    fn call(&mut self, items: Vec<u32>) -> Self::Future {
        self.sink.call(items)
    }
}

#[tokio::test(start_paused = true)]
async fn a_readiness_failure_stops_the_worker_but_not_batches_in_flight() {
    let gate = Arc::new(Semaphore::new(0));
    let inner = Breakable {
        sink: Sink::new().with_gate(gate.clone()),
        broken: Arc::default(),
    };
    let layer = BatchLayer::new(config(2, HOUR).max_concurrent_batches(2)).unwrap();
    let (mut svc, worker) = layer.pair(inner.clone());
    let worker = tokio::spawn(worker);
    let first = [submit(&mut svc, 1).await, submit(&mut svc, 2).await];
    settle().await;
    assert_eq!(inner.sink.batches(), [vec![1, 2]], "in flight, gated");

    inner.broken.store(true, Ordering::SeqCst);
    let failed = [submit(&mut svc, 3).await, submit(&mut svc, 4).await];
    for f in failed {
        let err = f.await.unwrap_err();
        assert_eq!(err, BatchError::Failed(Arc::new("sink closed".into())));
        assert!(err.is_closed());
    }
    let err = svc.ready().await.unwrap_err();
    assert!(
        matches!(&err, BatchError::Failed(e) if **e == "sink closed"),
        "{err:?}"
    );
    assert!(svc.is_closed());
    assert_eq!(svc.pending(), 0);

    gate.add_permits(1);
    for (x, f) in [1, 2].into_iter().zip(first) {
        assert_eq!(f.await, expected(x), "the batch in flight completes");
    }
    drop(svc);
    worker.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_panicking_worker_closes_the_service() {
    let sink = service_fn(|rows: Vec<u32>| async move {
        assert!(!rows.contains(&13), "the sink panics on 13");
        Ok::<_, String>(rows.into_iter().map(Ok::<u32, String>).collect())
    });
    let mut svc = BatchLayer::new(config(1, HOUR)).unwrap().layer(sink);
    assert_eq!(submit(&mut svc, 1).await.await, Ok(1));
    assert_eq!(submit(&mut svc, 13).await.await, Err(BatchError::Closed));
    settle().await;
    assert_eq!(svc.ready().await.unwrap_err(), BatchError::Closed);
    assert!(svc.is_closed());
}

#[tokio::test(start_paused = true)]
async fn a_dropped_worker_closes_the_service() {
    let layer = BatchLayer::new(config(10, HOUR)).unwrap();
    let (mut svc, worker) = layer.pair(Sink::new());
    let queued = submit(&mut svc, 1).await;
    let mut waiting = svc.clone();
    drop(worker);
    assert_eq!(queued.await, Err(BatchError::Closed));
    assert_eq!(waiting.ready().await.unwrap_err(), BatchError::Closed);
    assert_eq!(svc.pending(), 0);
}

#[tokio::test(start_paused = true)]
async fn tower_contract() {
    let sink = Sink::new();
    let layer = BatchLayer::new(config(1, HOUR).max_pending(1)).unwrap();
    let mut svc = layer.layer(sink.clone());

    // `call` without `poll_ready`: NotReady, nothing queued.
    let err = svc.clone().call(1).await.unwrap_err();
    assert_eq!(err, BatchError::NotReady);
    assert_eq!(err.retry_hint(), Hint::DoNotRetry);
    assert_eq!(svc.pending(), 0);

    // A ready handle holds the only place; another waits, and its `call`
    // after `Pending` is NotReady too.
    let (mut a, mut b) = (svc.clone(), svc.clone());
    a.ready().await.unwrap();
    assert!(poll_ready_once(&mut b).is_pending(), "a holds the place");
    let refused = poll_once(b.call(2));
    assert!(matches!(refused, Poll::Ready(Err(BatchError::NotReady))));
    // Dropped unused, `a` gives its place back.
    drop(a);
    assert!(matches!(poll_ready_once(&mut b), Poll::Ready(Ok(()))));
    assert_eq!(b.call(3).await, Ok(30));
    settle().await;
    assert_eq!(sink.batches(), [vec![3]], "nothing else reached the sink");

    // Readiness is idempotent: polling twice holds one place.
    svc.ready().await.unwrap();
    assert!(matches!(poll_ready_once(&mut svc), Poll::Ready(Ok(()))));
    assert_eq!(svc.call(4).await, Ok(40));
}

#[tokio::test(start_paused = true)]
async fn the_worker_calls_the_inner_service_only_when_ready() {
    // tower's `ConcurrencyLimit` panics when called without a permit; the
    // worker may run four batches at once, the limit admits one.
    let sink = Sink::new().with_delay(Duration::from_millis(3));
    let inner = tower::limit::ConcurrencyLimit::new(sink.clone(), 1);
    let mut svc = BatchLayer::new(config(2, HOUR).max_concurrent_batches(4))
        .unwrap()
        .layer(inner);
    let futures = submit_all(&mut svc, 1..=10).await;
    check_all(1..=10, futures).await;
    assert_eq!(sink.max_in_flight(), 1);
    assert_eq!(sink.sizes(), [2, 2, 2, 2, 2]);
}

#[tokio::test(start_paused = true)]
async fn one_batch_at_a_time_keeps_order() {
    let sink = Sink::new().with_delay(Duration::from_millis(2));
    let mut svc = BatchLayer::new(config(8, Duration::from_millis(1)))
        .unwrap()
        .layer(sink.clone());
    let mut futures = Vec::new();
    for x in 0..100 {
        futures.push(submit(&mut svc, x).await);
        if x % 13 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    check_all(0..100, futures).await;
    assert_eq!(sink.max_in_flight(), 1);
    assert_eq!(sink.batches().concat(), (0..100).collect::<Vec<_>>());

    // With three slots, batches overlap, up to three.
    let sink = Sink::new().with_delay(Duration::from_millis(2));
    let mut svc = BatchLayer::new(config(8, HOUR).max_concurrent_batches(3))
        .unwrap()
        .layer(sink.clone());
    let futures = submit_all(&mut svc, 0..100).await;
    check_all(0..100, futures).await;
    assert_eq!(sink.max_in_flight(), 3);
}

#[test]
fn configuration() {
    let d = BatchConfig::default();
    assert_eq!(
        (d.name.as_ref(), d.max_items, d.max_bytes, d.max_age),
        ("batch", 100, None, Duration::from_millis(10))
    );
    assert_eq!((d.max_concurrent_batches, d.max_pending), (1, 1_000));
    d.validate().unwrap();
    assert_eq!(BatchConfig::new(500, HOUR).max_pending, 5_000);

    for (config, field) in [
        (BatchConfig::default().name(""), "batch.name"),
        (BatchConfig::default().max_items(0), "batch.max_items"),
        (BatchConfig::default().max_bytes(0), "batch.max_bytes"),
        (
            BatchConfig::default().max_concurrent_batches(0),
            "batch.max_concurrent_batches",
        ),
        (
            BatchConfig::default().max_concurrent_batches(65),
            "batch.max_concurrent_batches",
        ),
        (
            BatchConfig::default().max_items(10).max_pending(9),
            "batch.max_pending",
        ),
        (
            BatchConfig::default().max_pending(usize::MAX),
            "batch.max_pending",
        ),
    ] {
        assert_eq!(config.validate().unwrap_err().field, field, "{config:?}");
        assert!(BatchLayer::<u32>::new(config).is_err());
    }
    // An age beyond the clock's range means "never by age".
    BatchLayer::<u32>::new(BatchConfig::default().max_age(Duration::MAX)).unwrap();
    assert_eq!(FlushReason::Bytes.to_string(), "bytes");
}

#[cfg(feature = "serde")]
#[test]
fn configuration_files() {
    let config: BatchConfig = toml::from_str(
        r#"
            name = "db"
            max_items = 500
            max_bytes = 1048576
            max_age = "20ms"
        "#,
    )
    .unwrap();
    assert_eq!(
        config,
        BatchConfig::new(500, Duration::from_millis(20))
            .name("db")
            .max_bytes(1 << 20)
            .max_pending(1_000)
    );
    let json = serde_json::to_value(&config).unwrap();
    assert_eq!(json["max_age"], "20ms");
    assert_eq!(serde_json::from_value::<BatchConfig>(json).unwrap(), config);
    assert!(toml::from_str::<BatchConfig>("max_itmes = 5").is_err());
}

#[test]
fn handles_and_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Handle>();
    send_sync::<ResponseFuture<u32, String>>();
    send_sync::<BatchError<String>>();
    fn send<T: Send>() {}
    send::<Worker<Sink, u32, u32, String, iot_resilience::batch::Unweighed>>();
}
