//! Per-key breakers: isolation, bounded memory, idle eviction, the keyed
//! layer.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use iot_resilience::ManualClock;
use iot_resilience::circuit_breaker::{
    CircuitBreakerConfig, CircuitBreakerError, KeyedCircuitBreaker, KeyedCircuitBreakerConfig,
    KeyedCircuitBreakerLayer, SlidingWindow, State,
};
use tower::{Layer, Service, ServiceExt, service_fn};

fn breaker_config() -> CircuitBreakerConfig {
    CircuitBreakerConfig::default()
        .name("keyed")
        .sliding_window(SlidingWindow::count(2))
        .minimum_number_of_calls(2)
}

fn trip(breakers: &KeyedCircuitBreaker<u64>, key: u64) {
    for _ in 0..2 {
        breakers.get(&key).try_acquire().unwrap().failure();
    }
    assert_eq!(breakers.get(&key).state(), State::Open);
}

#[test]
fn keys_are_isolated_and_handles_are_shared() {
    let breakers =
        KeyedCircuitBreaker::new(KeyedCircuitBreakerConfig::new(breaker_config())).unwrap();
    trip(&breakers, 1);
    assert_eq!(breakers.get(&2).state(), State::Closed);
    assert!(breakers.get(&1).same_breaker(&breakers.clone().get(&1)));
    assert!(!breakers.get(&1).same_breaker(&breakers.get(&2)));
    assert_eq!(breakers.len(), 2);
    assert!(breakers.peek(&3).is_none());
    assert_eq!(breakers.len(), 2, "peek does not create");
    assert!(breakers.remove(&1).is_some());
    assert_eq!(
        breakers.get(&1).state(),
        State::Closed,
        "a removed key starts afresh"
    );
}

#[test]
fn memory_stays_under_capacity_under_a_flood_of_keys() {
    let breakers =
        KeyedCircuitBreaker::new(KeyedCircuitBreakerConfig::new(breaker_config()).capacity(1000))
            .unwrap();
    assert!(breakers.capacity() <= 1000 && breakers.capacity() >= 900);
    // A key whose breaker is open survives the flood: admitting breakers
    // are evicted first.
    trip(&breakers, u64::MAX);
    let mut max_len = 0;
    for key in 0..100_000u64 {
        breakers.get(&key).try_acquire().unwrap().success();
        if key % 1000 == 0 {
            max_len = max_len.max(breakers.len());
        }
    }
    assert!(breakers.len() <= 1000, "{} keys held", breakers.len());
    assert!(max_len <= 1000);
    assert!(
        breakers.len() >= 800,
        "evicts in small batches, not everything"
    );
    let sick = breakers.peek(&u64::MAX).expect("the open breaker was kept");
    assert_eq!(sick.state(), State::Open);
    // The most recent keys are still there, the oldest are gone.
    assert!(breakers.peek(&99_999).is_some());
    assert!(breakers.peek(&0).is_none());
}

#[test]
fn idle_keys_are_evicted() {
    let clock = ManualClock::new();
    let breakers = KeyedCircuitBreaker::with_clock(
        KeyedCircuitBreakerConfig::new(breaker_config())
            .capacity(16)
            .idle_timeout(Duration::from_secs(60)),
        clock.clone(),
    )
    .unwrap();
    for key in 0..10u64 {
        breakers.get(&key);
    }
    clock.advance(Duration::from_secs(30));
    breakers.get(&3);
    assert_eq!(breakers.evict_idle(), 0);
    clock.advance(Duration::from_secs(30));
    assert_eq!(breakers.evict_idle(), 9, "all but the key used 30 s ago");
    assert_eq!(
        breakers
            .entries()
            .into_iter()
            .map(|(k, _)| k)
            .collect::<Vec<_>>(),
        [3]
    );
}

#[test]
fn a_full_shard_evicts_idle_keys_before_recent_ones() {
    let clock = ManualClock::new();
    let breakers = KeyedCircuitBreaker::with_clock(
        KeyedCircuitBreakerConfig::new(breaker_config())
            .capacity(64)
            .idle_timeout(Duration::from_secs(60)),
        clock.clone(),
    )
    .unwrap();
    for key in 0..64u64 {
        breakers.get(&key);
    }
    clock.advance(Duration::from_secs(61));
    breakers.get(&0);
    breakers.get(&1000);
    let mut keys: Vec<_> = breakers.entries().into_iter().map(|(k, _)| k).collect();
    keys.sort_unstable();
    assert_eq!(keys, [0, 1000]);
}

#[tokio::test]
async fn keyed_layer_picks_the_breaker_from_the_request() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let layer = KeyedCircuitBreakerLayer::new(
        KeyedCircuitBreakerConfig::new(breaker_config()),
        |(device, _fail): &(u32, bool)| *device,
    )
    .unwrap();
    let breakers = layer.breakers().clone();
    let svc = layer.layer(service_fn(move |(_, fail): (u32, bool)| {
        counted.fetch_add(1, Ordering::SeqCst);
        async move { if fail { Err("boom") } else { Ok("ok") } }
    }));
    for _ in 0..2 {
        assert_eq!(
            svc.clone().oneshot((7, true)).await,
            Err(CircuitBreakerError::Inner("boom"))
        );
    }
    assert_eq!(breakers.get(&7).state(), State::Open);
    assert!(matches!(
        svc.clone().oneshot((7, false)).await,
        Err(CircuitBreakerError::Open {
            state: State::Open,
            ..
        })
    ));
    assert_eq!(svc.clone().oneshot((8, false)).await, Ok("ok"));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "the rejected call was not made"
    );

    let mut not_ready = svc.clone();
    assert_eq!(
        not_ready.call((8, false)).await,
        Err(CircuitBreakerError::NotReady)
    );
}
