//! A rate limiter per key (device, tenant, peer address) whose memory is
//! bounded by a capacity, even under a flood of distinct keys.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::config::KeyedRateLimitConfig;
use super::gcra::{Gcra, GcraCell};
use super::limiter::{CheckError, NotUntil};
use super::metrics::{DecisionMetrics, KeyMetrics};
use crate::clock::Epoch;
use crate::lock::lock;
use crate::{Clock, ConfigError, TokioClock, Validated};

/// Keys evicted so far, by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Evictions {
    /// Keys whose bucket was full: indistinguishable from an unknown key,
    /// so evicting them loses nothing.
    pub idle: u64,
    /// Least recently used keys with permits in use, evicted because the
    /// limiter was at capacity: each restarts with a full burst if seen
    /// again.
    pub busy: u64,
}

/// One GCRA state per key, in sharded maps with a capacity.
///
/// A key's state is created on its first check. When a shard is full, the
/// limiter first drops every idle key (bucket full again; lossless), and
/// then, if that freed less than an eighth of the shard, the least recently
/// used keys until an eighth is free. Evicting in batches keeps the cost
/// of a flood of new keys amortised constant; the price is that an evicted
/// key that still had permits in use gets a fresh burst when it returns
/// (counted in [`Evictions::busy`]). Keys checked often are never the
/// least recently used, so hot keys keep exact limits.
///
/// Clones share the maps. Each check locks one shard's mutex.
///
/// ```
/// use std::time::Duration;
/// use iot_resilience::ManualClock;
/// use iot_resilience::rate_limit::{KeyedRateLimitConfig, KeyedRateLimiter};
///
/// let config = KeyedRateLimitConfig::per(1, Duration::from_secs(1)).capacity(1000);
/// let limiter = KeyedRateLimiter::with_clock(config, ManualClock::new()).unwrap();
/// assert!(limiter.check(&"sensor-1", 1).is_ok());
/// assert!(limiter.check(&"sensor-1", 1).is_err());
/// assert!(limiter.check(&"sensor-2", 1).is_ok());
/// assert_eq!(limiter.len(), 2);
/// ```
pub struct KeyedRateLimiter<K, C = TokioClock> {
    inner: Arc<Inner<K, C>>,
}

struct Inner<K, C> {
    shards: Box<[Mutex<Shard<K>>]>,
    hasher: RandomState,
    per_shard: usize,
    /// The quota in effect, for reads outside the shard locks (`burst`,
    /// `interval`). Each shard keeps its own copy, which the keys' TATs
    /// in it follow: see [`KeyedRateLimiter::update`].
    gcra: GcraCell,
    /// The settings in effect; also serialises updates.
    config: Mutex<KeyedRateLimitConfig>,
    epoch: Epoch,
    clock: C,
    name: Cow<'static, str>,
    idle_evictions: AtomicU64,
    busy_evictions: AtomicU64,
    decisions: DecisionMetrics,
    keys: KeyMetrics,
}

struct Shard<K> {
    /// The quota this shard's TATs are kept under (changed, and the TATs
    /// carried over to it, under the shard's lock).
    gcra: Gcra,
    map: HashMap<K, Entry>,
    /// Logical clock for LRU order: unique per access, so a batch eviction
    /// removes exactly the number of keys it picks even when the wall clock
    /// stands still.
    tick: u64,
    /// Reused buffer for picking the LRU threshold.
    scratch: Vec<u64>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    tat: u64,
    touched: u64,
}

/// Most shards; fewer for small capacities so each shard has room for a
/// useful number of keys (at least 64).
const MAX_SHARDS: usize = 32;
const MIN_KEYS_PER_SHARD: usize = 64;

impl<K: Hash + Eq + Clone> KeyedRateLimiter<K, TokioClock> {
    /// A keyed limiter on tokio's clock.
    pub fn new(config: KeyedRateLimitConfig) -> Result<Self, ConfigError> {
        Self::with_clock(config, TokioClock)
    }

