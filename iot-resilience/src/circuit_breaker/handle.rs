//! The public face of a breaker: read, force, subscribe, and use it by hand.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use super::core::{Core, RawPermit};
use super::telemetry::Metrics;
use super::{CircuitBreakerConfig, Outcome, Rejected, State, StateTransition, Stats};
use crate::clock::nanos;
use crate::{Clock, ConfigError, TokioClock, Validated};

/// A cloneable handle to one circuit breaker.
///
/// Every clone of a [`CircuitBreaker`](super::CircuitBreaker) service, the
/// [`CircuitBreakerLayer`](super::CircuitBreakerLayer) that built them and
/// every clone of this handle share the same breaker.
///
/// ```
/// use iot_resilience::circuit_breaker::{CircuitBreakerConfig, CircuitBreakerHandle, State};
///
/// let breaker = CircuitBreakerHandle::new(CircuitBreakerConfig::default()).unwrap();
/// breaker.force_open();
/// assert_eq!(breaker.state(), State::ForcedOpen);
/// assert!(breaker.try_acquire().is_err());
/// breaker.reset();
/// let permit = breaker.try_acquire().unwrap();
/// permit.success();
/// assert_eq!(breaker.stats().buffered_calls, 1);
/// ```
#[derive(Clone)]
pub struct CircuitBreakerHandle {
    pub(crate) core: CoreRef,
}

/// How a handle refers to its breaker: counted, or leaked for the rest of
/// the process (see [`CircuitBreakerHandle::leak`]).
#[derive(Clone)]
pub(crate) enum CoreRef {
    Shared(Arc<Core>),
    Static(&'static Core),
}

impl Deref for CoreRef {
    type Target = Core;

    #[inline]
    fn deref(&self) -> &Core {
        match self {
            CoreRef::Shared(core) => core,
            CoreRef::Static(core) => core,
        }
    }
}

impl fmt::Debug for CircuitBreakerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerHandle")
            .field("name", &self.name())
            .field("state", &self.state())
            .finish()
    }
}

impl CircuitBreakerHandle {
    /// A breaker on tokio's clock. Fails if `config` is invalid. Prefer
    /// [`from_validated`](Self::from_validated), which cannot fail.
    pub fn new(config: CircuitBreakerConfig) -> Result<Self, ConfigError> {
        Self::with_clock(config, TokioClock)
    }

    /// A breaker on tokio's clock for a configuration validated by
    /// [`CircuitBreakerConfig::build`]; cannot fail.
    pub fn from_validated(config: Validated<CircuitBreakerConfig>) -> Self {
        Self::from_validated_with_clock(config, TokioClock)
    }

    /// A breaker reading time from `clock`.
    pub fn with_clock(
        config: CircuitBreakerConfig,
        clock: impl Clock,
    ) -> Result<Self, ConfigError> {
        config
            .build()
            .map(|config| Self::from_validated_with_clock(config, clock))
    }

    /// A breaker reading time from `clock`, for a configuration validated
    /// by [`CircuitBreakerConfig::build`]; cannot fail.
    pub fn from_validated_with_clock(
        config: Validated<CircuitBreakerConfig>,
        clock: impl Clock,
    ) -> Self {
        let config = config.into_inner();
        let metrics = Arc::new(Metrics::new(&config.name));
        Self::from_parts(config, Arc::new(clock), metrics, None)
    }

    pub(crate) fn from_parts(
        config: CircuitBreakerConfig,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        key: Option<Box<str>>,
    ) -> Self {
        Self {
            core: CoreRef::Shared(Arc::new(Core::new(config, clock, metrics, key))),
        }
    }

    /// The configured name.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// The settings in effect: the configuration the breaker was made with,
    /// or the last one applied by [`update`](Self::update).
    pub fn config(&self) -> CircuitBreakerConfig {
        CircuitBreakerConfig::clone(&self.core.config())
    }

