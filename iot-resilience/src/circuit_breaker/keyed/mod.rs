//! Per-key breakers (per device, per host) with bounded memory.

mod config;
mod layer;
mod service;

pub use config::{DEFAULT_KEYED_MAX_MEMORY, KEY_OVERHEAD_BYTES, KeyedCircuitBreakerConfig};
pub use layer::KeyedCircuitBreakerLayer;
pub use service::KeyedCircuitBreakerService;

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::CircuitBreakerHandle;
use super::telemetry::{KeyedMetrics, Metrics};
use crate::clock::Epoch;
use crate::clock::nanos;
use crate::lock::lock;
use crate::{Clock, ConfigError, TokioClock, Validated};

/// Most shards; each has its own mutex.
const MAX_SHARDS: usize = 16;
/// Fewest keys per shard: small capacities use one shard, so keys hashing
/// to the same shard do not evict each other while others are empty.
const MIN_SHARD_CAPACITY: usize = 64;

struct Entry {
    handle: CircuitBreakerHandle,
    /// Last use, in nanoseconds since the keyed breaker's creation.
    last_used: u64,
    /// Shard-wide use counter at the last use: a strict LRU order even when
    /// the clock does not move.
    seq: u64,
}

struct Shard<K> {
    map: HashMap<K, Entry>,
    seq: u64,
}

struct Shared<K> {
    /// The settings in effect: read when a key's breaker is made (under
    /// its shard's lock; this lock is taken last, and never held while
    /// taking another).
    config: Mutex<KeyedCircuitBreakerConfig>,
    /// Serialises [`KeyedCircuitBreaker::update`]s (taken before the shard
    /// locks).
    updating: Mutex<()>,
    /// The breakers' `name`, which cannot change: for logs.
    name: Cow<'static, str>,
    clock: Arc<dyn Clock>,
    epoch: Epoch,
    hasher: RandomState,
    shard_capacity: usize,
    idle_nanos: AtomicU64,
    shards: Box<[Mutex<Shard<K>>]>,
    metrics: Arc<Metrics>,
    keyed_metrics: KeyedMetrics,
}

/// A family of circuit breakers, one per key, created on first use.
///
/// Memory is bounded: at most [`capacity`](KeyedCircuitBreakerConfig::capacity)
/// breakers are held (the keys are spread over up to 16 mutex-protected
/// shards of at least 64 keys, each holding `capacity / shards`). When a shard is full, keys
/// idle for longer than [`idle_timeout`](KeyedCircuitBreakerConfig::idle_timeout)
/// are evicted first, then the least recently used eighth of the shard,
/// breakers that admit calls (closed, disabled, metrics-only) before open
/// and half-open ones, so a flood of new keys does not readily erase what is
/// known about a failing one. An evicted breaker still in use by a call
/// lives until that call ends; the key's next call starts a fresh one.
/// [`evict_idle`](Self::evict_idle) drops idle keys on demand.
///
/// The map lookup takes a shard's mutex; the breaker itself is lock-free.
/// All keys share the configured `name` in logs and metrics (logs also carry
/// the key's `Debug` form); per-key metric labels would be unbounded.
///
/// ```
/// use iot_resilience::circuit_breaker::{
///     CircuitBreakerConfig, KeyedCircuitBreaker, KeyedCircuitBreakerConfig, State,
/// };
///
/// let config = CircuitBreakerConfig::default()
///     .sliding_window(iot_resilience::circuit_breaker::SlidingWindow::count(2))
///     .minimum_number_of_calls(2);
/// let breakers = KeyedCircuitBreaker::new(KeyedCircuitBreakerConfig::new(config)).unwrap();
/// for _ in 0..2 {
///     breakers.get(&"sensor-7").try_acquire().unwrap().failure();
/// }
/// assert_eq!(breakers.get(&"sensor-7").state(), State::Open);
/// assert_eq!(breakers.get(&"sensor-8").state(), State::Closed);
/// ```
pub struct KeyedCircuitBreaker<K> {
    shared: Arc<Shared<K>>,
}

impl<K> Clone for KeyedCircuitBreaker<K> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<K> fmt::Debug for KeyedCircuitBreaker<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedCircuitBreaker")
            .field("name", &self.shared.name)
            .field(
                "capacity",
                &(self.shared.shard_capacity * self.shared.shards.len()),
            )
            .finish_non_exhaustive()
    }
}

