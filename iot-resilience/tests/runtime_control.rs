//! Changing settings at run time (issue #16): every layer's handle applies
//! a new configuration to the running services, keeps their state, and
//! refuses an invalid configuration with the same `ConfigError` as a
//! configuration file, changing nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::{Ready, ready};
use iot_resilience::ManualClock;
use iot_resilience::backoff::BackoffConfig;
use iot_resilience::bulkhead::{BulkheadConfig, BulkheadError, BulkheadLayer};
use iot_resilience::circuit_breaker::{
    CircuitBreakerConfig, CircuitBreakerError, CircuitBreakerHandle, CircuitBreakerLayer,
    KeyedCircuitBreaker, KeyedCircuitBreakerConfig, SlidingWindow, State,
};
use iot_resilience::rate_limit::{
    KeyedRateLimitConfig, KeyedRateLimiter, RateLimitConfig, RateLimitError, RateLimitLayer,
    RateLimiter,
};
use iot_resilience::retry::{GiveUpReason, RetryBudgetConfig, RetryConfig, RetryLayer};
use iot_resilience::timeout::{TimeoutConfig, TimeoutError, TimeoutLayer};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt, service_fn};

const MS: Duration = Duration::from_millis(1);

/// Fails the requests that ask to (`true`); counts calls.
#[derive(Clone, Default)]
struct Backend(Arc<AtomicUsize>);

impl Service<bool> for Backend {
    type Response = ();
    type Error = &'static str;
    type Future = Ready<Result<(), &'static str>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, fail: bool) -> Self::Future {
        self.0.fetch_add(1, Ordering::SeqCst);
        ready(if fail { Err("down") } else { Ok(()) })
    }
}

// ---------------------------------------------------------------- breaker

fn breaker_config() -> CircuitBreakerConfig {
    CircuitBreakerConfig::default()
        .name("runtime")
        .sliding_window(SlidingWindow::count(100_000))
        .minimum_number_of_calls(50)
        .failure_rate_threshold(60.0)
        .wait_duration_in_open(Duration::from_secs(30))
}

#[derive(Default)]
struct Tally {
    made: AtomicU64,
    ok: AtomicU64,
    failed: AtomicU64,
    rejected: AtomicU64,
}

