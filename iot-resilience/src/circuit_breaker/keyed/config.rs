//! Configuration of per-key breakers.

use std::time::Duration;

use crate::ConfigError;
use crate::circuit_breaker::CircuitBreakerConfig;

/// Default [`KeyedCircuitBreakerConfig::max_memory`]: 64 MiB.
pub const DEFAULT_KEYED_MAX_MEMORY: usize = 64 << 20;

/// Memory of a per-key breaker besides its window, as the budget counts
/// it: the breaker's state, configuration copy and metric handles, its
/// map entry (with the hash table's slack) and the key's `Debug` form for
/// logs, for keys whose `Debug` form and value take up to 64 bytes each
/// (`tests/circuit_breaker_memory.rs` measures 0.8 to 0.95 KiB; longer
/// keys add their length). A breaker whose name is a `String`
/// rather than a `&'static str` adds the name's length too.
pub const KEY_OVERHEAD_BYTES: usize = 1536;

/// Configuration of a [`KeyedCircuitBreaker`](super::KeyedCircuitBreaker):
/// the breaker every key gets, and the memory bound.
///
/// Memory is bounded twice: at most [`capacity`](Self::capacity) keys,
/// and `capacity` times the memory of one key (its window, see
/// [`SlidingWindow::memory_bytes`](crate::circuit_breaker::SlidingWindow::memory_bytes),
/// plus [`KEY_OVERHEAD_BYTES`]) at most [`max_memory`](Self::max_memory),
/// checked by [`validate`](Self::validate). A window of a million calls
/// (1 MB) per key is fine for one breaker, not for ten thousand keys
/// (about 10 GB): [`worst_case_memory`](Self::worst_case_memory) says what
/// a configuration may take.
///
/// Durations are strings in [the iot-rs duration format](iot_duration)
/// (`"250ms"`, `"1.5s"`, `"1m30s"`) or integer milliseconds.
///
/// ```
/// use std::time::Duration;
/// use iot_resilience::circuit_breaker::{CircuitBreakerConfig, KeyedCircuitBreakerConfig, SlidingWindow};
///
/// let config = KeyedCircuitBreakerConfig::new(CircuitBreakerConfig::default().name("per-device"))
///     .capacity(5_000)
///     .idle_timeout(Duration::from_secs(600));
/// assert!(config.validate().is_ok());
/// assert!(config.clone().capacity(0).validate().is_err());
/// // 5,000 keys x (100 bytes of window + 1.5 KiB) = 8.2 MB.
/// assert_eq!(config.worst_case_memory(), 5_000 * (100 + 1536));
///
/// // A million-call window per key for 10,000 keys would be 10 GB.
/// let huge = KeyedCircuitBreakerConfig::new(
///     CircuitBreakerConfig::default().sliding_window(SlidingWindow::count(1_000_000)),
/// );
/// let err = huge.validate().unwrap_err();
/// assert_eq!(err.field, "keyed_circuit_breaker.max_memory");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[non_exhaustive]
pub struct KeyedCircuitBreakerConfig {
    /// The breaker created for each key (its `name` labels them all).
    pub breaker: CircuitBreakerConfig,
    /// Most keys held at once. Default 10 000.
    pub capacity: usize,
    /// Keys unused for longer than this are evicted first. Default 10 min.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub idle_timeout: Duration,
    /// The most memory, in bytes, the breakers may take when all
    /// `capacity` keys are held (see the type's docs for how it is
    /// counted). Default [`DEFAULT_KEYED_MAX_MEMORY`], 64 MiB.
    pub max_memory: usize,
}

impl Default for KeyedCircuitBreakerConfig {
    fn default() -> Self {
        Self {
            breaker: CircuitBreakerConfig::default(),
            capacity: 10_000,
            idle_timeout: Duration::from_secs(600),
            max_memory: DEFAULT_KEYED_MAX_MEMORY,
        }
    }
}

impl KeyedCircuitBreakerConfig {
    /// Per-key breakers configured by `breaker`, with default bounds.
    pub fn new(breaker: CircuitBreakerConfig) -> Self {
        Self {
            breaker,
            ..Self::default()
        }
    }

    /// The memory one key's breaker is counted for: its window plus
    /// [`KEY_OVERHEAD_BYTES`].
    pub fn memory_per_key(&self) -> usize {
        self.breaker
            .sliding_window
            .memory_bytes()
            .saturating_add(KEY_OVERHEAD_BYTES)
    }

    /// The memory the breakers take with all `capacity` keys held, as
    /// [`max_memory`](Self::max_memory) bounds it.
    pub fn worst_case_memory(&self) -> usize {
        self.capacity.saturating_mul(self.memory_per_key())
    }

    /// Checks the bounds, the breaker configuration, and that the worst
    /// case fits in [`max_memory`](Self::max_memory).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.capacity == 0 {
            return Err(ConfigError::new(
                "keyed_circuit_breaker.capacity",
                "must be at least 1",
            ));
        }
        if self.idle_timeout.is_zero() {
            return Err(ConfigError::new(
                "keyed_circuit_breaker.idle_timeout",
                "must be greater than zero",
            ));
        }
        // The breaker first: an invalid window's size is meaningless.
        self.breaker.validate()?;
        let worst = self.worst_case_memory();
        if worst > self.max_memory {
            return Err(ConfigError::new(
                "keyed_circuit_breaker.max_memory",
                format!(
                    "{} keys x {} bytes per key ({}: {} bytes, + {KEY_OVERHEAD_BYTES} per breaker) = {} \
                     exceeds max_memory = {}; lower capacity or the window, or raise max_memory",
                    self.capacity,
                    self.memory_per_key(),
                    self.breaker.sliding_window,
                    self.breaker.sliding_window.memory_bytes(),
                    bytes(worst),
                    bytes(self.max_memory),
                ),
            ));
        }
        Ok(())
    }

    /// Sets [`max_memory`](Self::max_memory), in bytes.
    pub fn max_memory(mut self, bytes: usize) -> Self {
        self.max_memory = bytes;
        self
    }

    /// Sets [`breaker`](Self::breaker).
    pub fn breaker(mut self, breaker: CircuitBreakerConfig) -> Self {
        self.breaker = breaker;
        self
    }

    /// Sets [`capacity`](Self::capacity).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Sets [`idle_timeout`](Self::idle_timeout).
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }
}

/// `bytes` for people: "9.3 GiB (10007680000 bytes)".
fn bytes(n: usize) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = None;
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = Some(u);
    }
    match unit {
        Some(u) => format!("{value:.1} {u} ({n} bytes)"),
        None => format!("{n} bytes"),
    }
}

crate::config::validated_config!(KeyedCircuitBreakerConfig);
