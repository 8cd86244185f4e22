//! Metric handles and shared per-layer state.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::config::TimeoutConfig;
use crate::ConfigError;
use crate::clock::nanos;

#[cfg(feature = "metrics")]
const ELAPSED: &str = "resilience_timeout_elapsed_total";

/// What every service and response future of one layer shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) name: Cow<'static, str>,
    /// The timeout in effect, in nanoseconds (read by every call).
    timeout: AtomicU64,
    /// The settings in effect, for `config()`; also serialises updates.
    config: Mutex<TimeoutConfig>,
    #[cfg(feature = "metrics")]
    elapsed: metrics::Counter,
}

impl Shared {
    /// `config` must be valid.
    pub(crate) fn new(config: TimeoutConfig) -> Self {
        let name = config.name.clone();
        let timeout = AtomicU64::new(nanos(config.timeout));
        let config = Mutex::new(config);
        #[cfg(feature = "metrics")]
        {
            metrics::describe_counter!(
                ELAPSED,
                metrics::Unit::Count,
                "Calls that did not complete within their timeout."
            );
            Self {
                elapsed: metrics::counter!(ELAPSED, "name" => name.clone().into_owned()),
                name,
                timeout,
                config,
            }
        }
        #[cfg(not(feature = "metrics"))]
        Self {
            name,
            timeout,
            config,
        }
    }

    /// The timeout in effect.
    #[inline]
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_nanos(self.timeout.load(Ordering::Relaxed))
    }

    pub(crate) fn config(&self) -> TimeoutConfig {
        self.config
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn update(&self, config: TimeoutConfig) -> Result<(), ConfigError> {
        config.validate()?;
        let mut current = self.config.lock().unwrap_or_else(PoisonError::into_inner);
        crate::config::check_name_unchanged("timeout", &current.name, &config.name)?;
        self.timeout.store(nanos(config.timeout), Ordering::Relaxed);
        *current = config;
        Ok(())
    }

    #[cold]
    pub(crate) fn elapsed(&self, after: std::time::Duration) {
        #[cfg(feature = "metrics")]
        self.elapsed.increment(1);
        tracing::debug!(name = %self.name, ?after, "timeout: call timed out");
    }
}
