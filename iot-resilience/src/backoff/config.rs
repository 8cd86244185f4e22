//! Backoff configuration: which schedule, and its base, cap and factor.

use std::time::Duration;

use crate::ConfigError;
use crate::clock::nanos;

/// The shape of a backoff schedule.
///
/// `n` is the retry number starting at 0, `base` and `cap` come from
/// [`BackoffConfig`]. Definitions follow the AWS architecture blog,
/// "Exponential backoff and jitter"; the exponential shapes use
/// [`BackoffConfig::factor`] where the blog writes 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum BackoffStrategy {
    /// Always `base`.
    Constant,
    /// `min(cap, base * factor^n)`, no randomness.
    Exponential,
    /// `rand(0, min(cap, base * factor^n))`: the blog's recommendation; it
    /// spreads a burst of clients best.
    #[default]
    FullJitter,
    /// `t = min(cap, base * factor^n); t/2 + rand(0, t/2)`: never waits less
    /// than half the exponential delay.
    EqualJitter,
    /// `min(cap, rand(base, prev * 3))`, with `prev` the previous delay
    /// (`base` at first). Ignores `factor`.
    DecorrelatedJitter,
}

impl BackoffStrategy {
    /// The `snake_case` name used by serde and in log events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Constant => "constant",
            Self::Exponential => "exponential",
            Self::FullJitter => "full_jitter",
            Self::EqualJitter => "equal_jitter",
            Self::DecorrelatedJitter => "decorrelated_jitter",
        }
    }
}

/// Configuration of a [`Backoff`](super::Backoff) schedule.
///
/// With serde, JSON looks like
/// `{"strategy": "full_jitter", "base": "100ms", "cap": "10s", "factor": 2.0,
/// "max_retries": null}`; missing fields take their defaults.
/// Durations are strings in [the iot-rs duration format](iot_duration)
/// (`"250ms"`, `"1.5s"`, `"1m30s"`) or integer milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[non_exhaustive]
pub struct BackoffConfig {
    /// The schedule's shape. Default: [`BackoffStrategy::FullJitter`].
    pub strategy: BackoffStrategy,
    /// The first (un-jittered) delay; the lower bound of decorrelated
    /// jitter. Must be positive. Default: 100 ms.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub base: Duration,
    /// No delay exceeds this. Must be at least `base`. Default: 10 s.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub cap: Duration,
    /// Growth per retry of the exponential shapes. Must be finite and at
    /// least 1 (1 makes them constant). Default: 2.
    pub factor: f64,
    /// After this many delays the schedule ends (`next_delay` returns
    /// `None`). `None` (the default) never ends; the retry layer bounds
    /// retries with its own `max_attempts`.
    pub max_retries: Option<u32>,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            strategy: BackoffStrategy::default(),
            base: Duration::from_millis(100),
            cap: Duration::from_secs(10),
            factor: 2.0,
            max_retries: None,
        }
    }
}

impl BackoffConfig {
    /// A constant schedule: always `delay`.
    pub fn constant(delay: Duration) -> Self {
        Self {
            strategy: BackoffStrategy::Constant,
            base: delay,
            cap: delay,
            ..Self::default()
        }
    }

    /// `min(cap, base * 2^n)`.
    pub fn exponential(base: Duration, cap: Duration) -> Self {
        Self::with_shape(BackoffStrategy::Exponential, base, cap)
    }

    /// `rand(0, min(cap, base * 2^n))`.
    pub fn full_jitter(base: Duration, cap: Duration) -> Self {
        Self::with_shape(BackoffStrategy::FullJitter, base, cap)
    }

    /// `t/2 + rand(0, t/2)` with `t = min(cap, base * 2^n)`.
    pub fn equal_jitter(base: Duration, cap: Duration) -> Self {
        Self::with_shape(BackoffStrategy::EqualJitter, base, cap)
    }

    /// `min(cap, rand(base, prev * 3))`.
    pub fn decorrelated_jitter(base: Duration, cap: Duration) -> Self {
        Self::with_shape(BackoffStrategy::DecorrelatedJitter, base, cap)
    }

    fn with_shape(strategy: BackoffStrategy, base: Duration, cap: Duration) -> Self {
        Self {
            strategy,
            base,
            cap,
            ..Self::default()
        }
    }

    /// Sets [`strategy`](Self::strategy).
    pub fn strategy(mut self, strategy: BackoffStrategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Sets [`base`](Self::base).
    pub fn base(mut self, base: Duration) -> Self {
        self.base = base;
        self
    }

    /// Sets [`cap`](Self::cap).
    pub fn cap(mut self, cap: Duration) -> Self {
        self.cap = cap;
        self
    }

    /// Sets [`factor`](Self::factor).
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// Sets [`max_retries`](Self::max_retries).
    pub fn max_retries(mut self, max_retries: Option<u32>) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Checks every field; the error names it as `backoff.<field>`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.base.is_zero() {
            return Err(ConfigError::new(
                "backoff.base",
                "0ns is not positive (a zero base never backs off)",
            ));
        }
        if self.cap < self.base {
            return Err(ConfigError::new(
                "backoff.cap",
                format!("{:?} is less than base ({:?})", self.cap, self.base),
            ));
        }
        if !self.factor.is_finite() || self.factor < 1.0 {
            return Err(ConfigError::new(
                "backoff.factor",
                format!("{} is not a finite number >= 1", self.factor),
            ));
        }
        Ok(())
    }

    /// The un-jittered delay for retry `n`: `min(cap, base * factor^n)`
    /// (`base` for [`BackoffStrategy::Constant`]).
    ///
    /// Saturates at `cap` instead of overflowing, for any `n`. The jittered
    /// shapes draw below this ceiling.
    pub fn ceiling(&self, n: u32) -> Duration {
        let cap = nanos(self.cap);
        let base = nanos(self.base).min(cap);
        let factor = match self.strategy {
            BackoffStrategy::Constant => 1.0,
            _ => self.factor,
        };
        if n == 0 || factor == 1.0 {
            return Duration::from_nanos(base);
        }
        Duration::from_nanos(grow(base, cap, factor, n))
    }
}

/// `min(cap, base * factor^n)` in nanoseconds, never below `base`.
fn grow(base: u64, cap: u64, factor: f64, n: u32) -> u64 {
    if factor.fract() == 0.0 && (2.0..=u64::MAX as f64).contains(&factor) {
        // Integer factors (2 above all) are computed exactly; the loop ends
        // within 64 steps because every step at least doubles.
        let factor = factor as u64;
        let mut delay = base;
        for _ in 0..n {
            match delay.checked_mul(factor) {
                Some(next) if next < cap => delay = next,
                _ => return cap,
            }
        }
        return delay;
    }
    // Other factors go through f64, where overflow becomes infinity and maps
    // to `cap`; rounding may not push the result below `base`.
    let exact = base as f64 * factor.powf(f64::from(n));
    if exact.is_nan() || exact >= cap as f64 {
        cap
    } else {
        (exact as u64).clamp(base, cap)
    }
}

crate::config::validated_config!(BackoffConfig);
