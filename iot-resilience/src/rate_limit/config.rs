//! Rate limiter configuration: the quota (permits per period, burst) and
//! what to do when it is exhausted.

use std::borrow::Cow;
use std::time::Duration;

use crate::ConfigError;

/// What a [`RateLimit`](super::RateLimit) service does when no permit is
/// available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum RateLimitMode {
    /// Fail the request at once with
    /// [`RateLimitError::Rejected`](super::RateLimitError::Rejected), which
    /// carries `retry_after`.
    #[default]
    Reject,
    /// Apply backpressure: `poll_ready` stays pending until the permit is
    /// available, if that is at most [`RateLimitConfig::max_wait`] away;
    /// otherwise reject as in [`RateLimitMode::Reject`].
    Wait,
}

impl RateLimitMode {
    /// The `snake_case` name used by serde and in log events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reject => "reject",
            Self::Wait => "wait",
        }
    }
}

/// Configuration of a [`RateLimiter`](super::RateLimiter) and its layer.
///
/// The limiter admits `permits` per `period` on average and at most `burst`
/// at once (a full bucket). With serde, JSON looks like
/// `{"name": "ingest", "permits": 100, "period": "1s", "burst": 20,
/// "mode": "wait", "max_wait": "250ms"}`; missing fields take their
/// defaults.
/// Durations are strings in [the iot-rs duration format](iot_duration)
/// (`"250ms"`, `"1.5s"`, `"1m30s"`) or integer milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[non_exhaustive]
pub struct RateLimitConfig {
    /// The `name` label of metrics and tracing events. Default:
    /// `"rate_limit"`.
    pub name: Cow<'static, str>,
    /// Permits replenished per `period`. Must be at least 1. Default: 100.
    pub permits: u32,
    /// The replenishment period. Must be positive, and `period / permits`
    /// at least 1 ns (it is rounded down to whole nanoseconds). Default:
    /// 1 s.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub period: Duration,
    /// The most permits available at once. `None` (the default) means
    /// `permits`. Must be at least 1.
    pub burst: Option<u32>,
    /// Reject or wait when no permit is available. Default:
    /// [`RateLimitMode::Reject`].
    pub mode: RateLimitMode,
    /// In [`RateLimitMode::Wait`], the longest `poll_ready` waits for a
    /// permit before rejecting. Ignored in `Reject` mode. Default: 1 s.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub max_wait: Duration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            name: Cow::Borrowed("rate_limit"),
            permits: 100,
            period: Duration::from_secs(1),
            burst: None,
            mode: RateLimitMode::Reject,
            max_wait: Duration::from_secs(1),
        }
    }
}

impl RateLimitConfig {
    /// `permits` per `period`, other fields at their defaults.
    pub fn per(permits: u32, period: Duration) -> Self {
        Self {
            permits,
            period,
            ..Self::default()
        }
    }

    /// Sets [`name`](Self::name).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets [`permits`](Self::permits) and [`period`](Self::period).
    pub fn rate(mut self, permits: u32, period: Duration) -> Self {
        self.permits = permits;
        self.period = period;
        self
    }

    /// Sets [`burst`](Self::burst).
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// Sets [`mode`](Self::mode) to [`RateLimitMode::Reject`].
    pub fn reject(mut self) -> Self {
        self.mode = RateLimitMode::Reject;
        self
    }

    /// Sets [`mode`](Self::mode) to [`RateLimitMode::Wait`] with the given
    /// [`max_wait`](Self::max_wait).
    pub fn wait(mut self, max_wait: Duration) -> Self {
        self.mode = RateLimitMode::Wait;
        self.max_wait = max_wait;
        self
    }

    /// The burst in effect: [`burst`](Self::burst) or `permits`.
    pub fn effective_burst(&self) -> u32 {
        self.burst.unwrap_or(self.permits)
    }

    /// Checks every field; the error names the field and the bad value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_name("rate_limit", &self.name)?;
        validate_quota("rate_limit", self.permits, self.period, self.burst)
    }
}

