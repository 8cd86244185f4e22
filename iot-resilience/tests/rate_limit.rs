//! Rate limit layer and bare limiter: exact GCRA arithmetic, weighted
//! costs, wait mode, readiness contract, sharing and concurrency.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use iot_resilience::rate_limit::{
    CheckError, RateLimitConfig, RateLimitError, RateLimitLayer, RateLimitMode, RateLimiter,
};
use iot_resilience::{Hint, ManualClock, RetryHint};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt, service_fn};

const MS: Duration = Duration::from_millis(1);

/// An always-ready service counting its calls.
fn counting() -> (
    Arc<AtomicUsize>,
    impl Service<u32, Response = u32, Error = &'static str, Future: Send> + Clone + Send,
) {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let svc = service_fn(move |x: u32| {
        c.fetch_add(1, Ordering::SeqCst);
        async move { Ok::<_, &'static str>(x) }
    });
    (calls, svc)
}

fn ten_per_second(burst: u32) -> RateLimitConfig {
    RateLimitConfig::per(10, Duration::from_secs(1)).burst(burst)
}

fn retry_after(e: CheckError) -> Duration {
    e.retry_after().expect("a NotUntil rejection")
}

#[test]
fn burst_then_steady_rate_with_exact_retry_after() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::with_clock(ten_per_second(5), clock.clone()).unwrap();
    assert_eq!(limiter.interval(), 100 * MS);
    assert_eq!(limiter.available(), 5);
    for _ in 0..5 {
        limiter.check(1).unwrap();
    }
    assert_eq!(limiter.available(), 0);
    let denied = limiter.check(1).unwrap_err();
    assert_eq!(retry_after(denied), 100 * MS);
    if let CheckError::NotUntil(n) = denied {
        assert_eq!(n.earliest_possible(), clock_now(&clock) + 100 * MS);
    }
    clock.advance(99 * MS);
    assert_eq!(retry_after(limiter.check(1).unwrap_err()), MS);
    clock.advance(MS);
    limiter.check(1).unwrap();
    assert_eq!(retry_after(limiter.check(1).unwrap_err()), 100 * MS);
    // Steady state: exactly one per interval.
    for _ in 0..20 {
        clock.advance(100 * MS);
        limiter.check(1).unwrap();
        assert!(limiter.check(1).is_err());
    }
    // After a long idle period the bucket is full again, but not more.
    clock.advance(Duration::from_secs(60));
    assert_eq!(limiter.available(), 5);
    for _ in 0..5 {
        limiter.check(1).unwrap();
    }
    assert!(limiter.check(1).is_err());
}

fn clock_now(clock: &ManualClock) -> std::time::Instant {
    iot_resilience::Clock::now(clock)
}

#[test]
fn weighted_costs_on_the_bare_limiter() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::with_clock(ten_per_second(5), clock.clone()).unwrap();
    limiter.check(3).unwrap();
    // 2 left; 3 more need one interval.
    assert_eq!(retry_after(limiter.check(3).unwrap_err()), 100 * MS);
    limiter.check(2).unwrap();
    assert_eq!(retry_after(limiter.check(5).unwrap_err()), 500 * MS);
    assert_eq!(
        limiter.check(6),
        Err(CheckError::InsufficientCapacity { cost: 6, burst: 5 })
    );
    assert_eq!(limiter.check(6).unwrap_err().retry_after(), None);
    // Free requests always pass and take nothing.
    limiter.check(0).unwrap();
    clock.advance(500 * MS);
    limiter.check(5).unwrap();
}

#[test]
fn reservations_queue_in_order() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::with_clock(ten_per_second(1), clock).unwrap();
    assert_eq!(limiter.reserve(1, Duration::ZERO), Ok(Duration::ZERO));
    assert_eq!(limiter.reserve(1, 250 * MS), Ok(100 * MS));
    assert_eq!(limiter.reserve(1, 250 * MS), Ok(200 * MS));
    // The fourth would wait 300 ms: refused, and nothing is taken.
    assert_eq!(
        retry_after(limiter.reserve(1, 250 * MS).unwrap_err()),
        300 * MS
    );
    assert_eq!(limiter.time_until(1), Ok(300 * MS));
}