    /// Changes the breaker's settings while it runs, for every service,
    /// layer and handle sharing it.
    ///
    /// `config` is validated as [`CircuitBreakerConfig::validate`] does
    /// (for a configuration file); an invalid one returns that
    /// [`ConfigError`] and changes nothing. Two fields cannot change:
    /// `name` (it labels the metrics) and `sliding_window` (the window
    /// holds the recorded calls); a different value is a `ConfigError`
    /// naming the field, and nothing changes.
    ///
    /// The state, the window's recorded calls, the open deadline and the
    /// count of consecutive trips are kept; see "Changing settings at run
    /// time" in the [module docs](super) for when each setting takes
    /// effect.
    ///
    /// ```
    /// use iot_resilience::circuit_breaker::{CircuitBreakerConfig, CircuitBreakerHandle, SlidingWindow};
    ///
    /// let config = CircuitBreakerConfig::default().sliding_window(SlidingWindow::count(10));
    /// let breaker = CircuitBreakerHandle::new(config.clone()).unwrap();
    /// breaker.update(config.clone().failure_rate_threshold(20.0)).unwrap();
    /// assert_eq!(breaker.config().failure_rate_threshold, 20.0);
    ///
    /// let bad = breaker.update(config.failure_rate_threshold(0.0)).unwrap_err();
    /// assert_eq!(bad.field, "circuit_breaker.failure_rate_threshold");
    /// assert_eq!(breaker.config().failure_rate_threshold, 20.0);
    /// ```
    pub fn update(&self, config: CircuitBreakerConfig) -> Result<(), ConfigError> {
        self.core.update(config)
    }

    /// [`update`](Self::update) with a configuration validated and checked
    /// against this breaker's name and window by the caller.
    pub(crate) fn update_checked(&self, config: Arc<CircuitBreakerConfig>) {
        self.core.update_checked(config);
    }

    /// The current state.
    ///
    /// Transitions out of open happen on the next call after the wait (no
    /// background task), so an open breaker whose wait has elapsed reads
    /// [`State::Open`] until a call arrives.
    pub fn state(&self) -> State {
        self.core.current_state()
    }

    /// A snapshot of the statistics (see [`Stats`] for what they cover in
    /// each state).
    pub fn stats(&self) -> Stats {
        self.core.stats()
    }

    /// Same as [`stats`](Self::stats) (Resilience4j's name).
    pub fn metrics(&self) -> Stats {
        self.stats()
    }

    /// Whether both handles refer to the same breaker.
    pub fn same_breaker(&self, other: &CircuitBreakerHandle) -> bool {
        std::ptr::eq::<Core>(&*self.core, &*other.core)
    }

    /// Keeps this breaker alive for the rest of the process and returns a
    /// handle that refers to it without reference counting.
    ///
    /// Every response future holds a handle to record its outcome; with a
    /// counted handle that is an `Arc` clone and drop per call (two atomic
    /// read-modify-writes, often the largest part of the closed-state
    /// overhead). Services built from a leaked handle (e.g. through
    /// [`CircuitBreakerLayer::from_handle`](super::CircuitBreakerLayer::from_handle)
    /// or [`CircuitBreakerLayer::leak`](super::CircuitBreakerLayer::leak))
    /// skip it. Meant for breakers created once at start-up: the breaker's
    /// memory (about 1 KiB plus its window) is never freed. A no-op on a
    /// handle that is already leaked.
    pub fn leak(self) -> CircuitBreakerHandle {
        match self.core {
            CoreRef::Static(_) => self,
            CoreRef::Shared(core) => {
                let core: &'static Arc<Core> = Box::leak(Box::new(core));
                CircuitBreakerHandle {
                    core: CoreRef::Static(core),
                }
            }
        }
    }

    /// Asks to make one call, for use without tower. The returned permit
    /// records the call's outcome; dropping it unrecorded gives it back (a
    /// half-open probe permit becomes available again) without counting
    /// anything.
    pub fn try_acquire(&self) -> Result<CallPermit, Rejected> {
        let raw = self.core.try_acquire()?;
        Ok(CallPermit::new(self.clone(), raw))
    }

    /// Moves to [`State::ForcedOpen`]: every call is rejected until another
    /// manual transition.
    pub fn force_open(&self) {
        self.core.transition_manual(State::ForcedOpen);
    }

    /// Moves to [`State::Disabled`]: every call passes, nothing is recorded.
    pub fn disable(&self) {
        self.core.transition_manual(State::Disabled);
    }

