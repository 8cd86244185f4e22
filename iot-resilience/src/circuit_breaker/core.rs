//! The shared breaker: admission and recording (hot paths, lock-free).
//!
//! The state lives in one `AtomicU64`: `generation << 32 | half-open
//! permits left << 3 | state tag`. Every transition bumps the generation, so
//! a permit remembers the generation that admitted it and an outcome that
//! arrives after a transition is discarded instead of polluting the next
//! state. Transitions themselves (rare) are serialised by a mutex, see
//! `transition.rs`.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tokio::sync::broadcast;

use super::window::{Counts, Padded, Sample, Window};
use super::{CircuitBreakerConfig, Outcome, Rejected, State, StateTransition, TransitionReason};
use crate::circuit_breaker::telemetry::Metrics;
use crate::clock::Epoch;
use crate::clock::nanos;
use crate::{Clock, ConfigError};

const TAG_MASK: u64 = 0b111;
const PERMIT_SHIFT: u32 = 3;
pub(super) const PERMIT_ONE: u64 = 1 << PERMIT_SHIFT;
const PERMIT_MASK: u64 = (1 << 29) - 1;
const GEN_SHIFT: u32 = 32;

#[inline]
pub(super) fn tag(word: u64) -> u64 {
    word & TAG_MASK
}

#[inline]
pub(super) fn generation(word: u64) -> u32 {
    (word >> GEN_SHIFT) as u32
}

#[inline]
fn permits(word: u64) -> u64 {
    (word >> PERMIT_SHIFT) & PERMIT_MASK
}

pub(super) fn pack(state: State, permits: u32, generation: u32) -> u64 {
    (u64::from(generation) << GEN_SHIFT) | (u64::from(permits) << PERMIT_SHIFT) | state.tag()
}

const CLOSED: u64 = State::Closed.tag();
const HALF_OPEN: u64 = State::HalfOpen.tag();
const DISABLED: u64 = State::Disabled.tag();
const METRICS_ONLY: u64 = State::MetricsOnly.tag();

/// Admission to make one call: the generation and state that granted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawPermit {
    generation: u32,
    tag: u8,
}

impl RawPermit {
    pub(crate) fn state(self) -> State {
        State::from_tag(u64::from(self.tag))
    }
}

/// `start_time` when slow-call detection is off: the call's duration is
/// not measured (and counts as not slow if detection is turned on before it
/// completes).
const NO_START: u64 = u64::MAX;

/// `max_half_open_nanos` without a limit.
const NO_LIMIT: u64 = u64::MAX;

/// State only touched while transitioning, recording probes or changing
/// settings.
#[derive(Debug, Default)]
pub(super) struct Locked {
    /// The settings in effect (see [`Core::update`]).
    pub(super) config: Arc<CircuitBreakerConfig>,
    /// Probes the current half-open state decides on: the
    /// `permitted_calls_in_half_open` in effect when it began.
    pub(super) probe_target: u32,
    /// Consecutive trips without a successful close.
    pub(super) trips: u32,
    /// Outcomes of the current half-open probes.
    pub(super) probes: Counts,
    /// What tripped the breaker, shown by `stats()` while open, and the
    /// minimum number of calls that applied to it.
    pub(super) frozen: (Counts, u32),
}

/// One circuit breaker, shared by its handle, services and permits.
pub(crate) struct Core {
    pub(super) state: Padded<AtomicU64>,
    pub(super) window: Window,
    pub(super) open_until: AtomicU64,
    pub(super) half_open_since: AtomicU64,
    pub(super) not_permitted: AtomicU64,
    // Settings read on the hot path, one atomic each (relaxed: each is a
    // value on its own; `update` changes them one by one under the lock).
    failure_ppm: AtomicU64,
    slow_ppm: AtomicU64,
    /// 0 when slow-call detection is off.
    slow_nanos: AtomicU64,
    pub(super) min_calls: AtomicU32,
    pub(super) half_open_permits: AtomicU32,
    /// `NO_LIMIT` when half-open has no time limit.
    pub(super) max_half_open_nanos: AtomicU64,
    pub(super) name: Cow<'static, str>,
    clock: Arc<dyn Clock>,
    epoch: Epoch,
    pub(super) locked: Mutex<Locked>,
    pub(super) events: OnceLock<broadcast::Sender<StateTransition>>,
    pub(super) metrics: Arc<Metrics>,
    /// The key of a per-key breaker, for logs.
    pub(super) key: Option<Box<str>>,
}

