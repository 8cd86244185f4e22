//! Keyed rate limiter: bounded memory under a flood of keys, eviction
//! order, exact limits for hot keys, the keyed layer.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use iot_resilience::ManualClock;
use iot_resilience::rate_limit::{
    CheckError, Evictions, KeyedRateLimitConfig, KeyedRateLimitLayer, KeyedRateLimiter,
    RateLimitError,
};
use tower::{Layer, Service, ServiceExt, service_fn};

const MS: Duration = Duration::from_millis(1);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Hot(u8),
    Cold(u32),
}

#[test]
fn flood_of_distinct_keys_stays_under_capacity_and_hot_keys_stay_exact() {
    let clock = ManualClock::new();
    let config = KeyedRateLimitConfig::per(10, Duration::from_secs(1))
        .burst(3)
        .capacity(1000);
    let limiter = KeyedRateLimiter::with_clock(config, clock.clone()).unwrap();
    assert_eq!(limiter.capacity(), 1000);
    let mut hot_allowed = [0usize; 2];
    for i in 0..100_000u32 {
        assert!(
            limiter.check(&Key::Cold(i), 1).is_ok(),
            "a new key has a full bucket"
        );
        assert!(limiter.len() <= 1000, "len {} at key {i}", limiter.len());
        if i % 10 == 0 {
            for (h, allowed) in hot_allowed.iter_mut().enumerate() {
                if limiter.check(&Key::Hot(h as u8), 1).is_ok() {
                    *allowed += 1;
                }
            }
        }
    }
    // The clock never moved: each hot key got exactly its burst, so it was
    // never evicted (an evicted key would have had a fresh burst).
    assert_eq!(hot_allowed, [3, 3]);
    let Evictions { idle, busy } = limiter.evictions();
    // Nothing was idle (no time passed); every key is either still held or
    // was evicted exactly once.
    assert_eq!(idle, 0);
    assert_eq!(busy as usize + limiter.len(), 100_000 + 2);
    assert!(
        limiter.len() >= 1000 - 1000 / 8 - 8,
        "len {}",
        limiter.len()
    );
}

#[test]
fn hot_keys_keep_their_rate_while_time_passes_during_a_flood() {
    let clock = ManualClock::new();
    let config = KeyedRateLimitConfig::per(10, Duration::from_secs(1))
        .burst(3)
        .capacity(1000);
    let limiter = KeyedRateLimiter::with_clock(config, clock.clone()).unwrap();
    let mut hot_allowed = 0;
    // 20 s, a new key every millisecond, the hot key every 10 ms.
    for i in 0..20_000u32 {
        limiter.check(&Key::Cold(i), 1).unwrap();
        assert!(limiter.len() <= 1000);
        if i % 10 == 0 && limiter.check(&Key::Hot(0), 1).is_ok() {
            hot_allowed += 1;
        }
        clock.advance(MS);
    }
    // Burst of 3 at t=0, then exactly one per 100 ms for the remaining
    // 19.99 s (checks at 0, 10, ..., 19990 ms): 3 + 199.
    assert_eq!(hot_allowed, 3 + 199);
    // Cold keys go idle after 100 ms, so most evictions were lossless.
    let evictions = limiter.evictions();
    assert!(evictions.idle > evictions.busy, "{evictions:?}");
}

#[test]
fn idle_keys_are_evicted_before_busy_ones_then_least_recently_used() {
    let clock = ManualClock::new();
    // Capacity 64: one shard of 64 keys, batches of 8.
    let config = KeyedRateLimitConfig::per(1, Duration::from_secs(1))
        .burst(1)
        .capacity(64);
    let limiter = KeyedRateLimiter::with_clock(config, clock.clone()).unwrap();
    for k in 0..64u32 {
        limiter.check(&k, 1).unwrap();
    }
    clock.advance(Duration::from_secs(2));
    // All 64 are idle: inserting one more drops them all, losslessly.
    limiter.check(&1000, 1).unwrap();
    assert_eq!(limiter.len(), 1);
    assert_eq!(limiter.evictions(), Evictions { idle: 64, busy: 0 });

    // Now fill with busy keys, 100 first.
    for k in 100..163u32 {
        limiter.check(&k, 1).unwrap();
    }
    assert_eq!(limiter.len(), 64);
    // Touch the oldest (1000, then 100) so they are the most recent.
    assert!(limiter.check(&1000, 1).is_err());
    assert!(limiter.check(&100, 1).is_err());
    // One more key: the 8 least recently used (101..=108) go.
    limiter.check(&500, 1).unwrap();
    assert_eq!(limiter.len(), 64 - 8 + 1);
    assert_eq!(limiter.evictions(), Evictions { idle: 64, busy: 8 });
    // The touched keys kept their state; an evicted one restarts full.
    assert!(matches!(
        limiter.check(&1000, 1),
        Err(CheckError::NotUntil(_))
    ));
    assert!(limiter.check(&100, 1).is_err());
    assert!(limiter.check(&109, 1).is_err());
    assert!(limiter.check(&101, 1).is_ok());
}