/// Configuration of a [`KeyedRateLimiter`](super::KeyedRateLimiter): one
/// quota per key, with bounded memory.
///
/// With serde, JSON looks like `{"name": "per_device", "permits": 10,
/// "period": "1s", "burst": null, "capacity": 10000}`.
/// Durations are strings in [the iot-rs duration format](iot_duration)
/// (`"250ms"`, `"1.5s"`, `"1m30s"`) or integer milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[non_exhaustive]
pub struct KeyedRateLimitConfig {
    /// The `name` label of metrics and tracing events. Default:
    /// `"keyed_rate_limit"`.
    pub name: Cow<'static, str>,
    /// Permits replenished per `period`, per key. Must be at least 1.
    /// Default: 10.
    pub permits: u32,
    /// The replenishment period. Must be positive, and `period / permits`
    /// at least 1 ns. Default: 1 s.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub period: Duration,
    /// The most permits available at once per key. `None` (the default)
    /// means `permits`. Must be at least 1.
    pub burst: Option<u32>,
    /// The most keys kept in memory. Must be at least 1. The limiter splits
    /// it evenly over its shards, rounding down, so it may keep slightly
    /// fewer (see [`KeyedRateLimiter::capacity`](super::KeyedRateLimiter::capacity)).
    /// Default: 10 000.
    pub capacity: usize,
}

impl Default for KeyedRateLimitConfig {
    fn default() -> Self {
        Self {
            name: Cow::Borrowed("keyed_rate_limit"),
            permits: 10,
            period: Duration::from_secs(1),
            burst: None,
            capacity: 10_000,
        }
    }
}

impl KeyedRateLimitConfig {
    /// `permits` per `period` per key, other fields at their defaults.
    pub fn per(permits: u32, period: Duration) -> Self {
        Self {
            permits,
            period,
            ..Self::default()
        }
    }

    /// Sets [`name`](Self::name).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets [`permits`](Self::permits) and [`period`](Self::period).
    pub fn rate(mut self, permits: u32, period: Duration) -> Self {
        self.permits = permits;
        self.period = period;
        self
    }

    /// Sets [`burst`](Self::burst).
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// Sets [`capacity`](Self::capacity).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// The burst in effect: [`burst`](Self::burst) or `permits`.
    pub fn effective_burst(&self) -> u32 {
        self.burst.unwrap_or(self.permits)
    }

    /// Checks every field; the error names the field and the bad value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_name("keyed_rate_limit", &self.name)?;
        validate_quota("keyed_rate_limit", self.permits, self.period, self.burst)?;
        if self.capacity == 0 {
            return Err(ConfigError::new(
                "keyed_rate_limit.capacity",
                "0 is not at least 1",
            ));
        }
        Ok(())
    }
}

fn validate_name(prefix: &'static str, name: &str) -> Result<(), ConfigError> {
    if name.is_empty() {
        return Err(ConfigError::new(
            field(prefix, "name"),
            "the name must not be empty",
        ));
    }
    Ok(())
}

fn validate_quota(
    prefix: &'static str,
    permits: u32,
    period: Duration,
    burst: Option<u32>,
) -> Result<(), ConfigError> {
    if permits == 0 {
        return Err(ConfigError::new(
            field(prefix, "permits"),
            "0 is not at least 1",
        ));
    }
    if period.is_zero() {
        return Err(ConfigError::new(
            field(prefix, "period"),
            "0s is not positive",
        ));
    }
    let interval = period.as_nanos() / u128::from(permits);
    if interval == 0 {
        return Err(ConfigError::new(
            field(prefix, "period"),
            format!("{period:?} / {permits} permits is less than 1ns per permit"),
        ));
    }
    if burst == Some(0) {
        return Err(ConfigError::new(
            field(prefix, "burst"),
            "0 is not at least 1",
        ));
    }
    let burst = burst.unwrap_or(permits);
    // The limiter keeps times as u64 nanoseconds; half the range leaves room
    // for reservations on top of a full bucket.
    if interval.saturating_mul(u128::from(burst)) > u128::from(u64::MAX / 2) {
        return Err(ConfigError::new(
            field(prefix, "burst"),
            format!("{burst} permits of {interval}ns each exceed the 292-year range of the clock"),
        ));
    }
    Ok(())
}

fn field(prefix: &'static str, name: &'static str) -> Cow<'static, str> {
    Cow::Owned(format!("{prefix}.{name}"))
}

crate::config::validated_config!(RateLimitConfig, KeyedRateLimitConfig);
