//! Timeout configuration.

use std::borrow::Cow;
use std::time::Duration;

use crate::ConfigError;

/// Configuration of a [`Timeout`](super::Timeout).
///
/// With serde, JSON looks like `{"name": "ingest", "timeout": "2s"}`;
/// missing fields take their defaults.
/// Durations are strings in [the iot-rs duration format](iot_duration)
/// (`"250ms"`, `"1.5s"`, `"1m30s"`) or integer milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[non_exhaustive]
pub struct TimeoutConfig {
    /// The `name` label of metrics and tracing events. Default:
    /// `"timeout"`.
    pub name: Cow<'static, str>,
    /// How long a call may take, from `call` until its response. Must be
    /// positive. Default: 1 s.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub timeout: Duration,
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        Self {
            name: Cow::Borrowed("timeout"),
            timeout: Duration::from_secs(1),
        }
    }
}

impl TimeoutConfig {
    /// Calls time out after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            ..Self::default()
        }
    }

    /// Sets [`name`](Self::name).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets [`timeout`](Self::timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks every field; the error names the field and the bad value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.name.is_empty() {
            return Err(ConfigError::new(
                "timeout.name",
                "the name must not be empty",
            ));
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::new("timeout.timeout", "0s is not positive"));
        }
        Ok(())
    }
}

crate::config::validated_config!(TimeoutConfig);