#[tokio::test(start_paused = true)]
async fn reject_mode_rejects_from_call_with_retry_after() {
    let (calls, inner) = counting();
    let layer = RateLimitLayer::new(ten_per_second(2)).unwrap();
    let mut svc = layer.layer(inner);
    assert_eq!(svc.ready().await.unwrap().call(1).await.unwrap(), 1);
    assert_eq!(svc.ready().await.unwrap().call(2).await.unwrap(), 2);
    // poll_ready succeeds; the rejection comes from call.
    let err = svc.ready().await.unwrap().call(3).await.unwrap_err();
    assert_eq!(
        err,
        RateLimitError::Rejected {
            retry_after: 100 * MS
        }
    );
    assert_eq!(err.retry_hint(), Hint::RetryAfter(100 * MS));
    assert!(err.is_rejected());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // Polling again after the interval takes the new permit.
    tokio::time::advance(100 * MS).await;
    assert_eq!(svc.ready().await.unwrap().call(4).await.unwrap(), 4);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn rejected_readiness_is_rechecked_on_the_next_poll() {
    let (_, inner) = counting();
    let layer = RateLimitLayer::new(ten_per_second(1)).unwrap();
    let mut svc = layer.layer(inner);
    svc.ready().await.unwrap().call(0).await.unwrap();
    // Ready, but holding a rejection...
    svc.ready().await.unwrap();
    tokio::time::advance(100 * MS).await;
    // ...which a fresh poll replaces with the permit now due.
    assert_eq!(svc.ready().await.unwrap().call(1).await.unwrap(), 1);
}

#[tokio::test(start_paused = true)]
async fn weighted_costs_are_checked_in_call() {
    let (calls, inner) = counting();
    let layer = RateLimitLayer::new(ten_per_second(5))
        .unwrap()
        .with_cost(|x: &u32| *x);
    let mut svc = layer.layer(inner);
    svc.ready().await.unwrap().call(3).await.unwrap();
    let err = svc.ready().await.unwrap().call(3).await.unwrap_err();
    assert_eq!(
        err,
        RateLimitError::Rejected {
            retry_after: 100 * MS
        }
    );
    let err = svc.ready().await.unwrap().call(6).await.unwrap_err();
    assert_eq!(
        err,
        RateLimitError::InsufficientCapacity { cost: 6, burst: 5 }
    );
    assert_eq!(err.retry_hint(), Hint::DoNotRetry);
    svc.ready().await.unwrap().call(2).await.unwrap();
    svc.ready().await.unwrap().call(0).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(svc.limiter().available(), 0);
}

#[tokio::test(start_paused = true)]
async fn wait_mode_waits_exactly_until_each_permit() {
    let (calls, inner) = counting();
    let config = ten_per_second(1).wait(Duration::from_secs(1));
    assert_eq!(config.mode, RateLimitMode::Wait);
    let layer = RateLimitLayer::new(config).unwrap();
    let svc = layer.layer(inner);
    let start = Instant::now();
    // Four clones at once: permits at 0, 100, 200 and 300 ms, in
    // reservation order.
    let done = join_all((0..4).map(|i| {
        let svc = svc.clone();
        async move {
            let out = svc.oneshot(i).await.unwrap();
            (out, Instant::now() - start)
        }
    }))
    .await;
    assert_eq!(
        done,
        vec![
            (0, Duration::ZERO),
            (1, 100 * MS),
            (2, 200 * MS),
            (3, 300 * MS)
        ]
    );
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn wait_mode_rejects_beyond_max_wait() {
    let (calls, inner) = counting();
    let config = RateLimitConfig::per(1, Duration::from_secs(1)).wait(500 * MS);
    let mut svc = RateLimitLayer::new(config).unwrap().layer(inner);
    let start = Instant::now();
    svc.ready().await.unwrap().call(0).await.unwrap();
    let err = svc.ready().await.unwrap().call(1).await.unwrap_err();
    assert_eq!(
        err,
        RateLimitError::Rejected {
            retry_after: Duration::from_secs(1)
        }
    );
    // Rejected at once, without waiting.
    assert_eq!(Instant::now(), start);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Half a second later the wait fits in max_wait.
    tokio::time::advance(500 * MS).await;
    svc.ready().await.unwrap().call(2).await.unwrap();
    assert_eq!(Instant::now() - start, Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn weighted_wait_mode_waits_for_a_permit_then_checks_the_cost() {
    let (calls, inner) = counting();
    let config = ten_per_second(3).wait(Duration::from_secs(1));
    let layer = RateLimitLayer::new(config).unwrap().with_cost(|x: &u32| *x);
    let mut svc = layer.layer(inner);
    let start = Instant::now();
    svc.ready().await.unwrap().call(3).await.unwrap();
    // Exhausted: poll_ready waits until one permit is back...
    svc.ready().await.unwrap();
    assert_eq!(Instant::now() - start, 100 * MS);
    // ...but a cost of 2 still does not fit and is rejected by call.
    let err = svc.call(2).await.unwrap_err();
    assert_eq!(
        err,
        RateLimitError::Rejected {
            retry_after: 100 * MS
        }
    );
    svc.ready().await.unwrap().call(1).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn call_without_readiness_is_not_ready() {
    let (calls, inner) = counting();
    let layer = RateLimitLayer::new(ten_per_second(5)).unwrap();
    let mut svc = layer.layer(inner.clone());
    assert_eq!(svc.call(1).await.unwrap_err(), RateLimitError::NotReady);
    assert_eq!(
        RateLimitError::<&str>::NotReady.retry_hint(),
        Hint::DoNotRetry
    );
    // Readiness is consumed by one call.
    svc.ready().await.unwrap().call(1).await.unwrap();
    assert_eq!(svc.call(2).await.unwrap_err(), RateLimitError::NotReady);
    // Same for weighted costs.
    let mut weighted = layer.with_cost(|x: &u32| *x).layer(inner);
    assert_eq!(
        weighted.call(1).await.unwrap_err(),
        RateLimitError::NotReady
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // A clone of a ready service is not ready.
    svc.ready().await.unwrap();
    let mut clone = svc.clone();
    assert_eq!(clone.call(3).await.unwrap_err(), RateLimitError::NotReady);
}

#[tokio::test(start_paused = true)]
async fn clones_share_one_limiter() {
    let (calls, inner) = counting();
    let layer = RateLimitLayer::new(ten_per_second(3)).unwrap();
    let a = layer.layer(inner.clone());
    let b = a.clone();
    let c = layer.layer(inner); // another service from the same layer
    let mut ok = 0;
    for (i, svc) in [a, b, c].into_iter().cycle().take(9).enumerate() {
        if svc.oneshot(i as u32).await.is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 3);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn permit_of_a_ready_service_dropped_unused_is_returned() {
    let (_, inner) = counting();
    let layer = RateLimitLayer::new(ten_per_second(1)).unwrap();
    let mut svc = layer.layer(inner);
    svc.ready().await.unwrap();
    assert_eq!(layer.limiter().available(), 0);
    drop(svc);
    assert_eq!(layer.limiter().available(), 1);
    // A used permit is not returned.
    let mut svc = layer.layer(counting().1);
    svc.ready().await.unwrap().call(1).await.unwrap();
    drop(svc);
    assert_eq!(layer.limiter().available(), 0);
}

#[tokio::test(start_paused = true)]
async fn reservation_of_a_service_dropped_while_waiting_is_returned() {
    let (_, inner) = counting();
    let config = ten_per_second(1).wait(Duration::from_secs(1));
    let layer = RateLimitLayer::new(config).unwrap();
    let mut svc = layer.layer(inner);
    svc.ready().await.unwrap().call(0).await.unwrap();
    // Start waiting (reserves the permit due in 100 ms), then give up.
    let pending = tokio::time::timeout(10 * MS, svc.ready()).await;
    assert!(pending.is_err());
    assert_eq!(layer.limiter().time_until(1), Ok(190 * MS));
    drop(svc);
    assert_eq!(layer.limiter().time_until(1), Ok(90 * MS));
}

/// Issue #17: a ready service dropped after its permit's slot refilled
/// gave its permit back on top of permits taken since, so burst 2 let 3
/// calls through at one instant.
#[tokio::test(start_paused = true)]
async fn a_stale_permit_dropped_after_the_bucket_refilled_is_not_given_back_twice() {
    let clock = ManualClock::new();
    let config = RateLimitConfig::per(1000, Duration::from_secs(1)).burst(2);
    let layer = RateLimitLayer::with_clock(config, clock.clone()).unwrap();
    let (calls, inner) = counting();
    let svc = layer.layer(inner);
    let mut stale = svc.clone();
    stale.ready().await.unwrap();
    // Long enough for the bucket to be full again.
    clock.advance(10 * MS);
    let mut admitted = 0;
    let try_call = || {
        let mut svc = svc.clone();
        async move { svc.ready().await.unwrap().call(1).await.is_ok() }
    };
    while try_call().await {
        admitted += 1;
    }
    assert_eq!(admitted, 2, "a full bucket of burst 2");
    drop(stale);
    assert!(!try_call().await, "the stale permit is not a third one");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// Ready services dropped unused give their permits back when that is
/// exact (every take after theirs was given back too), in either order,
/// and none is given back twice.
#[tokio::test(start_paused = true)]
async fn permits_of_ready_clones_dropped_in_any_order_never_exceed_the_burst() {
    let clock = ManualClock::new();
    let config = RateLimitConfig::per(1000, Duration::from_secs(1)).burst(3);
    let layer = RateLimitLayer::with_clock(config, clock.clone()).unwrap();
    let svc = layer.layer(counting().1);
    let ready = |n: usize| {
        let svc = svc.clone();
        async move {
            let mut out = Vec::new();
            for _ in 0..n {
                let mut s = svc.clone();
                s.ready().await.unwrap();
                out.push(s);
            }
            out
        }
    };
    // Last taken, first dropped: all three come back.
    let mut held = ready(3).await;
    assert_eq!(layer.limiter().available(), 0);
    while let Some(s) = held.pop() {
        drop(s);
    }
    assert_eq!(layer.limiter().available(), 3);
    // First taken, first dropped: only what is on top comes back (the
    // first two drops find later takes above theirs and keep their
    // permits spent), never more than the burst.
    let held = ready(3).await;
    drop(held);
    assert_eq!(layer.limiter().available(), 1);
    clock.advance(2 * MS);
    assert_eq!(layer.limiter().available(), 3);
}

#[tokio::test(start_paused = true)]
async fn inner_readiness_errors_pass_through_and_return_the_permit() {
    let layer = RateLimitLayer::new(ten_per_second(1)).unwrap();
    let failing = tower::service_fn(|_: u32| async { Ok::<u32, &'static str>(0) });
    let mut svc = layer.layer(FailReady(failing));
    let Err(err) = svc.ready().await else {
        panic!("the inner readiness error must pass through");
    };
    assert_eq!(err, RateLimitError::Inner("broken"));
    assert_eq!(err.clone().into_inner(), Some("broken"));
    assert_eq!(layer.limiter().available(), 1);
}

struct FailReady<S>(S);

impl<S: Service<u32, Error = &'static str>> Service<u32> for FailReady<S> {
    type Response = S::Response;
    type Error = &'static str;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Err("broken"))
    }

    fn call(&mut self, req: u32) -> Self::Future {
        self.0.call(req)
    }
}

#[test]
fn concurrent_checks_admit_exactly_the_burst() {
    const TASKS: usize = 8;
    const CHECKS: usize = 5_000;
    const BURST: u32 = 1_000;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    // A frozen clock: nothing is replenished, so exactly the burst passes.
    let clock = ManualClock::new();
    let config = RateLimitConfig::per(1, Duration::from_secs(1)).burst(BURST);
    let limiter = RateLimiter::with_clock(config.clone(), clock.clone()).unwrap();
    let allowed = runtime.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(
                    async move { (0..CHECKS).filter(|_| limiter.check(1).is_ok()).count() },
                )
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        total
    });
    assert_eq!(allowed, BURST as usize);

    // The same through cloned services.
    let layer = RateLimitLayer::with_clock(config, clock).unwrap();
    let (calls, inner) = counting();
    let svc = layer.layer(inner);
    let (ok, rejected) = runtime.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let mut svc = svc.clone();
                tokio::spawn(async move {
                    let (mut ok, mut rejected) = (0, 0);
                    for i in 0..CHECKS / 10 {
                        match svc.ready().await.unwrap().call(i as u32).await {
                            Ok(_) => ok += 1,
                            Err(RateLimitError::Rejected { .. }) => rejected += 1,
                            Err(e) => panic!("unexpected {e:?}"),
                        }
                    }
                    (ok, rejected)
                })
            })
            .collect();
        let (mut ok, mut rejected) = (0, 0);
        for t in tasks {
            let (o, r) = t.await.unwrap();
            ok += o;
            rejected += r;
        }
        (ok, rejected)
    });
    assert_eq!(ok, BURST as usize);
    assert_eq!(ok + rejected, TASKS * CHECKS / 10);
    assert_eq!(calls.load(Ordering::SeqCst), BURST as usize);
}

#[test]
fn config_validation_names_field_and_value() {
    let cases = [
        (
            RateLimitConfig::per(0, Duration::from_secs(1)),
            "rate_limit.permits",
            "0",
        ),
        (
            RateLimitConfig::per(1, Duration::ZERO),
            "rate_limit.period",
            "0s",
        ),
        (
            RateLimitConfig::per(10, Duration::from_nanos(5)),
            "rate_limit.period",
            "less than 1ns",
        ),
        (ten_per_second(0), "rate_limit.burst", "0"),
        (
            RateLimitConfig::per(1, Duration::from_secs(3600)).burst(u32::MAX),
            "rate_limit.burst",
            "4294967295",
        ),
        (ten_per_second(1).name(""), "rate_limit.name", "empty"),
    ];
    for (config, field, needle) in cases {
        let err = config.validate().unwrap_err();
        assert_eq!(err.field, field, "{err}");
        assert!(err.message.contains(needle), "{err}");
        assert!(RateLimiter::new(config).is_err());
    }
    RateLimitConfig::default().validate().unwrap();
    assert_eq!(RateLimitConfig::default().effective_burst(), 100);
}

#[cfg(feature = "serde")]
#[test]
fn config_serde_round_trip() {
    let config = RateLimitConfig::per(100, Duration::from_secs(1))
        .name("ingest")
        .burst(20)
        .wait(250 * MS);
    let json = serde_json::to_value(&config).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "name": "ingest", "permits": 100, "period": "1s", "burst": 20,
            "mode": "wait", "max_wait": "250ms"
        })
    );
    let back: RateLimitConfig = serde_json::from_value(json).unwrap();
    assert_eq!(back, config);
    let partial: RateLimitConfig = serde_json::from_str(r#"{"permits": 5}"#).unwrap();
    assert_eq!(partial.permits, 5);
    assert_eq!(partial.mode, RateLimitMode::Reject);
    assert!(serde_json::from_str::<RateLimitConfig>(r#"{"rate": 5}"#).is_err());
}

/// On the TSC clock (feature `quanta`) the limiter admits the burst, then
/// rejects until real time has refilled a permit; its notion of elapsed
/// time agrees with the monotonic clock. Robust to a loaded CI machine:
/// the refill is 100 ms, and the sequence is retried if a stall longer
/// than that lands in it.
#[cfg(feature = "quanta")]
#[test]
fn quanta_clock_limits_in_real_time() {
    use iot_resilience::rate_limit::RateLimiter;
    use iot_resilience::{Clock, QuantaClock};

    let clock = QuantaClock::new();
    let rejected_within_burst = (0..3).any(|_| {
        let limiter = RateLimiter::with_clock(
            RateLimitConfig::per(10, Duration::from_secs(1)).burst(2),
            clock.clone(),
        )
        .unwrap();
        assert!(limiter.check(1).is_ok() && limiter.check(1).is_ok());
        match limiter.check(1) {
            Ok(()) => false,
            Err(e) => {
                let wait = e.retry_after().expect("a wait for a refill");
                assert!(wait <= Duration::from_millis(100), "{wait:?}");
                std::thread::sleep(wait + Duration::from_millis(5));
                assert!(limiter.check(1).is_ok(), "refilled after {wait:?}");
                true
            }
        }
    });
    assert!(
        rejected_within_burst,
        "the third permit was admitted three times"
    );

    // 200 ms on the counter lie between the monotonic clock's readings
    // taken just before and just after it (5% for calibration).
    let start = std::time::Instant::now();
    let epoch = clock.epoch();
    std::thread::sleep(Duration::from_millis(200));
    let before = start.elapsed().as_nanos() as f64;
    let by_tsc = clock.nanos_since(&epoch) as f64;
    let after = start.elapsed().as_nanos() as f64;
    assert!(
        by_tsc >= 0.95 * (before - 1e6) && by_tsc <= 1.05 * after,
        "TSC {by_tsc} ns, Instant {before}..{after} ns"
    );
}
