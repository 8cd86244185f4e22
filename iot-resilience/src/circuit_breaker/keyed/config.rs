//! Configuration of per-key breakers.

use std::time::Duration;

use crate::ConfigError;
use crate::circuit_breaker::CircuitBreakerConfig;

/// Configuration of a [`KeyedCircuitBreaker`](super::KeyedCircuitBreaker):
/// the breaker every key gets, and the memory bound.
///
/// ```
/// use std::time::Duration;
/// use iot_resilience::circuit_breaker::{CircuitBreakerConfig, KeyedCircuitBreakerConfig};
///
/// let config = KeyedCircuitBreakerConfig::new(CircuitBreakerConfig::default().name("per-device"))
///     .capacity(5_000)
///     .idle_timeout(Duration::from_secs(600));
/// assert!(config.validate().is_ok());
/// assert!(config.clone().capacity(0).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct KeyedCircuitBreakerConfig {
    /// The breaker created for each key (its `name` labels them all).
    pub breaker: CircuitBreakerConfig,
    /// Most keys held at once. Default 10 000.
    pub capacity: usize,
    /// Keys unused for longer than this are evicted first. Default 10 min.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub idle_timeout: Duration,
}

impl Default for KeyedCircuitBreakerConfig {
    fn default() -> Self {
        Self {
            breaker: CircuitBreakerConfig::default(),
            capacity: 10_000,
            idle_timeout: Duration::from_secs(600),
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

    /// Checks the bounds and the breaker configuration.
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
        self.breaker.validate()
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
