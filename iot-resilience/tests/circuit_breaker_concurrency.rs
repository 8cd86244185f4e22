//! Many tasks hammering one shared breaker: counts add up exactly.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use iot_resilience::ManualClock;
use iot_resilience::circuit_breaker::{
    CircuitBreakerConfig, CircuitBreakerHandle, CircuitBreakerLayer, SlidingWindow, State,
};
use tower::{Layer, ServiceExt, service_fn};

const TASKS: usize = 64;
const CALLS: usize = 500;

/// Every 10th call fails: 10% stays under the 50% threshold.
async fn hammer(config: CircuitBreakerConfig, clock: ManualClock) -> CircuitBreakerHandle {
    let layer = CircuitBreakerLayer::with_clock(config, clock).unwrap();
    let svc = layer.layer(service_fn(|n: usize| async move {
        tokio::task::yield_now().await;
        if n % 10 == 0 { Err("fail") } else { Ok(n) }
    }));
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let svc = svc.clone();
            tokio::spawn(async move {
                for i in 0..CALLS {
                    let _ = svc.clone().oneshot(t * CALLS + i).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    layer.handle().clone()
}

fn assert_exact(b: &CircuitBreakerHandle) {
    let s = b.stats();
    assert_eq!(s.state, State::Closed);
    assert_eq!(s.buffered_calls as usize, TASKS * CALLS);
    assert_eq!(s.failed_calls as usize, TASKS * CALLS / 10);
    assert_eq!(s.not_permitted_calls, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn count_window_counts_every_call() {
    let config = CircuitBreakerConfig::default()
        .sliding_window(SlidingWindow::count(50_000))
        .minimum_number_of_calls(50_000);
    assert_exact(&hammer(config, ManualClock::new()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn time_window_counts_every_call_across_bucket_rollovers() {
    let clock = ManualClock::new();
    let config = CircuitBreakerConfig::default()
        .sliding_window(SlidingWindow::time_with_bucket(
            Duration::from_secs(3600),
            Duration::from_millis(100),
        ))
        .minimum_number_of_calls(u32::MAX);
    // Move the clock while the tasks run so buckets roll over under load.
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = {
        let (clock, stop) = (clock.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut ticks = 0;
            while !stop.load(Ordering::Relaxed) && ticks < 20_000 {
                clock.advance(Duration::from_millis(50));
                ticks += 1;
                std::thread::yield_now();
            }
        })
    };
    let b = hammer(config, clock).await;
    stop.store(true, Ordering::Relaxed);
    ticker.join().unwrap();
    assert_exact(&b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn metrics_only_counts_exactly_and_never_opens() {
    let b = CircuitBreakerHandle::new(
        CircuitBreakerConfig::default()
            .sliding_window(SlidingWindow::count(100_000))
            .minimum_number_of_calls(1),
    )
    .unwrap();
    b.metrics_only();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let b = b.clone();
            tokio::spawn(async move {
                for i in 0..CALLS {
                    let p = b.try_acquire().unwrap();
                    tokio::task::yield_now().await;
                    if i % 2 == 0 { p.failure() } else { p.success() }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let s = b.stats();
    assert_eq!(s.state, State::MetricsOnly);
    assert_eq!(
        (s.buffered_calls as usize, s.failed_calls as usize),
        (TASKS * CALLS, TASKS * CALLS / 2)
    );
}

#[test]
fn racing_for_half_open_permits_admits_exactly_the_limit() {
    let b =
        CircuitBreakerHandle::new(CircuitBreakerConfig::default().permitted_calls_in_half_open(5))
            .unwrap();
    for _ in 0..20 {
        b.transition_to_half_open();
        let barrier = Arc::new(Barrier::new(32));
        let admitted = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..32)
            .map(|_| {
                let (b, barrier, admitted) = (b.clone(), barrier.clone(), admitted.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let permit = b.try_acquire().ok();
                    if permit.is_some() {
                        admitted.fetch_add(1, Ordering::SeqCst);
                    }
                    barrier.wait();
                    drop(permit);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(admitted.load(Ordering::SeqCst), 5);
        // All permits were dropped: all five are available again.
        let again: Vec<_> = (0..5).map(|_| b.try_acquire().unwrap()).collect();
        assert!(b.try_acquire().is_err());
        drop(again);
        b.reset();
    }
}