#[test]
fn purge_idle_removes_only_full_buckets() {
    let clock = ManualClock::new();
    let config = KeyedRateLimitConfig::per(1, Duration::from_secs(1)).burst(2);
    let limiter = KeyedRateLimiter::with_clock(config, clock.clone()).unwrap();
    limiter.check(&"a", 2).unwrap();
    limiter.check(&"b", 1).unwrap();
    clock.advance(Duration::from_secs(1));
    // "b" is full again, "a" still has one permit in use.
    assert_eq!(limiter.available(&"a"), 1);
    assert_eq!(limiter.available(&"b"), 2);
    assert_eq!(limiter.purge_idle(), 1);
    assert_eq!(limiter.len(), 1);
    assert_eq!(limiter.available(&"a"), 1);
    assert_eq!(limiter.evictions().idle, 1);
    // Costs above the burst never pass; cost 0 creates no state.
    assert_eq!(
        limiter.check(&"c", 3),
        Err(CheckError::InsufficientCapacity { cost: 3, burst: 2 })
    );
    limiter.check(&"d", 0).unwrap();
    assert_eq!(limiter.len(), 1);
}

#[test]
fn concurrent_checks_on_shared_keys_admit_exactly_the_bursts() {
    const TASKS: usize = 8;
    const KEYS: u32 = 10;
    const BURST: u32 = 50;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let config = KeyedRateLimitConfig::per(1, Duration::from_secs(1))
        .burst(BURST)
        .capacity(KEYS as usize);
    let limiter = KeyedRateLimiter::with_clock(config, clock).unwrap();
    let allowed = runtime.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let limiter = limiter.clone();
                tokio::spawn(async move {
                    (0..2_000u32)
                        .filter(|i| limiter.check(&((i + t as u32) % KEYS), 1).is_ok())
                        .count()
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        total
    });
    assert_eq!(allowed, (KEYS * BURST) as usize);
    assert_eq!(limiter.evictions(), Evictions::default());
}

#[tokio::test(start_paused = true)]
async fn keyed_layer_limits_each_key_separately() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let inner = service_fn(move |(device, n): (&'static str, u32)| {
        c.fetch_add(1, Ordering::SeqCst);
        async move { Ok::<_, &'static str>(format!("{device}:{n}")) }
    });
    let config = KeyedRateLimitConfig::per(10, Duration::from_secs(1))
        .burst(2)
        .name("per_device");
    let layer = KeyedRateLimitLayer::new(config, |req: &(&'static str, u32)| req.0).unwrap();
    let mut svc = layer.layer(inner);
    for n in 0..2 {
        svc.ready().await.unwrap().call(("a", n)).await.unwrap();
    }
    let err = svc.ready().await.unwrap().call(("a", 2)).await.unwrap_err();
    assert_eq!(
        err,
        RateLimitError::Rejected {
            retry_after: 100 * MS
        }
    );
    assert_eq!(
        svc.ready().await.unwrap().call(("b", 0)).await.unwrap(),
        "b:0"
    );
    // Readiness contract.
    assert_eq!(
        svc.call(("c", 0)).await.unwrap_err(),
        RateLimitError::NotReady
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    // Clones share the keyed limiter.
    let clone = svc.clone();
    assert!(clone.oneshot(("b", 1)).await.is_ok());
    assert!(svc.ready().await.unwrap().call(("b", 2)).await.is_err());
    assert_eq!(layer.limiter().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn keyed_layer_with_weighted_costs() {
    let inner = service_fn(|(_, n): (u8, u32)| async move { Ok::<_, &'static str>(n) });
    let config = KeyedRateLimitConfig::per(10, Duration::from_secs(1)).burst(5);
    let layer = KeyedRateLimitLayer::new(config, |req: &(u8, u32)| req.0)
        .unwrap()
        .with_cost(|req: &(u8, u32)| req.1);
    let mut svc = layer.layer(inner);
    svc.ready().await.unwrap().call((1, 4)).await.unwrap();
    let err = svc.ready().await.unwrap().call((1, 2)).await.unwrap_err();
    assert_eq!(
        err,
        RateLimitError::Rejected {
            retry_after: 100 * MS
        }
    );
    let err = svc.ready().await.unwrap().call((2, 6)).await.unwrap_err();
    assert_eq!(
        err,
        RateLimitError::InsufficientCapacity { cost: 6, burst: 5 }
    );
    svc.ready().await.unwrap().call((2, 5)).await.unwrap();
}

#[test]
fn keyed_config_validation_and_capacity_rounding() {
    let err = KeyedRateLimitConfig::default()
        .capacity(0)
        .validate()
        .unwrap_err();
    assert_eq!(err.field, "keyed_rate_limit.capacity");
    let err = KeyedRateLimitConfig::per(0, Duration::from_secs(1))
        .validate()
        .unwrap_err();
    assert_eq!(err.field, "keyed_rate_limit.permits");
    assert!(KeyedRateLimiter::<u32>::new(KeyedRateLimitConfig::default().burst(0)).is_err());
    // Capacity splits over power-of-two shards, rounding down.
    for (capacity, effective) in [
        (1, 1),
        (100, 100),
        (1000, 1000),
        (1001, 1000),
        (99_999, 99_968),
    ] {
        let limiter =
            KeyedRateLimiter::<u32>::new(KeyedRateLimitConfig::default().capacity(capacity))
                .unwrap();
        assert_eq!(limiter.capacity(), effective, "capacity {capacity}");
        assert!(limiter.is_empty());
    }
}

#[cfg(feature = "serde")]
#[test]
fn keyed_config_serde_round_trip() {
    let config = KeyedRateLimitConfig::per(10, Duration::from_secs(1))
        .name("per_device")
        .capacity(5000);
    let json = serde_json::to_value(&config).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "name": "per_device", "permits": 10, "period": "1s", "burst": null,
            "capacity": 5000
        })
    );
    assert_eq!(
        serde_json::from_value::<KeyedRateLimitConfig>(json).unwrap(),
        config
    );
    assert!(serde_json::from_str::<KeyedRateLimitConfig>(r#"{"mode": "wait"}"#).is_err());
}