    /// Moves to [`State::MetricsOnly`]: every call passes and is recorded,
    /// the breaker never opens.
    pub fn metrics_only(&self) {
        self.core.transition_manual(State::MetricsOnly);
    }

    /// Moves to [`State::Closed`] with an empty window (no-op if closed).
    pub fn close(&self) {
        self.core.transition_manual(State::Closed);
    }

    /// Moves to [`State::Closed`] and clears everything: the window, the
    /// rejected-call count and the open-duration growth.
    pub fn reset(&self) {
        self.core.reset();
    }

    /// Moves to [`State::Open`] for the configured (possibly grown) open
    /// duration.
    pub fn transition_to_open(&self) {
        self.core.transition_manual(State::Open);
    }

    /// Moves to [`State::HalfOpen`] with a fresh set of probe permits.
    pub fn transition_to_half_open(&self) {
        self.core.transition_manual(State::HalfOpen);
    }

    /// Subscribes to state transitions.
    ///
    /// Transitions are delivered in order through a
    /// [`tokio::sync::broadcast`] channel holding the last
    /// [`EVENT_CAPACITY`](super::EVENT_CAPACITY) events. A receiver that
    /// falls further behind gets `RecvError::Lagged(n)` once (`n`
    /// transitions skipped) and then continues with the oldest event still
    /// held; read [`state`](Self::state) to resynchronise. A receiver only
    /// sees transitions that happen after it subscribed. The channel is
    /// created on the first call, so unobserved breakers (e.g. per-key
    /// ones) cost no event memory.
    pub fn subscribe(&self) -> broadcast::Receiver<StateTransition> {
        self.core.subscribe()
    }
}

/// Permission to make one call, from
/// [`CircuitBreakerHandle::try_acquire`].
///
/// Record the outcome with [`record`](Self::record) (duration measured from
/// acquisition), [`record_with_duration`](Self::record_with_duration),
/// [`success`](Self::success) or [`failure`](Self::failure). Dropping it
/// unrecorded returns a half-open probe permit and counts nothing.
#[must_use = "a permit records nothing unless its outcome is reported"]
pub struct CallPermit {
    handle: CircuitBreakerHandle,
    raw: Option<RawPermit>,
    start: u64,
}

impl fmt::Debug for CallPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallPermit")
            .field("breaker", &self.handle.name())
            .field("state", &self.state())
            .finish()
    }
}

impl CallPermit {
    pub(crate) fn new(handle: CircuitBreakerHandle, raw: RawPermit) -> Self {
        let start = handle.core.start_time();
        Self {
            handle,
            raw: Some(raw),
            start,
        }
    }

    /// The state that admitted the call (closed, half-open, disabled or
    /// metrics-only).
    pub fn state(&self) -> State {
        self.raw.map_or(State::Closed, RawPermit::state)
    }

    /// Records `outcome`; the call's duration is the time since the permit
    /// was granted.
    #[inline]
    pub fn record(mut self, outcome: Outcome) {
        if let Some(raw) = self.raw.take() {
            self.handle.core.finish(raw, outcome, self.start);
        }
    }

    /// [`record`](Self::record) without moving the permit: the response
    /// future records through it where it lies (moved out, its fields were
    /// read back from the copy at other widths than written, a stalled
    /// read per call). Recording twice records once.
    #[inline]
    pub(crate) fn record_in_place(&mut self, outcome: Outcome) {
        if let Some(raw) = self.raw.take() {
            self.handle.core.finish(raw, outcome, self.start);
        }
    }

    /// Records `outcome` for a call that took `elapsed`.
    pub fn record_with_duration(mut self, outcome: Outcome, elapsed: Duration) {
        if let Some(raw) = self.raw.take() {
            let core = &self.handle.core;
            let elapsed = nanos(elapsed);
            core.record(raw, outcome, elapsed, core.now());
        }
    }

    /// Records a success.
    pub fn success(self) {
        self.record(Outcome::Success);
    }

    /// Records a failure.
    pub fn failure(self) {
        self.record(Outcome::Failure);
    }
}

impl Drop for CallPermit {
    fn drop(&mut self) {
        if let Some(raw) = self.raw.take() {
            self.handle.core.release(raw);
        }
    }
}
