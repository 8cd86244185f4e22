//! Circuit breaker configuration.

use std::borrow::Cow;
use std::time::Duration;

use crate::ConfigError;

/// Largest count-based window of one breaker: one byte per call, so at
/// most about 1 MB. Per-key breakers are bounded further by
/// [`KeyedCircuitBreakerConfig::max_memory`](super::KeyedCircuitBreakerConfig::max_memory).
pub const MAX_COUNT_WINDOW: u32 = 1_000_000;
/// Most buckets a time-based window of one breaker may have:
/// [`TIME_BUCKET_BYTES`] each, so at most 2.4 MB. Per-key breakers are
/// bounded further by
/// [`KeyedCircuitBreakerConfig::max_memory`](super::KeyedCircuitBreakerConfig::max_memory).
pub const MAX_TIME_BUCKETS: u64 = 100_000;
/// Memory of one call in a count-based window.
pub const COUNT_SLOT_BYTES: usize = 1;
/// Memory of one bucket of a time-based window (a stamp and two packed
/// counters, each a `u64`).
pub const TIME_BUCKET_BYTES: usize = 24;
/// Most half-open probes.
pub const MAX_HALF_OPEN_PERMITS: u32 = 1_000_000;

/// Which calls the closed breaker's rates are computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)
)]
#[non_exhaustive]
pub enum SlidingWindow {
    /// The last `size` recorded calls.
    CountBased {
        /// Number of calls.
        size: u32,
    },
    /// The calls recorded during the last `duration`, kept in buckets of
    /// `bucket` (the current, partial bucket included, as in Resilience4j).
    TimeBased {
        /// Length of the window; a multiple of `bucket`.
        #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
        duration: Duration,
        /// Resolution: calls expire one bucket at a time.
        #[cfg_attr(
            feature = "serde",
            serde(with = "crate::serde_duration", default = "one_second")
        )]
        bucket: Duration,
    },
}

#[cfg(feature = "serde")]
fn one_second() -> Duration {
    Duration::from_secs(1)
}

impl SlidingWindow {
    /// The last `size` calls.
    pub const fn count(size: u32) -> Self {
        SlidingWindow::CountBased { size }
    }

    /// The last `duration`, in one-second buckets.
    pub const fn time(duration: Duration) -> Self {
        SlidingWindow::TimeBased {
            duration,
            bucket: Duration::from_secs(1),
        }
    }

    /// The last `duration`, in buckets of `bucket`.
    pub const fn time_with_bucket(duration: Duration, bucket: Duration) -> Self {
        SlidingWindow::TimeBased { duration, bucket }
    }
}

impl SlidingWindow {
    /// Bytes the window's storage takes: [`COUNT_SLOT_BYTES`] per call of
    /// a count-based window, [`TIME_BUCKET_BYTES`] per bucket of a
    /// time-based one. Saturates instead of overflowing (an invalid
    /// window), so budgets can be checked before the window is.
    pub fn memory_bytes(&self) -> usize {
        match *self {
            SlidingWindow::CountBased { size } => {
                usize::try_from(size).map_or(usize::MAX, |n| n.saturating_mul(COUNT_SLOT_BYTES))
            }
            SlidingWindow::TimeBased { duration, bucket } => {
                let n = duration.as_nanos() / bucket.as_nanos().max(1);
                usize::try_from(n).map_or(usize::MAX, |n| n.saturating_mul(TIME_BUCKET_BYTES))
            }
        }
    }
}

impl std::fmt::Display for SlidingWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            SlidingWindow::CountBased { size } => write!(f, "the last {size} calls"),
            SlidingWindow::TimeBased { duration, bucket } => {
                write!(f, "the last {duration:?} in buckets of {bucket:?}")
            }
        }
    }
}

impl Default for SlidingWindow {
    fn default() -> Self {
        SlidingWindow::count(100)
    }
}