    /// A keyed limiter on tokio's clock for a configuration validated by
    /// [`KeyedRateLimitConfig::build`]; cannot fail.
    pub fn from_validated(config: Validated<KeyedRateLimitConfig>) -> Self {
        Self::from_validated_with_clock(config, TokioClock)
    }
}

impl<K: Hash + Eq + Clone, C: Clock> KeyedRateLimiter<K, C> {
    /// A keyed limiter reading time from `clock`.
    pub fn with_clock(config: KeyedRateLimitConfig, clock: C) -> Result<Self, ConfigError> {
        config
            .build()
            .map(|config| Self::from_validated_with_clock(config, clock))
    }

    /// A keyed limiter reading time from `clock`, for a configuration validated
    /// by [`KeyedRateLimitConfig::build`]; cannot fail.
    pub fn from_validated_with_clock(config: Validated<KeyedRateLimitConfig>, clock: C) -> Self {
        let config = config.into_inner();
        let wanted = (config.capacity / MIN_KEYS_PER_SHARD).clamp(1, MAX_SHARDS);
        // Largest power of two not above `wanted`.
        let shards = 1usize << (usize::BITS - 1 - wanted.leading_zeros());
        let per_shard = config.capacity / shards;
        let gcra = Gcra::new(config.permits, config.period, config.effective_burst());
        let shards = (0..shards)
            .map(|_| {
                Mutex::new(Shard {
                    gcra,
                    map: HashMap::new(),
                    tick: 0,
                    scratch: Vec::new(),
                })
            })
            .collect();
        let epoch = clock.epoch();
        Self {
            inner: Arc::new(Inner {
                shards,
                hasher: RandomState::new(),
                per_shard,
                gcra: GcraCell::new(gcra),
                epoch,
                clock,
                name: config.name.clone(),
                idle_evictions: AtomicU64::new(0),
                busy_evictions: AtomicU64::new(0),
                decisions: DecisionMetrics::new(&config.name),
                keys: KeyMetrics::new(&config.name),
                config: Mutex::new(config),
            }),
        }
    }

    /// Takes `cost` permits for `key` now, or says when they will be
    /// available. A cost of 0 always succeeds (and creates no state); a
    /// cost above the burst always fails.
    pub fn check(&self, key: &K, cost: u32) -> Result<(), CheckError> {
        let inner = &*self.inner;
        self.take(key, cost, inner.clock.nanos_since(&inner.epoch))
    }

    /// [`check`](Self::check) at a given instant.
    pub fn check_at(&self, key: &K, cost: u32, now: Instant) -> Result<(), CheckError> {
        self.take(key, cost, self.inner.epoch.nanos(now))
    }

    /// The check at `now` nanoseconds since the epoch.
    fn take(&self, key: &K, cost: u32, now: u64) -> Result<(), CheckError> {
        let inner = &*self.inner;
        if cost == 0 {
            return Ok(());
        }
        let mut shard = self.shard(key);
        let gcra = shard.gcra;
        if gcra.exceeds_burst(cost) {
            return Err(CheckError::InsufficientCapacity {
                cost,
                burst: gcra.burst(),
            });
        }
        shard.tick += 1;
        let tick = shard.tick;
        if let Some(entry) = shard.map.get_mut(key) {
            entry.touched = tick;
            return match gcra.test(entry.tat, now, cost, 0) {
                Ok(tat) => {
                    entry.tat = tat;
                    Ok(())
                }
                Err(at) => Err(self.not_until(at, now)),
            };
        }
        // An unknown key is a full bucket; cost <= burst always conforms.
        let tat = gcra
            .test(0, now, cost, 0)
            .map_err(|at| self.not_until(at, now))?;
        // Make room and insert under one lock, so the shard never exceeds
        // its share of the capacity.
        let evicted = if shard.map.len() >= inner.per_shard {
            shard.make_room(now, inner.per_shard)
        } else {
            (0, 0)
        };
        shard.map.insert(key.clone(), Entry { tat, touched: tick });
        drop(shard);
        inner.keys.inserted();
        self.record_evictions(evicted.0, evicted.1);
        Ok(())
    }