/// `tasks` tasks calling the breaker `calls` times each (every fourth call
/// fails) while another task changes its settings; returns the tally.
async fn hammer(
    layer: CircuitBreakerLayer,
    tasks: usize,
    calls: u64,
    updates: Vec<CircuitBreakerConfig>,
) -> Arc<Tally> {
    let tally = Arc::new(Tally::default());
    let done = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let handle = layer.handle().clone();
    let updater = {
        let (done, started) = (done.clone(), started.clone());
        tokio::spawn(async move {
            let mut n = 0usize;
            loop {
                handle.update(updates[n % updates.len()].clone()).unwrap();
                n += 1;
                started.store(true, Ordering::SeqCst);
                if done.load(Ordering::SeqCst) {
                    return n;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let mut workers = Vec::new();
    for t in 0..tasks {
        let mut svc = layer.layer(Backend::default());
        let tally = tally.clone();
        let started = started.clone();
        workers.push(tokio::spawn(async move {
            // Calls start once the updater runs, so the two overlap.
            while !started.load(Ordering::SeqCst) {
                tokio::task::yield_now().await;
            }
            for i in 0..calls {
                tally.made.fetch_add(1, Ordering::SeqCst);
                let fail = (i + t as u64) % 4 == 0;
                match svc.ready().await.unwrap().call(fail).await {
                    Ok(()) => tally.ok.fetch_add(1, Ordering::SeqCst),
                    Err(CircuitBreakerError::Inner(_)) => {
                        tally.failed.fetch_add(1, Ordering::SeqCst)
                    }
                    Err(CircuitBreakerError::Open { .. }) => {
                        tally.rejected.fetch_add(1, Ordering::SeqCst)
                    }
                    Err(e) => panic!("unexpected {e:?}"),
                };
                if i % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    assert!(
        updater.await.unwrap() > 0,
        "the updater ran (its first update before any call)"
    );
    tally
}

/// Several tasks call a closed breaker while another changes its
/// thresholds (never below the 25% failure rate): every call is admitted
/// and recorded exactly once, none is lost or counted twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn breaker_update_under_load_loses_no_call() {
    let layer = CircuitBreakerLayer::new(breaker_config()).unwrap();
    let updates = vec![
        breaker_config().failure_rate_threshold(90.0),
        breaker_config()
            .failure_rate_threshold(50.0)
            .minimum_number_of_calls(10),
        breaker_config().slow_call_duration_threshold(Duration::from_secs(60)),
        breaker_config().permitted_calls_in_half_open(3),
    ];
    let tally = hammer(layer.clone(), 4, 5_000, updates).await;
    let made = tally.made.load(Ordering::SeqCst);
    let ok = tally.ok.load(Ordering::SeqCst);
    let failed = tally.failed.load(Ordering::SeqCst);
    assert_eq!(made, 20_000);
    assert_eq!(tally.rejected.load(Ordering::SeqCst), 0);
    assert_eq!(ok + failed, made);
    assert_eq!(failed, 5_000);
    let stats = layer.handle().stats();
    assert_eq!(stats.state, State::Closed);
    assert_eq!(
        u64::from(stats.buffered_calls),
        made,
        "every call recorded once"
    );
    assert_eq!(u64::from(stats.failed_calls), failed);
    assert_eq!(u64::from(stats.successful_calls), ok);
    assert_eq!(
        stats.slow_calls, 0,
        "slow-call detection turned on mid-call counts nothing slow"
    );
}

/// The same under load, with updates that lower the threshold under the
/// failure rate: the breaker may open during the run (when depends on the
/// scheduling), and admitted plus rejected calls still equal the calls
/// made, every rejection counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn breaker_opening_during_updates_counts_every_call() {
    let layer = CircuitBreakerLayer::new(breaker_config()).unwrap();
    let updates = vec![
        breaker_config().failure_rate_threshold(90.0),
        breaker_config().failure_rate_threshold(20.0),
        breaker_config().failure_rate_threshold(20.0),
        breaker_config().failure_rate_threshold(20.0),
    ];
    let tally = hammer(layer.clone(), 4, 5_000, updates).await;
    let made = tally.made.load(Ordering::SeqCst);
    let admitted = tally.ok.load(Ordering::SeqCst) + tally.failed.load(Ordering::SeqCst);
    let rejected = tally.rejected.load(Ordering::SeqCst);
    assert_eq!(made, 20_000);
    assert_eq!(admitted + rejected, made);
    let handle = layer.handle();
    let stats = handle.stats();
    assert_eq!(stats.not_permitted_calls, rejected);
    if handle.state() == State::Closed {
        // Never opened during the run (the updater was not scheduled while
        // 20% applied): every call was admitted and recorded.
        assert_eq!(rejected, 0);
        assert_eq!(u64::from(stats.buffered_calls), made);
        // 25% failures against 20%: the next recorded call opens it.
        handle
            .update(breaker_config().failure_rate_threshold(20.0))
            .unwrap();
        handle.try_acquire().unwrap().failure();
    }
    assert_eq!(handle.state(), State::Open);
    // Open stays open across further updates.
    handle
        .update(breaker_config().failure_rate_threshold(90.0))
        .unwrap();
    assert_eq!(handle.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn breaker_state_is_kept_across_updates() {
    let breaker = CircuitBreakerHandle::new(
        breaker_config()
            .sliding_window(SlidingWindow::count(4))
            .minimum_number_of_calls(4)
            .permitted_calls_in_half_open(2),
    )
    .unwrap();
    let base = breaker.config();
    // Two failures, two successes: 50% is under 60%, stays closed.
    for fail in [true, true, false, false] {
        let permit = breaker.try_acquire().unwrap();
        if fail {
            permit.failure()
        } else {
            permit.success()
        }
    }
    assert_eq!(breaker.state(), State::Closed);
    // A lower threshold keeps the window; the next recorded call decides.
    breaker
        .update(base.clone().failure_rate_threshold(50.0))
        .unwrap();
    assert_eq!(breaker.stats().buffered_calls, 4);
    assert_eq!(breaker.state(), State::Closed);
    breaker.try_acquire().unwrap().failure();
    assert_eq!(breaker.state(), State::Open);

    // Open stays open, with its deadline, whatever the update.
    let retry_after = |b: &CircuitBreakerHandle| b.try_acquire().unwrap_err().retry_after;
    assert_eq!(retry_after(&breaker), Some(Duration::from_secs(30)));
    breaker
        .update(
            base.clone()
                .failure_rate_threshold(100.0)
                .wait_duration_in_open(Duration::from_secs(5)),
        )
        .unwrap();
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(
        retry_after(&breaker),
        Some(Duration::from_secs(30)),
        "the current opening keeps its deadline"
    );

    // Half-open keeps its probe count until it decides; the new count
    // applies from the next half-open state.
    tokio::time::advance(Duration::from_secs(30)).await;
    let probe = breaker.try_acquire().unwrap();
    assert_eq!(breaker.state(), State::HalfOpen);
    breaker
        .update(base.clone().permitted_calls_in_half_open(1))
        .unwrap();
    probe.failure();
    assert_eq!(
        breaker.state(),
        State::HalfOpen,
        "still waiting for the second of 2 probes"
    );
    breaker.try_acquire().unwrap().failure();
    assert_eq!(breaker.state(), State::Open);
    // The new wait (the base configuration's 30 s) applies to this opening.
    assert_eq!(retry_after(&breaker), Some(Duration::from_secs(30)));
    breaker
        .update(
            base.clone()
                .permitted_calls_in_half_open(1)
                .wait_duration_in_open(Duration::from_secs(5)),
        )
        .unwrap();
    tokio::time::advance(Duration::from_secs(30)).await;
    breaker.try_acquire().unwrap().failure();
    assert_eq!(breaker.state(), State::Open, "one probe decides now");
    assert_eq!(retry_after(&breaker), Some(Duration::from_secs(5)));
    // Stats say why (frozen window) and the rejected calls are kept.
    assert!(breaker.stats().not_permitted_calls >= 3);
}

#[test]
fn breaker_refuses_invalid_and_immutable_changes() {
    let breaker = CircuitBreakerHandle::new(breaker_config()).unwrap();
    let before = breaker.config();
    let err = breaker
        .update(breaker_config().failure_rate_threshold(0.0))
        .unwrap_err();
    // The same error as validating the configuration (a file) gives.
    assert_eq!(
        Some(err.clone()),
        breaker_config()
            .failure_rate_threshold(0.0)
            .validate()
            .err()
    );
    assert_eq!(err.field, "circuit_breaker.failure_rate_threshold");
    let err = breaker
        .update(breaker_config().sliding_window(SlidingWindow::count(10)))
        .unwrap_err();
    assert_eq!(err.field, "circuit_breaker.sliding_window");
    let err = breaker.update(breaker_config().name("other")).unwrap_err();
    assert_eq!(err.field, "circuit_breaker.name");
    // An invalid configuration with a valid threshold changes nothing
    // either (validation happens before anything is applied).
    let err = breaker
        .update(
            breaker_config()
                .failure_rate_threshold(10.0)
                .wait_duration_in_open(Duration::ZERO),
        )
        .unwrap_err();
    assert_eq!(err.field, "circuit_breaker.wait_duration_in_open");
    assert_eq!(breaker.config(), before);
}

// ------------------------------------------------------------- rate limit

#[tokio::test(start_paused = true)]
async fn rate_limit_change_keeps_the_consumed_burst() {
    let config = RateLimitConfig::per(10, Duration::from_secs(1))
        .burst(10)
        .name("ingest");
    let layer = RateLimitLayer::new(config.clone()).unwrap();
    let handle: RateLimiter = layer.handle();
    let mut svc = layer.layer(service_fn(|x: u32| async move { Ok::<_, &str>(x) }));
    for i in 0..4 {
        assert_eq!(svc.ready().await.unwrap().call(i).await, Ok(i));
    }
    assert_eq!(handle.available(), 6);
    // Twice the rate: the 4 permits in use stay in use, now replenishing
    // every 50 ms.
    handle
        .update(config.clone().rate(20, Duration::from_secs(1)))
        .unwrap();
    assert_eq!(handle.config().permits, 20);
    assert_eq!(handle.interval(), 50 * MS);
    assert_eq!(handle.available(), 6);
    tokio::time::advance(50 * MS).await;
    assert_eq!(handle.available(), 7);
    // A burst below the permits in use: nothing available until they
    // replenish; the service sees it.
    handle
        .update(config.clone().rate(20, Duration::from_secs(1)).burst(2))
        .unwrap();
    assert_eq!(handle.available(), 0);
    // 3 in use, 2 allowed: one must replenish first.
    match svc.ready().await.unwrap().call(9).await {
        Err(RateLimitError::Rejected { retry_after }) => assert_eq!(retry_after, 100 * MS),
        other => panic!("expected a rejection, got {other:?}"),
    }
    tokio::time::advance(100 * MS).await;
    assert_eq!(svc.ready().await.unwrap().call(10).await, Ok(10));

    // Invalid: the same typed error as the configuration, nothing changes.
    let before = handle.config();
    let bad = config.clone().burst(0);
    let err = handle.update(bad.clone()).unwrap_err();
    assert_eq!(Some(err.clone()), bad.validate().err());
    assert_eq!(err.field, "rate_limit.burst");
    assert_eq!(
        handle.update(config.name("other")).unwrap_err().field,
        "rate_limit.name"
    );
    assert_eq!(handle.config(), before);
    assert_eq!(handle.burst(), 2);
}

#[tokio::test(start_paused = true)]
async fn rate_limit_mode_change_applies_to_new_waits() {
    let config = RateLimitConfig::per(10, Duration::from_secs(1)).burst(1);
    let layer = RateLimitLayer::new(config.clone()).unwrap();
    let mut svc = layer.layer(service_fn(|x: u32| async move { Ok::<_, &str>(x) }));
    assert_eq!(svc.ready().await.unwrap().call(1).await, Ok(1));
    assert!(
        svc.ready().await.unwrap().call(2).await.is_err(),
        "reject mode"
    );
    layer
        .handle()
        .update(config.wait(Duration::from_secs(1)))
        .unwrap();
    let start = Instant::now();
    assert_eq!(svc.ready().await.unwrap().call(3).await, Ok(3));
    assert_eq!(Instant::now() - start, 100 * MS, "waited for the permit");
}

// ------------------------------------------------------------------ retry

fn retry_config() -> RetryConfig {
    RetryConfig::default()
        .name("runtime")
        .max_attempts(2)
        .backoff(BackoffConfig::constant(10 * MS))
        .budget(
            RetryBudgetConfig::default()
                .ratio(0.0)
                .min_retries_per_second(2),
        )
}

#[tokio::test(start_paused = true)]
async fn retry_update_applies_and_keeps_the_budget() {
    let layer = RetryLayer::new(retry_config()).unwrap();
    let handle = layer.handle();
    let backend = Backend::default();
    let mut svc = layer.layer(backend.clone());
    let budget = handle.budget().unwrap().clone();
    assert_eq!(budget.available(), 20); // 2 per second over 10 s

    let err = svc.ready().await.unwrap().call(true).await.unwrap_err();
    assert_eq!(err.attempts(), 2);
    assert_eq!(budget.available(), 19);

    // More attempts, a longer delay: the budget (and its balance) is kept.
    handle
        .update(
            retry_config()
                .max_attempts(4)
                .backoff(BackoffConfig::constant(100 * MS)),
        )
        .unwrap();
    assert_eq!(layer.config().max_attempts, 4);
    assert_eq!(budget.available(), 19);
    let start = Instant::now();
    let err = svc.ready().await.unwrap().call(true).await.unwrap_err();
    assert_eq!(err.attempts(), 4);
    assert_eq!(Instant::now() - start, 300 * MS, "the new backoff applies");
    assert_eq!(budget.available(), 16);
    assert!(Arc::ptr_eq(&budget, handle.budget().unwrap()));

    // A deadline applies to calls made after the update.
    handle
        .update(
            retry_config()
                .max_attempts(4)
                .backoff(BackoffConfig::constant(100 * MS))
                .deadline(150 * MS),
        )
        .unwrap();
    let err = svc.ready().await.unwrap().call(true).await.unwrap_err();
    assert_eq!(err.attempts(), 2);
    assert_eq!(err.reason(), Some(GiveUpReason::Deadline));
    assert_eq!(backend.0.load(Ordering::SeqCst), 2 + 4 + 2);
}

#[test]
fn retry_refuses_invalid_and_immutable_changes() {
    let layer = RetryLayer::new(retry_config()).unwrap();
    let handle = layer.handle();
    let bad = retry_config().max_attempts(1_000);
    let err = handle.update(bad.clone()).unwrap_err();
    assert_eq!(Some(err.clone()), bad.validate().err());
    assert_eq!(err.field, "retry.max_attempts");
    let err = handle
        .update(retry_config().budget(RetryBudgetConfig::default()))
        .unwrap_err();
    assert_eq!(err.field, "retry.budget");
    assert_eq!(
        handle.update(retry_config().name("x")).unwrap_err().field,
        "retry.name"
    );
    assert_eq!(handle.config(), retry_config());
}

// --------------------------------------------------------------- bulkhead

fn sleeper() -> impl Service<u64, Response = u64, Error = &'static str, Future: Send> + Clone + Send
{
    service_fn(|ms: u64| async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(ms)
    })
}

#[tokio::test(start_paused = true)]
async fn bulkhead_raise_admits_a_waiter_at_once() {
    let config = BulkheadConfig::new(1).max_wait(Duration::from_secs(10));
    let layer = BulkheadLayer::new(config.clone()).unwrap();
    let handle = layer.handle();
    let mut a = layer.layer(sleeper());
    let mut b = a.clone();
    let slow = tokio::spawn(a.ready().await.unwrap().call(1_000));
    let start = Instant::now();
    let waiter = tokio::spawn(async move { b.ready().await.unwrap().call(1).await });
    // Let the waiter start waiting, then raise the limit.
    tokio::time::sleep(10 * MS).await;
    assert_eq!(handle.in_flight(), 1);
    handle.update(config.max_concurrent(2)).unwrap();
    assert_eq!(waiter.await.unwrap(), Ok(1));
    assert_eq!(
        Instant::now() - start,
        11 * MS,
        "admitted on the raise, not on the release"
    );
    assert_eq!(handle.in_flight(), 1);
    assert_eq!(slow.await.unwrap(), Ok(1_000));
}

#[tokio::test(start_paused = true)]
async fn bulkhead_lower_lets_calls_finish_and_admits_under_the_new_limit() {
    let config = BulkheadConfig::new(3);
    let layer = BulkheadLayer::new(config.clone()).unwrap();
    let handle = layer.handle();
    let svc = layer.layer(sleeper());
    let mut flights = Vec::new();
    for ms in [100, 200, 300] {
        let mut s = svc.clone();
        flights.push(tokio::spawn(async move {
            s.ready().await.unwrap().call(ms).await
        }));
    }
    tokio::time::sleep(MS).await;
    assert_eq!(handle.in_flight(), 3);
    handle.update(config.clone().max_concurrent(1)).unwrap();
    assert_eq!(layer.max_concurrent(), 1);
    let mut probe = svc.clone();
    macro_rules! try_call {
        () => {
            probe.ready().await.unwrap().call(0).await
        };
    }
    assert_eq!(
        try_call!(),
        Err(BulkheadError::Full {
            max_concurrent: 1,
            waited: Duration::ZERO
        })
    );
    tokio::time::sleep(150 * MS).await; // 2 in flight
    assert!(try_call!().is_err());
    tokio::time::sleep(100 * MS).await; // 1 in flight: still not under 1
    assert!(try_call!().is_err());
    for f in flights {
        assert!(f.await.unwrap().is_ok(), "calls in flight finish");
    }
    assert_eq!(handle.in_flight(), 0);
    assert_eq!(try_call!(), Ok(0));

    let bad = config.max_concurrent(0);
    let err = handle.update(bad.clone()).unwrap_err();
    assert_eq!(Some(err.clone()), bad.validate().err());
    assert_eq!(handle.config().max_concurrent, 1);
}

// ---------------------------------------------------------------- timeout

#[tokio::test(start_paused = true)]
async fn timeout_change_applies_to_new_calls() {
    let config = TimeoutConfig::new(100 * MS).name("runtime");
    let layer = TimeoutLayer::new(config.clone()).unwrap();
    let handle = layer.handle();
    let mut svc = layer.layer(sleeper());
    let mut before = svc.clone();
    let in_flight = before.ready().await.unwrap().call(500);
    handle
        .update(config.clone().timeout(Duration::from_secs(1)))
        .unwrap();
    assert_eq!(svc.timeout(), Duration::from_secs(1));
    let (old, new) = tokio::join!(in_flight, svc.ready().await.unwrap().call(500));
    assert!(
        matches!(old, Err(TimeoutError::Elapsed { after }) if after == 100 * MS),
        "{old:?}"
    );
    assert_eq!(new, Ok(500));

    let bad = config.clone().timeout(Duration::ZERO);
    let err = handle.update(bad.clone()).unwrap_err();
    assert_eq!(Some(err.clone()), bad.validate().err());
    assert_eq!(
        handle.update(config.name("x")).unwrap_err().field,
        "timeout.name"
    );
    assert_eq!(handle.config().timeout, Duration::from_secs(1));
}

fn keyed_config() -> KeyedRateLimitConfig {
    KeyedRateLimitConfig::per(10, Duration::from_secs(1))
        .burst(5)
        .capacity(1_000)
        .name("keyed")
}

/// Four threads check 16 keys while a fifth switches the burst between 5
/// and 10; the clock stands still, so no permit replenishes. Every check
/// is admitted or refused (none lost), no key admits more than the larger
/// burst, and at the end, under burst 10, each key has exactly
/// `10 - admitted` left: the permits taken under either quota all stayed
/// in use (state kept, none counted twice).
#[test]
fn keyed_limiter_update_under_load_keeps_every_keys_state() {
    let clock = ManualClock::new();
    let limiter: KeyedRateLimiter<u32, _> =
        KeyedRateLimiter::with_clock(keyed_config(), clock).unwrap();
    let admitted: Arc<Vec<AtomicU64>> = Arc::new((0..16).map(|_| AtomicU64::new(0)).collect());
    let refused = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let updater = {
        let (limiter, stop) = (limiter.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut updates = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let burst = if updates % 2 == 0 { 10 } else { 5 };
                limiter.update(keyed_config().burst(burst)).unwrap();
                updates += 1;
            }
            updates
        })
    };
    let checkers: Vec<_> = (0..4u32)
        .map(|t| {
            let (limiter, admitted, refused) = (limiter.clone(), admitted.clone(), refused.clone());
            std::thread::spawn(move || {
                for i in 0..5_000u32 {
                    let key = (i * 7 + t) % 16;
                    match limiter.check(&key, 1) {
                        Ok(()) => admitted[key as usize].fetch_add(1, Ordering::Relaxed),
                        Err(_) => refused.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    for checker in checkers {
        checker.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let updates = updater.join().unwrap();
    assert!(updates > 2, "the quota changed {updates} times");
    limiter.update(keyed_config().burst(10)).unwrap();
    let total: u64 = admitted.iter().map(|a| a.load(Ordering::Relaxed)).sum();
    assert_eq!(total + refused.load(Ordering::Relaxed), 4 * 5_000);
    for (key, taken) in admitted.iter().enumerate() {
        let taken = taken.load(Ordering::Relaxed);
        assert!((5..=10).contains(&taken), "key {key} admitted {taken}");
        assert_eq!(
            u64::from(limiter.available(&(key as u32))),
            10 - taken,
            "key {key}"
        );
    }
}

/// A new rate carries each key's permits in use over (as time to
/// replenish at the new rate); unknown keys start full under the new burst.
#[test]
fn keyed_limiter_rate_change_replenishes_at_the_new_rate() {
    let clock = ManualClock::new();
    let limiter = KeyedRateLimiter::with_clock(keyed_config(), clock.clone()).unwrap();
    for _ in 0..3 {
        limiter.check(&"a", 1).unwrap();
    }
    limiter
        .update(keyed_config().rate(20, Duration::from_secs(1)))
        .unwrap();
    assert_eq!(limiter.available(&"a"), 2, "3 of 5 still in use");
    assert_eq!(limiter.interval(), 50 * MS);
    clock.advance(50 * MS);
    assert_eq!(
        limiter.available(&"a"),
        3,
        "one permit back after one new interval"
    );
    assert_eq!(limiter.available(&"b"), 5);
    assert_eq!(limiter.config().permits, 20);
}

#[test]
fn keyed_limiter_refuses_invalid_and_immutable_changes() {
    let limiter: KeyedRateLimiter<u32> = KeyedRateLimiter::new(keyed_config()).unwrap();
    let e = limiter.update(keyed_config().burst(0)).unwrap_err();
    assert_eq!(e.field, "keyed_rate_limit.burst");
    let e = limiter.update(keyed_config().name("other")).unwrap_err();
    assert_eq!(e.field, "keyed_rate_limit.name");
    let e = limiter.update(keyed_config().capacity(10)).unwrap_err();
    assert_eq!(e.field, "keyed_rate_limit.capacity");
    assert_eq!(limiter.burst(), 5);
    assert_eq!(limiter.config().capacity, 1_000);
}

fn keyed_breaker_config(threshold: f32) -> KeyedCircuitBreakerConfig {
    KeyedCircuitBreakerConfig::new(
        CircuitBreakerConfig::default()
            .name("per_key")
            .sliding_window(SlidingWindow::count(10))
            .minimum_number_of_calls(4)
            .failure_rate_threshold(threshold),
    )
    .capacity(100)
}

/// A key's window survives the update and is judged by the new threshold;
/// a key first seen after the update gets it too.
#[test]
fn keyed_breaker_update_keeps_each_keys_window() {
    let breakers: KeyedCircuitBreaker<&str> =
        KeyedCircuitBreaker::new(keyed_breaker_config(50.0)).unwrap();
    let a = breakers.get(&"a");
    a.try_acquire().unwrap().failure();
    a.try_acquire().unwrap().success();
    a.try_acquire().unwrap().success();
    breakers.update(keyed_breaker_config(25.0)).unwrap();
    assert_eq!(breakers.config().breaker.failure_rate_threshold, 25.0);
    // The fourth call: 1 failure in 4 is 25%, which opens under the new
    // threshold (not under the old one, nor with the window reset).
    a.try_acquire().unwrap().success();
    assert_eq!(a.state(), State::Open);
    let b = breakers.get(&"b");
    b.try_acquire().unwrap().failure();
    for _ in 0..3 {
        b.try_acquire().unwrap().success();
    }
    assert_eq!(b.state(), State::Open);
}

#[test]
fn keyed_breaker_refuses_invalid_and_immutable_changes() {
    let breakers: KeyedCircuitBreaker<u32> =
        KeyedCircuitBreaker::new(keyed_breaker_config(50.0)).unwrap();
    breakers.get(&1);
    let e = breakers.update(keyed_breaker_config(0.0)).unwrap_err();
    assert_eq!(e.field, "circuit_breaker.failure_rate_threshold");
    let e = breakers
        .update(keyed_breaker_config(50.0).capacity(1_000))
        .unwrap_err();
    assert_eq!(e.field, "keyed_circuit_breaker.capacity");
    let mut other_window = keyed_breaker_config(50.0);
    other_window.breaker = other_window
        .breaker
        .sliding_window(SlidingWindow::count(20));
    let e = breakers.update(other_window).unwrap_err();
    assert_eq!(e.field, "circuit_breaker.sliding_window");
    let mut renamed = keyed_breaker_config(50.0);
    renamed.breaker = renamed.breaker.name("other");
    let e = breakers.update(renamed).unwrap_err();
    assert_eq!(e.field, "circuit_breaker.name");
    assert_eq!(breakers.config().breaker.failure_rate_threshold, 50.0);
    assert_eq!(
        breakers.peek(&1).unwrap().config().failure_rate_threshold,
        50.0
    );
}