/// Configuration of a circuit breaker.
///
/// Defaults follow Resilience4j, except that slow-call detection is off
/// until [`slow_call_duration_threshold`](Self::slow_call_duration_threshold)
/// is set (measuring every call's duration costs two clock reads).
///
/// Durations are strings in [the iot-rs duration format](iot_duration)
/// (`"250ms"`, `"1.5s"`, `"1m30s"`) or integer milliseconds.
///
/// ```
/// use std::time::Duration;
/// use iot_resilience::circuit_breaker::{CircuitBreakerConfig, SlidingWindow};
///
/// let config = CircuitBreakerConfig::default()
///     .name("ingest-api")
///     .failure_rate_threshold(25.0)
///     .slow_call_duration_threshold(Duration::from_secs(2))
///     .sliding_window(SlidingWindow::time(Duration::from_secs(30)))
///     .minimum_number_of_calls(20)
///     .wait_duration_in_open(Duration::from_secs(10))
///     .open_duration_multiplier(2.0)
///     .max_wait_duration_in_open(Duration::from_secs(300));
/// assert!(config.validate().is_ok());
///
/// let bad = CircuitBreakerConfig::default().failure_rate_threshold(150.0);
/// assert_eq!(
///     bad.validate().unwrap_err().to_string(),
///     "invalid configuration: circuit_breaker.failure_rate_threshold: 150% is not within (0, 100]"
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[non_exhaustive]
pub struct CircuitBreakerConfig {
    /// Name, used as the `name` label in logs and metrics.
    pub name: Cow<'static, str>,
    /// Failure rate (percent, in (0, 100]) at or above which the breaker
    /// opens. Default 50.
    pub failure_rate_threshold: f32,
    /// Slow-call rate (percent, in (0, 100]) at or above which the breaker
    /// opens. Default 100.
    pub slow_call_rate_threshold: f32,
    /// Calls that take longer than this are slow. `None` (the default) turns
    /// slow-call detection off.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration::option"))]
    pub slow_call_duration_threshold: Option<Duration>,
    /// The window rates are computed over. Default: the last 100 calls.
    pub sliding_window: SlidingWindow,
    /// Calls the window must hold before rates are evaluated. Default 100.
    /// For a count-based window, values above its size act as its size.
    pub minimum_number_of_calls: u32,
    /// Probe calls admitted in half-open; the decision is taken when all of
    /// them have completed. Default 10.
    pub permitted_calls_in_half_open: u32,
    /// Longest time spent half-open before re-opening (probes that never
    /// complete). `None` (the default) waits for the probes.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration::option"))]
    pub max_wait_in_half_open: Option<Duration>,
    /// How long the breaker stays open before admitting probes. Default 60 s.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub wait_duration_in_open: Duration,
    /// Each consecutive trip without a successful close multiplies the open
    /// duration by this (>= 1; 1, the default, keeps it constant).
    pub open_duration_multiplier: f64,
    /// Cap of the growing open duration; `None` (the default) for no cap.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration::option"))]
    pub max_wait_duration_in_open: Option<Duration>,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        Self {
            name: Cow::Borrowed("circuit_breaker"),
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration_threshold: None,
            sliding_window: SlidingWindow::default(),
            minimum_number_of_calls: 100,
            permitted_calls_in_half_open: 10,
            max_wait_in_half_open: None,
            wait_duration_in_open: Duration::from_secs(60),
            open_duration_multiplier: 1.0,
            max_wait_duration_in_open: None,
        }
    }
}

pub(super) fn err(field: &'static str, message: String) -> ConfigError {
    ConfigError::new(format!("circuit_breaker.{field}"), message)
}

fn check_rate(field: &'static str, value: f32) -> Result<(), ConfigError> {
    if value.is_finite() && value > 0.0 && value <= 100.0 {
        Ok(())
    } else {
        Err(err(field, format!("{value}% is not within (0, 100]")))
    }
}

fn check_positive(field: &'static str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        Err(err(field, "must be greater than zero".into()))
    } else {
        Ok(())
    }
}

