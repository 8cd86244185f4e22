//! Retry and retry-budget configuration.

use std::borrow::Cow;
use std::time::Duration;

use crate::ConfigError;
use crate::backoff::BackoffConfig;

/// Most attempts a [`RetryConfig`] without a
/// [`deadline`](RetryConfig::deadline) may make.
///
/// Without a deadline only `max_attempts` ends the retries of a call
/// against a backend that keeps failing (a retry budget bounds retries
/// across calls, not the length of one call: its reserve refills every
/// second), so `u32::MAX` would retry for ever. 100 attempts at the
/// default 10 s backoff cap is already a quarter of an hour; more needs a
/// deadline, which bounds the call in time whatever the count.
pub const MAX_ATTEMPTS_WITHOUT_DEADLINE: u32 = 100;

/// Configuration of the [retry layer](super::RetryLayer).
///
/// JSON (with the default `serde` feature), every field optional:
///
/// ```json
/// {
///   "name": "ingest",
///   "max_attempts": 3,
///   "deadline": "5s",
///   "backoff": {"strategy": "full_jitter", "base": "100ms", "cap": "10s",
///               "factor": 2.0, "max_retries": null},
///   "budget": {"ratio": 0.2, "min_retries_per_second": 10, "ttl": "10s"}
/// }
/// ```
///
/// `"deadline": null` means no deadline, `"budget": null` no budget.
/// Durations are strings in [the iot-rs duration format](iot_duration)
/// (`"250ms"`, `"1.5s"`, `"1m30s"`) or integer milliseconds.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[non_exhaustive]
pub struct RetryConfig {
    /// The `name` label of tracing events and metrics. Default: `"retry"`.
    pub name: Cow<'static, str>,
    /// Attempts in total, the first one included (1 disables retries).
    /// At least 1, and at most [`MAX_ATTEMPTS_WITHOUT_DEADLINE`] unless a
    /// [`deadline`](Self::deadline) is set. Default: 3, the Google SRE
    /// book's advice.
    pub max_attempts: u32,
    /// Time from the call after which no attempt starts. A retry whose
    /// delay would reach it is not planned, and a planned retry whose timer
    /// fires at or after it (timers fire late, by up to a millisecond tick
    /// or more on a busy runtime) or whose inner service only becomes ready
    /// then is abandoned: the call ends with
    /// [`GiveUpReason::Deadline`](super::GiveUpReason::Deadline) and the
    /// last attempt's outcome. `None` (default): no deadline. An attempt in
    /// flight is never cut; put a [timeout](crate::timeout) inside the
    /// retry layer for that.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration::option"))]
    pub deadline: Option<Duration>,
    /// The delays between attempts. Default: full jitter, 100 ms base,
    /// 10 s cap.
    pub backoff: BackoffConfig,
    /// The retry budget shared by every clone of the service; `None`
    /// disables it. Default: [`RetryBudgetConfig::default`].
    pub budget: Option<RetryBudgetConfig>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            name: Cow::Borrowed("retry"),
            max_attempts: 3,
            deadline: None,
            backoff: BackoffConfig::default(),
            budget: Some(RetryBudgetConfig::default()),
        }
    }
}

impl RetryConfig {
    /// Sets [`name`](Self::name).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets [`max_attempts`](Self::max_attempts).
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// Sets [`deadline`](Self::deadline).
    pub fn deadline(mut self, deadline: impl Into<Option<Duration>>) -> Self {
        self.deadline = deadline.into();
        self
    }

    /// Sets [`backoff`](Self::backoff).
    pub fn backoff(mut self, backoff: BackoffConfig) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets [`budget`](Self::budget).
    pub fn budget(mut self, budget: impl Into<Option<RetryBudgetConfig>>) -> Self {
        self.budget = budget.into();
        self
    }

    /// Checks every field; the error names it as `retry.<field>`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.name.is_empty() {
            return Err(ConfigError::new("retry.name", "must not be empty"));
        }
        if self.max_attempts == 0 {
            return Err(ConfigError::new(
                "retry.max_attempts",
                "0 is not at least 1 (the first attempt counts)",
            ));
        }
        if self.max_attempts > MAX_ATTEMPTS_WITHOUT_DEADLINE && self.deadline.is_none() {
            return Err(ConfigError::new(
                "retry.max_attempts",
                format!(
                    "{} is more than {MAX_ATTEMPTS_WITHOUT_DEADLINE} without a deadline, which could \
                     retry a failing call for ever: set retry.deadline or lower max_attempts",
                    self.max_attempts
                ),
            ));
        }
        if self.deadline.is_some_and(|d| d.is_zero()) {
            return Err(ConfigError::new(
                "retry.deadline",
                "0ns is not positive (use null for no deadline)",
            ));
        }
        self.backoff.validate().map_err(nest)?;
        if let Some(budget) = &self.budget {
            budget.validate().map_err(nest)?;
        }
        Ok(())
    }
}

fn nest(e: ConfigError) -> ConfigError {
    ConfigError::new(format!("retry.{}", e.field), e.message)
}

/// Configuration of a [`RetryBudget`](super::RetryBudget).
///
/// Every call deposits `ratio` of a retry; every retry withdraws one; a
/// deposit or withdrawal counts for `ttl`. On top, `min_retries_per_second`
/// retries are always allowed, so a client that sends few requests can
/// still retry. With the defaults, retries stay under 20% of the calls of
/// the last 10 s plus 10 per second.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[non_exhaustive]
pub struct RetryBudgetConfig {
    /// Retries allowed per call, within `[0, 1000]` (resolution 0.001).
    /// Envoy allows 20% of requests, the Google SRE book 10%. Default: 0.2.
    pub ratio: f64,
    /// Retries allowed per second regardless of traffic. Default: 10.
    pub min_retries_per_second: u32,
    /// How long a call or retry is remembered, within `[1s, 60s]` (Finagle's
    /// bounds). Default: 10 s.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub ttl: Duration,
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        Self {
            ratio: 0.2,
            min_retries_per_second: 10,
            ttl: Duration::from_secs(10),
        }
    }
}

impl RetryBudgetConfig {
    /// Sets [`ratio`](Self::ratio).
    pub fn ratio(mut self, ratio: f64) -> Self {
        self.ratio = ratio;
        self
    }

    /// Sets [`min_retries_per_second`](Self::min_retries_per_second).
    pub fn min_retries_per_second(mut self, min: u32) -> Self {
        self.min_retries_per_second = min;
        self
    }

    /// Sets [`ttl`](Self::ttl).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Checks every field; the error names it as `budget.<field>`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(0.0..=1000.0).contains(&self.ratio) {
            return Err(ConfigError::new(
                "budget.ratio",
                format!("{} is not within [0, 1000]", self.ratio),
            ));
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&self.ttl) {
            return Err(ConfigError::new(
                "budget.ttl",
                format!("{:?} is not within [1s, 60s]", self.ttl),
            ));
        }
        Ok(())
    }
}

crate::config::validated_config!(RetryConfig, RetryBudgetConfig);