impl<K> KeyedCircuitBreaker<K>
where
    K: Hash + Eq + Clone + fmt::Debug + Send + Sync + 'static,
{
    /// Per-key breakers on tokio's clock. Fails if `config` is invalid.
    pub fn new(config: KeyedCircuitBreakerConfig) -> Result<Self, ConfigError> {
        Self::with_clock(config, TokioClock)
    }

    /// Per-key breakers on tokio's clock for a configuration validated by
    /// [`KeyedCircuitBreakerConfig::build`]; cannot fail.
    pub fn from_validated(config: Validated<KeyedCircuitBreakerConfig>) -> Self {
        Self::from_validated_with_clock(config, TokioClock)
    }

    /// Per-key breakers reading time from `clock`.
    pub fn with_clock(
        config: KeyedCircuitBreakerConfig,
        clock: impl Clock,
    ) -> Result<Self, ConfigError> {
        config
            .build()
            .map(|config| Self::from_validated_with_clock(config, clock))
    }

    /// Per-key breakers reading time from `clock`, for a configuration validated
    /// by [`KeyedCircuitBreakerConfig::build`]; cannot fail.
    pub fn from_validated_with_clock(
        config: Validated<KeyedCircuitBreakerConfig>,
        clock: impl Clock,
    ) -> Self {
        let config = config.into_inner();
        let shards = (config.capacity / MIN_SHARD_CAPACITY).clamp(1, MAX_SHARDS);
        let clock: Arc<dyn Clock> = Arc::new(clock);
        let metrics = Arc::new(Metrics::new(&config.breaker.name));
        Self {
            shared: Arc::new(Shared {
                epoch: clock.epoch(),
                clock,
                hasher: RandomState::new(),
                shard_capacity: (config.capacity / shards).max(1),
                idle_nanos: AtomicU64::new(nanos(config.idle_timeout)),
                shards: (0..shards)
                    .map(|_| {
                        Mutex::new(Shard {
                            map: HashMap::new(),
                            seq: 0,
                        })
                    })
                    .collect(),
                metrics,
                keyed_metrics: KeyedMetrics::new(&config.breaker.name),
                name: config.breaker.name.clone(),
                updating: Mutex::new(()),
                config: Mutex::new(config),
            }),
        }
    }

    /// The settings in effect: the configuration the breakers were made
    /// with, or the last one applied by [`update`](Self::update).
    pub fn config(&self) -> KeyedCircuitBreakerConfig {
        lock(&self.shared.config).clone()
    }

    /// Changes the settings of every key's breaker while they run, and of
    /// those made from now on.
    ///
    /// `config` is validated as [`KeyedCircuitBreakerConfig::validate`]
    /// does; an invalid one returns that [`ConfigError`] and changes
    /// nothing, and so does a change of what sized or labels the breakers:
    /// `capacity`, the breaker's `name` or its `sliding_window`. Each
    /// breaker keeps its state and window, as
    /// [`CircuitBreakerHandle::update`] describes; `idle_timeout` applies
    /// to the next eviction and `max_memory` is only checked. The keys are
    /// updated shard by shard, each under its lock: a breaker made
    /// meanwhile already has the new settings.
    pub fn update(&self, config: KeyedCircuitBreakerConfig) -> Result<(), ConfigError> {
        config.validate()?;
        let s = &*self.shared;
        let _updating = lock(&s.updating);
        {
            let current = lock(&s.config);
            crate::config::check_name_unchanged(
                "circuit_breaker",
                &current.breaker.name,
                &config.breaker.name,
            )?;
            crate::config::check_unchanged(
                "keyed_circuit_breaker.capacity",
                &current.capacity,
                &config.capacity,
                "it sized the shards; make a new keyed breaker",
            )?;
            crate::config::check_unchanged(
                "circuit_breaker.sliding_window",
                &current.breaker.sliding_window,
                &config.breaker.sliding_window,
                "each key's window holds its recorded calls; make a new keyed breaker",
            )?;
        }
        // Nothing can fail from here on. Keys made meanwhile take the new
        // configuration from `s.config`; the others get one shared copy,
        // without validating or allocating per key under the shard locks.
        let breaker = Arc::new(config.breaker.clone());
        s.idle_nanos
            .store(nanos(config.idle_timeout), Ordering::Relaxed);
        *lock(&s.config) = config;
        for shard in s.shards.iter() {
            let shard = lock(shard);
            for entry in shard.map.values() {
                entry.handle.update_checked(breaker.clone());
            }
        }
        Ok(())
    }

    /// Most breakers held at once (the configured capacity, rounded down to
    /// a multiple of the shard count).
    pub fn capacity(&self) -> usize {
        self.shared.shard_capacity * self.shared.shards.len()
    }

    fn shard(&self, key: &K) -> MutexGuard<'_, Shard<K>> {
        let shards = &self.shared.shards;
        let i = (self.shared.hasher.hash_one(key) % shards.len() as u64) as usize;
        lock(&shards[i])
    }

    fn now(&self) -> u64 {
        self.shared.clock.nanos_since(&self.shared.epoch)
    }

    /// The breaker of `key`, created if absent (possibly evicting others).
    pub fn get(&self, key: &K) -> CircuitBreakerHandle {
        let now = self.now();
        let mut shard = self.shard(key);
        shard.seq += 1;
        let seq = shard.seq;
        if let Some(entry) = shard.map.get_mut(key) {
            entry.last_used = now;
            entry.seq = seq;
            return entry.handle.clone();
        }
        self.insert(&mut shard, key.clone(), now, seq)
    }

    /// Same as [`get`](Self::get), taking the key by value (no clone on
    /// insertion).
    pub(crate) fn get_owned(&self, key: K) -> CircuitBreakerHandle {
        let now = self.now();
        let mut shard = self.shard(&key);
        shard.seq += 1;
        let seq = shard.seq;
        if let Some(entry) = shard.map.get_mut(&key) {
            entry.last_used = now;
            entry.seq = seq;
            return entry.handle.clone();
        }
        self.insert(&mut shard, key, now, seq)
    }

    #[cold]
    fn insert(&self, shard: &mut Shard<K>, key: K, now: u64, seq: u64) -> CircuitBreakerHandle {
        if shard.map.len() >= self.shared.shard_capacity {
            self.make_room(shard, now);
        }
        let s = &self.shared;
        let breaker = lock(&s.config).breaker.clone();
        let handle = CircuitBreakerHandle::from_parts(
            breaker,
            Arc::clone(&s.clock),
            Arc::clone(&s.metrics),
            Some(format!("{key:?}").into_boxed_str()),
        );
        shard.map.insert(
            key,
            Entry {
                handle: handle.clone(),
                last_used: now,
                seq,
            },
        );
        s.keyed_metrics.added();
        handle
    }

    /// Evicts idle keys, then (if still full) the least recently used
    /// eighth, admitting breakers first.
    fn make_room(&self, shard: &mut Shard<K>, now: u64) {
        let idle = self.evict_idle_in(shard, now);
        let cap = self.shared.shard_capacity;
        let mut evicted = 0;
        if shard.map.len() >= cap {
            let target = (cap / 8).max(1).min(shard.map.len());
            let mut ranks: Vec<(bool, u64)> = shard.map.values().map(rank).collect();
            let (_, cutoff, _) = ranks.select_nth_unstable(target - 1);
            let cutoff = *cutoff;
            let before = shard.map.len();
            // Ranks are unique (`seq`), so exactly `target` entries go.
            shard.map.retain(|_, e| rank(e) > cutoff);
            evicted = before - shard.map.len();
            self.shared.keyed_metrics.evicted_capacity(evicted);
        }
        self.shared.keyed_metrics.removed(idle + evicted);
        tracing::debug!(
            name = %self.shared.name,
            idle,
            lru = evicted,
            "evicted per-key circuit breakers"
        );
    }

    fn evict_idle_in(&self, shard: &mut Shard<K>, now: u64) -> usize {
        let idle = self.shared.idle_nanos.load(Ordering::Relaxed);
        let before = shard.map.len();
        shard
            .map
            .retain(|_, e| now.saturating_sub(e.last_used) < idle);
        let n = before - shard.map.len();
        if n > 0 {
            self.shared.keyed_metrics.evicted_idle(n);
        }
        n
    }

    /// Evicts every key idle for longer than the idle timeout; returns how
    /// many. Call it periodically to give memory back between floods.
    pub fn evict_idle(&self) -> usize {
        let now = self.now();
        let mut total = 0;
        for shard in self.shared.shards.iter() {
            let mut shard = lock(shard);
            total += self.evict_idle_in(&mut shard, now);
        }
        self.shared.keyed_metrics.removed(total);
        total
    }

    /// The breaker of `key` if present, without creating it or marking it
    /// used.
    pub fn peek(&self, key: &K) -> Option<CircuitBreakerHandle> {
        self.shard(key).map.get(key).map(|e| e.handle.clone())
    }

    /// Forgets `key`'s breaker.
    pub fn remove(&self, key: &K) -> Option<CircuitBreakerHandle> {
        let removed = self.shard(key).map.remove(key).map(|e| e.handle);
        if removed.is_some() {
            self.shared.keyed_metrics.removed(1);
        }
        removed
    }

    /// Number of breakers held.
    pub fn len(&self) -> usize {
        self.shared
            .shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).map.len())
            .sum()
    }

    /// Whether no breaker is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every key with its breaker (a snapshot).
    pub fn entries(&self) -> Vec<(K, CircuitBreakerHandle)> {
        let mut out = Vec::new();
        for shard in self.shared.shards.iter() {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            out.extend(shard.map.iter().map(|(k, e)| (k.clone(), e.handle.clone())));
        }
        out
    }
}

/// Eviction order: admitting breakers (`false`) before open or half-open
/// ones, least recently used first.
fn rank(e: &Entry) -> (bool, u64) {
    (!e.handle.state().admits_all(), e.seq)
}