impl CircuitBreakerConfig {
    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.name.is_empty() {
            return Err(err("name", "must not be empty".into()));
        }
        check_rate("failure_rate_threshold", self.failure_rate_threshold)?;
        check_rate("slow_call_rate_threshold", self.slow_call_rate_threshold)?;
        if let Some(d) = self.slow_call_duration_threshold {
            check_positive("slow_call_duration_threshold", d)?;
        }
        match self.sliding_window {
            SlidingWindow::CountBased { size } => {
                if size == 0 || size > MAX_COUNT_WINDOW {
                    return Err(err(
                        "sliding_window.size",
                        format!("{size} is not within [1, {MAX_COUNT_WINDOW}]"),
                    ));
                }
            }
            SlidingWindow::TimeBased { duration, bucket } => {
                check_positive("sliding_window.duration", duration)?;
                check_positive("sliding_window.bucket", bucket)?;
                let (d, b) = (duration.as_nanos(), bucket.as_nanos());
                if d % b != 0 {
                    return Err(err(
                        "sliding_window.duration",
                        format!("{duration:?} is not a multiple of the bucket {bucket:?}"),
                    ));
                }
                if d / b > u128::from(MAX_TIME_BUCKETS) {
                    return Err(err(
                        "sliding_window.bucket",
                        format!(
                            "{bucket:?} makes {} buckets, more than {MAX_TIME_BUCKETS}",
                            d / b
                        ),
                    ));
                }
            }
        }
        if self.minimum_number_of_calls == 0 {
            return Err(err("minimum_number_of_calls", "must be at least 1".into()));
        }
        let p = self.permitted_calls_in_half_open;
        if p == 0 || p > MAX_HALF_OPEN_PERMITS {
            return Err(err(
                "permitted_calls_in_half_open",
                format!("{p} is not within [1, {MAX_HALF_OPEN_PERMITS}]"),
            ));
        }
        if let Some(d) = self.max_wait_in_half_open {
            check_positive("max_wait_in_half_open", d)?;
        }
        check_positive("wait_duration_in_open", self.wait_duration_in_open)?;
        let m = self.open_duration_multiplier;
        if !(m.is_finite() && m >= 1.0) {
            return Err(err(
                "open_duration_multiplier",
                format!("{m} is not a finite number >= 1"),
            ));
        }
        if let Some(cap) = self.max_wait_duration_in_open {
            if cap < self.wait_duration_in_open {
                return Err(err(
                    "max_wait_duration_in_open",
                    format!(
                        "{cap:?} is shorter than wait_duration_in_open ({:?})",
                        self.wait_duration_in_open
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Sets [`name`](Self::name).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets [`failure_rate_threshold`](Self::failure_rate_threshold).
    pub fn failure_rate_threshold(mut self, percent: f32) -> Self {
        self.failure_rate_threshold = percent;
        self
    }

    /// Sets [`slow_call_rate_threshold`](Self::slow_call_rate_threshold).
    pub fn slow_call_rate_threshold(mut self, percent: f32) -> Self {
        self.slow_call_rate_threshold = percent;
        self
    }

    /// Turns slow-call detection on with this threshold.
    pub fn slow_call_duration_threshold(mut self, threshold: Duration) -> Self {
        self.slow_call_duration_threshold = Some(threshold);
        self
    }

    /// Sets [`sliding_window`](Self::sliding_window).
    pub fn sliding_window(mut self, window: SlidingWindow) -> Self {
        self.sliding_window = window;
        self
    }

    /// Sets [`minimum_number_of_calls`](Self::minimum_number_of_calls).
    pub fn minimum_number_of_calls(mut self, calls: u32) -> Self {
        self.minimum_number_of_calls = calls;
        self
    }

    /// Sets [`permitted_calls_in_half_open`](Self::permitted_calls_in_half_open).
    pub fn permitted_calls_in_half_open(mut self, calls: u32) -> Self {
        self.permitted_calls_in_half_open = calls;
        self
    }

    /// Sets [`max_wait_in_half_open`](Self::max_wait_in_half_open).
    pub fn max_wait_in_half_open(mut self, wait: Duration) -> Self {
        self.max_wait_in_half_open = Some(wait);
        self
    }

    /// Sets [`wait_duration_in_open`](Self::wait_duration_in_open).
    pub fn wait_duration_in_open(mut self, wait: Duration) -> Self {
        self.wait_duration_in_open = wait;
        self
    }

    /// Sets [`open_duration_multiplier`](Self::open_duration_multiplier).
    pub fn open_duration_multiplier(mut self, multiplier: f64) -> Self {
        self.open_duration_multiplier = multiplier;
        self
    }

    /// Sets [`max_wait_duration_in_open`](Self::max_wait_duration_in_open).
    pub fn max_wait_duration_in_open(mut self, cap: Duration) -> Self {
        self.max_wait_duration_in_open = Some(cap);
        self
    }

    /// The open duration after `trips` consecutive trips without a
    /// successful close (0 for the first trip).
    pub fn open_duration(&self, trips: u32) -> Duration {
        let base = self.wait_duration_in_open;
        let cap = self.max_wait_duration_in_open.unwrap_or(Duration::MAX);
        if self.open_duration_multiplier <= 1.0 || trips == 0 {
            return base.min(cap);
        }
        let factor = self
            .open_duration_multiplier
            .powi(i32::try_from(trips).unwrap_or(i32::MAX));
        let secs = base.as_secs_f64() * factor;
        // Anything beyond ~584 years saturates; `try_from_secs_f64` rejects
        // infinities and overflows.
        Duration::try_from_secs_f64(secs)
            .unwrap_or(Duration::MAX)
            .min(cap)
    }

    /// The minimum number of calls actually used (capped by a count window's
    /// size, as in Resilience4j).
    pub(crate) fn effective_minimum_calls(&self) -> u32 {
        match self.sliding_window {
            SlidingWindow::CountBased { size } => self.minimum_number_of_calls.min(size),
            SlidingWindow::TimeBased { .. } => self.minimum_number_of_calls,
        }
    }
}

crate::config::validated_config!(CircuitBreakerConfig);
