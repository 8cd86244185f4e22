//! Bulkhead configuration: how many calls at once, and how long to wait
//! for a slot.

use std::borrow::Cow;
use std::time::Duration;

use crate::ConfigError;

/// Configuration of a [`Bulkhead`](super::Bulkhead).
///
/// With serde, JSON looks like `{"name": "db", "max_concurrent": 25,
/// "max_wait": "0ms"}`; missing fields take their defaults.
/// Durations are strings in [the iot-rs duration format](iot_duration)
/// (`"250ms"`, `"1.5s"`, `"1m30s"`) or integer milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[non_exhaustive]
pub struct BulkheadConfig {
    /// The `name` label of metrics and tracing events. Default:
    /// `"bulkhead"`.
    pub name: Cow<'static, str>,
    /// The most calls in flight at once (ready services holding a permit
    /// included). Must be at least 1. Default: 25.
    pub max_concurrent: usize,
    /// How long `poll_ready` waits for a permit before rejecting; zero (the
    /// default) rejects at once.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub max_wait: Duration,
}

impl Default for BulkheadConfig {
    fn default() -> Self {
        Self {
            name: Cow::Borrowed("bulkhead"),
            max_concurrent: 25,
            max_wait: Duration::ZERO,
        }
    }
}

impl BulkheadConfig {
    /// At most `max_concurrent` calls at once, rejecting at once beyond.
    pub fn new(max_concurrent: usize) -> Self {
        Self {
            max_concurrent,
            ..Self::default()
        }
    }

    /// Sets [`name`](Self::name).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets [`max_concurrent`](Self::max_concurrent).
    pub fn max_concurrent(mut self, max_concurrent: usize) -> Self {
        self.max_concurrent = max_concurrent;
        self
    }

    /// Sets [`max_wait`](Self::max_wait).
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// Checks every field; the error names the field and the bad value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.name.is_empty() {
            return Err(ConfigError::new(
                "bulkhead.name",
                "the name must not be empty",
            ));
        }
        if self.max_concurrent == 0 {
            return Err(ConfigError::new(
                "bulkhead.max_concurrent",
                "0 is not at least 1",
            ));
        }
        // Leaves headroom so the counter can never overflow.
        if self.max_concurrent > usize::MAX / 2 {
            return Err(ConfigError::new(
                "bulkhead.max_concurrent",
                format!("{} is more than {}", self.max_concurrent, usize::MAX / 2),
            ));
        }
        Ok(())
    }
}

crate::config::validated_config!(BulkheadConfig);
