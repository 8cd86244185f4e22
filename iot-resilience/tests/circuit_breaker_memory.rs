//! Per-key breakers: memory is bounded in bytes, not only in keys
//! (issue #17: a million-call window passed validation and took 1 MB per
//! key, about 9.4 GiB at the default capacity).
//!
//! The budget's arithmetic is checked against what the allocator sees: a
//! byte-counting global allocator measures the live memory of a thousand
//! keys and compares it with `memory_per_key`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use iot_resilience::ManualClock;
use iot_resilience::circuit_breaker::{
    CircuitBreakerConfig, DEFAULT_KEYED_MAX_MEMORY, KEY_OVERHEAD_BYTES, KeyedCircuitBreaker,
    KeyedCircuitBreakerConfig, MAX_COUNT_WINDOW, MAX_TIME_BUCKETS, SlidingWindow,
    TIME_BUCKET_BYTES,
};

struct Counting;

thread_local! {
    /// Live bytes allocated by this thread (allocations minus frees).
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the counter is a thread-local
// `Cell` (`try_with`, so allocations during thread teardown are fine).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LIVE.try_with(|c| c.set(c.get() + layout.size() as i64));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = LIVE.try_with(|c| c.set(c.get() - layout.size() as i64));
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const KEYS: usize = 1_000;

fn keyed(window: SlidingWindow) -> KeyedCircuitBreakerConfig {
    KeyedCircuitBreakerConfig::new(CircuitBreakerConfig::default().sliding_window(window))
        // Room to spare: keys spread over shards unevenly, and none may be
        // evicted while measuring.
        .capacity(KEYS * 4)
}

/// Live bytes per key after creating `KEYS` breakers with keys from `key`.
fn measured_per_key<K>(config: KeyedCircuitBreakerConfig, key: impl Fn(usize) -> K) -> usize
where
    K: std::hash::Hash + Eq + Clone + std::fmt::Debug + Send + Sync + 'static,
{
    let breakers = KeyedCircuitBreaker::with_clock(config, ManualClock::new()).unwrap();
    let keys: Vec<K> = (0..KEYS).map(&key).collect();
    let before = LIVE.with(Cell::get);
    for k in &keys {
        drop(breakers.get(k));
    }
    let after = LIVE.with(Cell::get);
    assert_eq!(breakers.len(), KEYS);
    usize::try_from(after - before).unwrap() / KEYS
}

#[test]
fn the_budget_covers_what_a_key_really_takes() {
    // The counter works: a 1,000-byte vector is 1,000 live bytes.
    let before = LIVE.with(Cell::get);
    let v = vec![0u8; 1000];
    assert_eq!(LIVE.with(Cell::get) - before, 1000);
    drop(v);

    for window in [
        SlidingWindow::count(1),
        SlidingWindow::count(100),
        SlidingWindow::count(10_000),
        SlidingWindow::time(Duration::from_secs(60)),
        SlidingWindow::time_with_bucket(Duration::from_secs(60), Duration::from_millis(100)),
    ] {
        let config = keyed(window);
        let counted = config.memory_per_key();
        for (what, real) in [
            ("u64 keys", measured_per_key(config.clone(), |i| i as u64)),
            (
                "60-byte string keys",
                measured_per_key(config.clone(), |i| format!("{i:0>60}")),
            ),
        ] {
            assert!(
                real <= counted,
                "{window}, {what}: {real} bytes per key measured, the budget counts {counted}"
            );
            // And the count is not so generous that the budget means
            // little: at most 1 KiB above the truth.
            assert!(
                counted - real <= 1024,
                "{window}, {what}: {real} bytes measured, {counted} counted"
            );
        }
    }
}

#[test]
fn window_memory_is_what_the_window_holds() {
    assert_eq!(SlidingWindow::count(1_000_000).memory_bytes(), 1_000_000);
    assert_eq!(
        SlidingWindow::time(Duration::from_secs(60)).memory_bytes(),
        60 * TIME_BUCKET_BYTES
    );
    assert_eq!(
        SlidingWindow::time_with_bucket(Duration::from_secs(10), Duration::from_millis(1))
            .memory_bytes(),
        10_000 * TIME_BUCKET_BYTES
    );
}

#[test]
fn huge_windows_per_key_are_rejected_with_the_field_and_the_numbers() {
    // The two configurations of the issue: the largest windows a single
    // breaker accepts, for the default 10,000 keys.
    let count = KeyedCircuitBreakerConfig::new(
        CircuitBreakerConfig::default().sliding_window(SlidingWindow::count(MAX_COUNT_WINDOW)),
    );
    assert!(count.breaker.validate().is_ok(), "fine for one breaker");
    let err = count.validate().unwrap_err();
    assert_eq!(err.field, "keyed_circuit_breaker.max_memory");
    let expected_worst = 10_000 * (1_000_000 + KEY_OVERHEAD_BYTES);
    assert_eq!(KEY_OVERHEAD_BYTES, 1536);
    assert_eq!(count.worst_case_memory(), expected_worst);
    assert!(
        err.message.contains("10000 keys x 1001536 bytes per key")
            && err.message.contains("the last 1000000 calls")
            && err.message.contains(&format!("({expected_worst} bytes)"))
            && err.message.contains("max_memory = 64.0 MiB"),
        "{err}"
    );

    let time = KeyedCircuitBreakerConfig::new(CircuitBreakerConfig::default().sliding_window(
        SlidingWindow::time_with_bucket(
            Duration::from_millis(MAX_TIME_BUCKETS),
            Duration::from_millis(1),
        ),
    ));
    assert!(time.breaker.validate().is_ok());
    let err = time.validate().unwrap_err();
    assert_eq!(err.field, "keyed_circuit_breaker.max_memory");
    assert!(err.message.contains("buckets of 1ms"), "{err}");

    // Construction fails the same way: no breaker, no memory.
    assert_eq!(
        KeyedCircuitBreaker::<u32>::new(count.clone())
            .unwrap_err()
            .field,
        "keyed_circuit_breaker.max_memory"
    );

    // Fewer keys, or a larger budget, make the same window acceptable.
    assert!(count.clone().capacity(60).validate().is_ok());
    assert!(count.max_memory(expected_worst).validate().is_ok());
}

#[test]
fn defaults_fit_with_room() {
    let config = KeyedCircuitBreakerConfig::default();
    assert!(config.validate().is_ok());
    assert_eq!(config.max_memory, DEFAULT_KEYED_MAX_MEMORY);
    // 10,000 keys x (100 + 1536) bytes = 16 MB of the 64 MiB.
    assert_eq!(config.worst_case_memory(), 10_000 * 1636);
    // A one-minute window in one-second buckets fits too.
    let minute = KeyedCircuitBreakerConfig::new(
        CircuitBreakerConfig::default()
            .sliding_window(SlidingWindow::time(Duration::from_secs(60))),
    );
    assert!(minute.validate().is_ok());
}

#[cfg(feature = "serde")]
#[test]
fn max_memory_is_a_config_field() {
    let config: KeyedCircuitBreakerConfig =
        serde_json::from_str(r#"{"capacity": 100, "max_memory": 200000}"#).unwrap();
    assert_eq!(config.max_memory, 200_000);
    assert!(config.validate().is_ok());
    let config: KeyedCircuitBreakerConfig =
        serde_json::from_str(r#"{"capacity": 1000, "max_memory": 200000}"#).unwrap();
    assert_eq!(
        config.validate().unwrap_err().field,
        "keyed_circuit_breaker.max_memory"
    );
}