/// What a running breaker cannot change: its name (it labels the metrics)
/// and its window (it holds the recorded calls).
pub(crate) fn check_update(
    current: &CircuitBreakerConfig,
    new: &CircuitBreakerConfig,
) -> Result<(), ConfigError> {
    crate::config::check_name_unchanged("circuit_breaker", &current.name, &new.name)?;
    crate::config::check_unchanged(
        "circuit_breaker.sliding_window",
        &current.sliding_window,
        &new.sliding_window,
        "the window holds the recorded calls; make a new breaker",
    )
}

fn ppm(percent: f32) -> u64 {
    (f64::from(percent) * 10_000.0).round() as u64
}

fn slow_nanos(config: &CircuitBreakerConfig) -> u64 {
    config
        .slow_call_duration_threshold
        .map_or(0, |d| nanos(d).max(1))
}

fn max_half_open_nanos(config: &CircuitBreakerConfig) -> u64 {
    config.max_wait_in_half_open.map_or(NO_LIMIT, nanos)
}

impl Core {
    /// `config` must be valid.
    pub(crate) fn new(
        config: CircuitBreakerConfig,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        key: Option<Box<str>>,
    ) -> Self {
        metrics.enter(State::Closed);
        Self {
            state: Padded(AtomicU64::new(pack(State::Closed, 0, 0))),
            window: Window::new(&config.sliding_window),
            open_until: AtomicU64::new(0),
            half_open_since: AtomicU64::new(0),
            not_permitted: AtomicU64::new(0),
            failure_ppm: AtomicU64::new(ppm(config.failure_rate_threshold)),
            slow_ppm: AtomicU64::new(ppm(config.slow_call_rate_threshold)),
            slow_nanos: AtomicU64::new(slow_nanos(&config)),
            min_calls: AtomicU32::new(config.effective_minimum_calls().max(1)),
            half_open_permits: AtomicU32::new(config.permitted_calls_in_half_open.max(1)),
            max_half_open_nanos: AtomicU64::new(max_half_open_nanos(&config)),
            epoch: clock.epoch(),
            clock,
            name: config.name.clone(),
            locked: Mutex::new(Locked {
                config: Arc::new(config),
                ..Locked::default()
            }),
            events: OnceLock::new(),
            metrics,
            key,
        }
    }

