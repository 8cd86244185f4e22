//! Breaker states, transition events and statistics.

use std::fmt;

/// The state of a circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum State {
    /// Calls pass and their outcomes are recorded in the sliding window; the
    /// breaker opens when a rate threshold is reached.
    Closed,
    /// Calls are rejected until the open duration has elapsed; the next call
    /// after that moves the breaker to [`State::HalfOpen`].
    Open,
    /// A limited number of probe calls pass (all others are rejected); their
    /// outcomes decide between [`State::Closed`] and [`State::Open`].
    HalfOpen,
    /// Every call is rejected until the breaker is moved by hand.
    ForcedOpen,
    /// Every call passes and nothing is recorded.
    Disabled,
    /// Every call passes; outcomes are recorded and reported, but the breaker
    /// never opens.
    MetricsOnly,
}

impl State {
    /// Every state, in declaration order.
    pub const ALL: [State; 6] = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::ForcedOpen,
        State::Disabled,
        State::MetricsOnly,
    ];

    /// The snake-case name used in logs and metric labels (`"half_open"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
            State::ForcedOpen => "forced_open",
            State::Disabled => "disabled",
            State::MetricsOnly => "metrics_only",
        }
    }

    /// Whether calls are admitted without limit in this state.
    pub const fn admits_all(self) -> bool {
        matches!(self, State::Closed | State::Disabled | State::MetricsOnly)
    }

    pub(crate) const fn tag(self) -> u64 {
        self as u64
    }

    pub(crate) const fn from_tag(tag: u64) -> State {
        match tag {
            0 => State::Closed,
            1 => State::Open,
            2 => State::HalfOpen,
            3 => State::ForcedOpen,
            4 => State::Disabled,
            _ => State::MetricsOnly,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a transition happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum TransitionReason {
    /// The failure rate reached the threshold (closed window or half-open
    /// probes).
    FailureRateExceeded,
    /// The slow-call rate reached the threshold (closed window or half-open
    /// probes).
    SlowCallRateExceeded,
    /// The open duration elapsed and a call arrived.
    OpenDurationElapsed,
    /// Every half-open probe completed and the rates stayed under the
    /// thresholds.
    ProbesSucceeded,
    /// The breaker stayed half-open longer than `max_wait_in_half_open`.
    HalfOpenTimedOut,
    /// A [`CircuitBreakerHandle`](super::CircuitBreakerHandle) method.
    Manual,
}

impl TransitionReason {
    /// The snake-case name used in logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            TransitionReason::FailureRateExceeded => "failure_rate_exceeded",
            TransitionReason::SlowCallRateExceeded => "slow_call_rate_exceeded",
            TransitionReason::OpenDurationElapsed => "open_duration_elapsed",
            TransitionReason::ProbesSucceeded => "probes_succeeded",
            TransitionReason::HalfOpenTimedOut => "half_open_timed_out",
            TransitionReason::Manual => "manual",
        }
    }
}

impl fmt::Display for TransitionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state change, as delivered by
/// [`CircuitBreakerHandle::subscribe`](super::CircuitBreakerHandle::subscribe).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StateTransition {
    /// The state left.
    pub from: State,
    /// The state entered.
    pub to: State,
    /// Why.
    pub reason: TransitionReason,
}

/// A snapshot of a breaker's statistics.
///
/// Which calls the counts describe depends on the state:
///
/// * closed and metrics-only: the sliding window;
/// * half-open: the probes completed so far;
/// * open: the window (or probes) that tripped the breaker, frozen at the
///   moment it opened;
/// * forced-open and disabled: nothing is recorded, so the counts are zero.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Stats {
    /// The state when the snapshot was taken.
    pub state: State,
    /// Failed calls as a percentage of buffered calls; `None` until the
    /// minimum number of calls is buffered.
    pub failure_rate: Option<f32>,
    /// Slow calls (successful or not) as a percentage of buffered calls;
    /// `None` until the minimum number of calls is buffered, or when slow-call
    /// detection is off.
    pub slow_call_rate: Option<f32>,
    /// Calls recorded (ignored calls excluded).
    pub buffered_calls: u32,
    /// Calls classified as failures (slow or not).
    pub failed_calls: u32,
    /// Calls classified as successes (slow or not).
    pub successful_calls: u32,
    /// Calls slower than the slow-call threshold (successes and failures).
    pub slow_calls: u32,
    /// Slow calls that also failed.
    pub slow_failed_calls: u32,
    /// Calls rejected since the breaker was created or last
    /// [`reset`](super::CircuitBreakerHandle::reset).
    pub not_permitted_calls: u64,
}