    /// Permits available now for `key`.
    pub fn available(&self, key: &K) -> u32 {
        let inner = &*self.inner;
        let now = inner.clock.nanos_since(&inner.epoch);
        let shard = self.shard(key);
        let tat = shard.map.get(key).map_or(0, |e| e.tat);
        shard.gcra.available(tat, now)
    }

    /// Drops every idle key (bucket full again); returns how many. Never
    /// needed for the memory bound, but keeps memory low after a burst of
    /// keys has gone quiet.
    pub fn purge_idle(&self) -> usize {
        let inner = &*self.inner;
        let now = inner.clock.nanos_since(&inner.epoch);
        let mut purged = 0;
        for shard in inner.shards.iter() {
            let mut shard = lock(shard);
            let before = shard.map.len();
            shard.map.retain(|_, e| e.tat > now);
            purged += before - shard.map.len();
        }
        self.record_evictions(purged, 0);
        purged
    }

    /// Changes every key's quota while the limiter runs, for every clone,
    /// layer and service sharing it.
    ///
    /// `config` is validated as [`KeyedRateLimitConfig::validate`] does;
    /// an invalid one returns that [`ConfigError`] and changes nothing, and
    /// so does a different `name` (it labels the metrics) or `capacity` (it
    /// sized the shards).
    ///
    /// As [`RateLimiter::update`](super::RateLimiter::update) does for its
    /// one key, each key keeps the permits it has in use (they replenish at
    /// the new rate; a smaller burst may leave none available until they
    /// do), and a full bucket stays full, up to the new burst. Shards are
    /// updated one after another, each under its lock: a check sees its
    /// key's state and quota both before or both after the change. The
    /// update costs a pass over the keys held (a few milliseconds for the
    /// default capacity of 10,000).
    ///
    /// ```
    /// use std::time::Duration;
    /// use iot_resilience::ManualClock;
    /// use iot_resilience::rate_limit::{KeyedRateLimitConfig, KeyedRateLimiter};
    ///
    /// let config = KeyedRateLimitConfig::per(10, Duration::from_secs(1)).burst(5);
    /// let limiter = KeyedRateLimiter::with_clock(config.clone(), ManualClock::new()).unwrap();
    /// for _ in 0..3 {
    ///     limiter.check(&"meter-1", 1).unwrap();
    /// }
    /// limiter.update(config.clone().burst(10)).unwrap();
    /// assert_eq!(limiter.available(&"meter-1"), 7); // 3 still in use
    /// assert_eq!(limiter.available(&"meter-2"), 10);
    ///
    /// let bad = limiter.update(config.capacity(5)).unwrap_err();
    /// assert_eq!(bad.field, "keyed_rate_limit.capacity");
    /// assert_eq!(limiter.burst(), 10);
    /// ```
    pub fn update(&self, config: KeyedRateLimitConfig) -> Result<(), ConfigError> {
        config.validate()?;
        let inner = &*self.inner;
        let mut current = inner.config.lock().unwrap_or_else(PoisonError::into_inner);
        crate::config::check_name_unchanged("keyed_rate_limit", &current.name, &config.name)?;
        crate::config::check_unchanged(
            "keyed_rate_limit.capacity",
            &current.capacity,
            &config.capacity,
            "it sized the limiter's shards; make a new limiter",
        )?;
        let new = Gcra::new(config.permits, config.period, config.effective_burst());
        inner.gcra.store(new);
        for shard in inner.shards.iter() {
            let mut shard = lock(shard);
            let old = shard.gcra;
            let now = inner.clock.nanos_since(&inner.epoch);
            for entry in shard.map.values_mut() {
                entry.tat = new.rescale(&old, entry.tat, now);
            }
            shard.gcra = new;
        }
        *current = config;
        Ok(())
    }
}