    #[inline]
    pub(super) fn now(&self) -> u64 {
        self.clock.nanos_since(&self.epoch)
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Locked> {
        // Nothing in `Locked` can be left half-updated by a panic that
        // matters more than availability: keep going.
        self.locked.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[inline]
    pub(crate) fn load(&self) -> u64 {
        self.state.0.load(Ordering::Acquire)
    }

    pub(crate) fn current_state(&self) -> State {
        State::from_tag(tag(self.load()))
    }

    /// The start time of a call when slow-call detection is on (calls
    /// then need one), `NO_START` otherwise.
    #[inline]
    pub(crate) fn start_time(&self) -> u64 {
        if self.slow_nanos() != 0 {
            self.now()
        } else {
            NO_START
        }
    }

    #[inline]
    fn slow_nanos(&self) -> u64 {
        self.slow_nanos.load(Ordering::Relaxed)
    }

    /// The settings in effect.
    pub(crate) fn config(&self) -> Arc<CircuitBreakerConfig> {
        Arc::clone(&self.lock().config)
    }

    /// Applies new settings, keeping the state, the window and the open
    /// deadline (see "Changing settings at run time" in the module docs).
    /// `config` is validated as by [`CircuitBreakerConfig::validate`];
    /// `name` and `sliding_window` cannot change. On error nothing changes.
    pub(crate) fn update(&self, config: CircuitBreakerConfig) -> Result<(), ConfigError> {
        config.validate()?;
        let mut locked = self.lock();
        check_update(&locked.config, &config)?;
        self.apply(&mut locked, Arc::new(config));
        Ok(())
    }

    /// [`update`](Self::update) with a configuration already validated and
    /// checked against this breaker ([`check_update`]): the keyed breaker
    /// checks once and shares one `Arc` among all its keys.
    pub(crate) fn update_checked(&self, config: Arc<CircuitBreakerConfig>) {
        let mut locked = self.lock();
        debug_assert!(check_update(&locked.config, &config).is_ok());
        self.apply(&mut locked, config);
    }

    fn apply(&self, locked: &mut Locked, config: Arc<CircuitBreakerConfig>) {
        self.failure_ppm
            .store(ppm(config.failure_rate_threshold), Ordering::Relaxed);
        self.slow_ppm
            .store(ppm(config.slow_call_rate_threshold), Ordering::Relaxed);
        self.slow_nanos
            .store(slow_nanos(&config), Ordering::Relaxed);
        self.min_calls
            .store(config.effective_minimum_calls().max(1), Ordering::Relaxed);
        self.half_open_permits.store(
            config.permitted_calls_in_half_open.max(1),
            Ordering::Relaxed,
        );
        self.max_half_open_nanos
            .store(max_half_open_nanos(&config), Ordering::Relaxed);
        locked.config = config;
    }

    /// Whether `permit` was granted by the current generation.
    #[inline]
    pub(crate) fn is_current(&self, permit: RawPermit) -> bool {
        generation(self.load()) == permit.generation
    }

    /// Admits a call or says why not. Closed, disabled and metrics-only: one
    /// atomic load.
    #[inline]
    pub(crate) fn try_acquire(&self) -> Result<RawPermit, Rejected> {
        let word = self.load();
        let t = tag(word);
        if t == CLOSED || t == DISABLED || t == METRICS_ONLY {
            return Ok(RawPermit {
                generation: generation(word),
                tag: t as u8,
            });
        }
        self.acquire_slow(word)
    }

    #[cold]
    fn acquire_slow(&self, mut word: u64) -> Result<RawPermit, Rejected> {
        loop {
            let state = State::from_tag(tag(word));
            match state {
                State::Closed | State::Disabled | State::MetricsOnly => {
                    return Ok(RawPermit {
                        generation: generation(word),
                        tag: tag(word) as u8,
                    });
                }
                State::ForcedOpen => return Err(self.reject(state, None)),
                State::Open => {
                    let now = self.now();
                    let until = self.open_until.load(Ordering::Acquire);
                    if now < until {
                        let left = Duration::from_nanos(until - now);
                        return Err(self.reject(state, Some(left)));
                    }
                    // Lazily: the first call after the wait moves to
                    // half-open (whoever loses the race just re-reads).
                    self.transition(
                        Some(word),
                        State::HalfOpen,
                        TransitionReason::OpenDurationElapsed,
                    );
                }
                State::HalfOpen => {
                    if self.half_open_expired() {
                        self.transition(
                            Some(word),
                            State::Open,
                            TransitionReason::HalfOpenTimedOut,
                        );
                    } else if permits(word) == 0 {
                        return Err(self.reject(state, None));
                    } else {
                        match self.state.0.compare_exchange_weak(
                            word,
                            word - PERMIT_ONE,
                            Ordering::AcqRel,
                            Ordering::Acquire,
                        ) {
                            Ok(_) => {
                                return Ok(RawPermit {
                                    generation: generation(word),
                                    tag: HALF_OPEN as u8,
                                });
                            }
                            Err(w) => {
                                word = w;
                                continue;
                            }
                        }
                    }
                }
            }
            word = self.load();
        }
    }

    fn half_open_expired(&self) -> bool {
        let max = self.max_half_open_nanos.load(Ordering::Relaxed);
        max != NO_LIMIT && {
            let since = self.half_open_since.load(Ordering::Acquire);
            self.now().saturating_sub(since) >= max
        }
    }

    #[cold]
    fn reject(&self, state: State, retry_after: Option<Duration>) -> Rejected {
        self.not_permitted.fetch_add(1, Ordering::Relaxed);
        self.metrics.rejected();
        tracing::debug!(
            name = %self.name,
            key = self.key.as_deref(),
            state = %state,
            retry_after = ?retry_after,
            "circuit breaker rejected a call"
        );
        Rejected { state, retry_after }
    }

    /// Gives back a permit whose call never completed (dropped future or
    /// service) or was ignored. Only half-open permits are scarce.
    #[inline]
    pub(crate) fn release(&self, permit: RawPermit) {
        if u64::from(permit.tag) == HALF_OPEN {
            self.release_probe(permit);
        }
    }

    #[cold]
    fn release_probe(&self, permit: RawPermit) {
        let mut word = self.load();
        while tag(word) == HALF_OPEN && generation(word) == permit.generation {
            match self.state.0.compare_exchange_weak(
                word,
                word + PERMIT_ONE,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(w) => word = w,
            }
        }
    }

    /// Records the outcome of a call started at `start` (from
    /// [`start_time`](Self::start_time)).
    #[inline]
    pub(crate) fn finish(&self, permit: RawPermit, outcome: Outcome, start: u64) {
        if u64::from(permit.tag) == DISABLED {
            return;
        }
        // One load of the setting per call (an atomic load is not merged
        // with the next one as a plain field's would be).
        let slow_nanos = self.slow_nanos();
        let now = if slow_nanos != 0 || self.window.needs_time() {
            self.now()
        } else {
            0
        };
        let elapsed = if start == NO_START {
            0
        } else {
            now.saturating_sub(start)
        };
        self.record_with(permit, outcome, elapsed, now, slow_nanos);
    }

    /// Records an outcome that took `elapsed` nanoseconds, at `now`.
    #[inline]
    pub(crate) fn record(&self, permit: RawPermit, outcome: Outcome, elapsed: u64, now: u64) {
        self.record_with(permit, outcome, elapsed, now, self.slow_nanos());
    }

    /// [`record`](Self::record) with the slow-call threshold in effect.
    #[inline]
    fn record_with(
        &self,
        permit: RawPermit,
        outcome: Outcome,
        elapsed: u64,
        now: u64,
        slow_nanos: u64,
    ) {
        let failed = match outcome {
            Outcome::Success => false,
            Outcome::Failure => true,
            Outcome::Ignored => {
                if u64::from(permit.tag) != DISABLED {
                    self.metrics.ignored();
                }
                self.release(permit);
                return;
            }
        };
        let t = u64::from(permit.tag);
        if t == DISABLED {
            return;
        }
        let slow = slow_nanos != 0 && elapsed > slow_nanos;
        let sample = Sample::new(failed, slow);
        self.metrics.sample(sample);
        if t == HALF_OPEN {
            self.record_probe(permit, sample);
            return;
        }
        let word = self.load();
        if generation(word) != permit.generation {
            return;
        }
        let counts = self.window.record(sample, now);
        if t == CLOSED && counts.calls >= self.min_calls.load(Ordering::Relaxed) {
            if let Some(reason) = self.exceeded_with(counts, slow_nanos) {
                self.transition(Some(word), State::Open, reason);
            }
        }
    }

    /// Which threshold `counts` reach, if any. No division: compares
    /// `failures / calls >= ppm / 10^6` as `failures * 10^6 >= ppm * calls`.
    pub(super) fn exceeded(&self, counts: Counts) -> Option<TransitionReason> {
        self.exceeded_with(counts, self.slow_nanos())
    }

    /// [`exceeded`](Self::exceeded) with the slow-call threshold in effect.
    #[inline]
    fn exceeded_with(&self, counts: Counts, slow_nanos: u64) -> Option<TransitionReason> {
        let calls = u64::from(counts.calls);
        if u64::from(counts.failures) * 1_000_000
            >= self.failure_ppm.load(Ordering::Relaxed) * calls
        {
            Some(TransitionReason::FailureRateExceeded)
        } else if slow_nanos != 0
            && u64::from(counts.slow) * 1_000_000 >= self.slow_ppm.load(Ordering::Relaxed) * calls
        {
            Some(TransitionReason::SlowCallRateExceeded)
        } else {
            None
        }
    }

    #[cold]
    fn record_probe(&self, permit: RawPermit, sample: Sample) {
        let mut locked = self.lock();
        let word = self.load();
        if tag(word) != HALF_OPEN || generation(word) != permit.generation {
            return;
        }
        locked.probes.add(sample);
        if locked.probes.calls >= locked.probe_target {
            let to = match self.exceeded(locked.probes) {
                Some(reason) => (State::Open, reason),
                None => (State::Closed, TransitionReason::ProbesSucceeded),
            };
            self.transition_locked(&mut locked, word, to.0, to.1);
        }
    }

    pub(super) fn slow_detection(&self) -> bool {
        self.slow_nanos() != 0
    }

    pub(super) fn subscribe(&self) -> broadcast::Receiver<StateTransition> {
        self.events
            .get_or_init(|| broadcast::channel(super::EVENT_CAPACITY).0)
            .subscribe()
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        self.metrics.leave(self.current_state());
    }
}