impl<K, C> KeyedRateLimiter<K, C> {
    /// Keys currently tracked (never more than [`capacity`](Self::capacity)).
    pub fn len(&self) -> usize {
        self.inner.shards.iter().map(|s| lock(s).map.len()).sum()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most keys kept: the configured capacity rounded down to a
    /// multiple of the shard count.
    pub fn capacity(&self) -> usize {
        self.inner.per_shard * self.inner.shards.len()
    }

    /// Keys evicted so far.
    pub fn evictions(&self) -> Evictions {
        Evictions {
            idle: self.inner.idle_evictions.load(Ordering::Relaxed),
            busy: self.inner.busy_evictions.load(Ordering::Relaxed),
        }
    }

    /// The most permits available at once per key.
    pub fn burst(&self) -> u32 {
        self.inner.gcra.load().burst()
    }

    /// The time to replenish one permit.
    pub fn interval(&self) -> Duration {
        self.inner.gcra.load().interval()
    }

    /// The configured name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The settings in effect: the configuration the limiter was made
    /// with, or the last one applied by [`update`](Self::update).
    pub fn config(&self) -> KeyedRateLimitConfig {
        self.inner
            .config
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn metrics(&self) -> &DecisionMetrics {
        &self.inner.decisions
    }

    fn not_until(&self, at: u64, now: u64) -> CheckError {
        CheckError::NotUntil(NotUntil::new(
            self.inner.epoch.instant(at),
            Duration::from_nanos(at.saturating_sub(now)),
        ))
    }

    fn record_evictions(&self, idle: usize, busy: usize) {
        let inner = &*self.inner;
        if idle + busy == 0 {
            return;
        }
        inner
            .idle_evictions
            .fetch_add(idle as u64, Ordering::Relaxed);
        inner
            .busy_evictions
            .fetch_add(busy as u64, Ordering::Relaxed);
        inner.keys.evicted(idle, busy);
        if busy > 0 {
            tracing::debug!(
                name = %inner.name,
                idle,
                busy,
                "keyed rate limiter at capacity: evicted least recently used keys, which restart with a full burst"
            );
        } else {
            tracing::trace!(name = %inner.name, idle, "keyed rate limiter evicted idle keys");
        }
    }
}

impl<K: Hash, C> KeyedRateLimiter<K, C> {
    fn shard(&self, key: &K) -> MutexGuard<'_, Shard<K>> {
        let inner = &*self.inner;
        // The shard count is a power of two.
        let index = (inner.hasher.hash_one(key) as usize) & (inner.shards.len() - 1);
        lock(&inner.shards[index])
    }
}

impl<K: Hash + Eq> Shard<K> {
    /// Frees at least one slot, and an eighth of the shard unless idle keys
    /// alone freed one; returns (idle, busy) evicted.
    fn make_room(&mut self, now: u64, per_shard: usize) -> (usize, usize) {
        let before = self.map.len();
        self.map.retain(|_, e| e.tat > now);
        let idle = before - self.map.len();
        let target = per_shard - (per_shard / 8).max(1);
        if self.map.len() <= target {
            return (idle, 0);
        }
        let excess = self.map.len() - target;
        self.scratch.clear();
        self.scratch.extend(self.map.values().map(|e| e.touched));
        let (_, threshold, _) = self.scratch.select_nth_unstable(excess - 1);
        let threshold = *threshold;
        self.map.retain(|_, e| e.touched > threshold);
        (idle, excess)
    }
}

impl<K, C> Clone for KeyedRateLimiter<K, C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K, C> fmt::Debug for KeyedRateLimiter<K, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedRateLimiter")
            .field("name", &self.inner.name)
            .field("gcra", &self.inner.gcra.load())
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}
