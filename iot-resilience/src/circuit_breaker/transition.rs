//! State transitions (serialised by the core's mutex), their announcement
//! (tracing, metrics, subscribers) and statistics snapshots.

use std::sync::atomic::Ordering;

use super::core::{Core, Locked, generation, pack, tag};
use super::window::Counts;
use super::{State, StateTransition, Stats, TransitionReason};
use crate::clock::nanos;

impl Core {
    /// Moves to `to`. With `expected`, only if the state is still the one
    /// (state and generation) the caller decided from; returns whether it
    /// moved.
    pub(super) fn transition(
        &self,
        expected: Option<u64>,
        to: State,
        reason: TransitionReason,
    ) -> bool {
        let mut locked = self.lock();
        let word = self.load();
        if let Some(exp) = expected {
            if tag(word) != tag(exp) || generation(word) != generation(exp) {
                return false;
            }
        }
        self.transition_locked(&mut locked, word, to, reason);
        true
    }

    /// A manual transition: no-op if already in `to`.
    pub(super) fn transition_manual(&self, to: State) {
        let mut locked = self.lock();
        let word = self.load();
        if tag(word) != to.tag() {
            self.transition_locked(&mut locked, word, to, TransitionReason::Manual);
        }
    }

    /// Back to closed with every statistic cleared, even if already closed.
    pub(super) fn reset(&self) {
        let mut locked = self.lock();
        self.not_permitted.store(0, Ordering::Relaxed);
        locked.trips = 0;
        let word = self.load();
        self.transition_locked(&mut locked, word, State::Closed, TransitionReason::Manual);
    }

    /// Performs the transition from `word` (the current state word).
    pub(super) fn transition_locked(
        &self,
        locked: &mut Locked,
        word: u64,
        to: State,
        reason: TransitionReason,
    ) {
        let from = State::from_tag(tag(word));
        let now = self.now();
        let mut open_for = None;
        match to {
            State::Open => {
                locked.frozen = if from == State::HalfOpen {
                    (locked.probes, locked.probe_target)
                } else {
                    (
                        self.window.counts(now),
                        self.min_calls.load(Ordering::Relaxed),
                    )
                };
                let d = locked.config.open_duration(locked.trips);
                locked.trips = locked.trips.saturating_add(1);
                let until = now.saturating_add(nanos(d));
                self.open_until.store(until, Ordering::Release);
                open_for = Some(d);
            }
            State::HalfOpen => {
                locked.probes = Counts::default();
                locked.probe_target = self.half_open_permits.load(Ordering::Relaxed);
                self.half_open_since.store(now, Ordering::Release);
            }
            State::Closed => locked.trips = 0,
            State::ForcedOpen | State::Disabled | State::MetricsOnly => {}
        }
        // Every state starts from an empty window; outcomes of calls admitted
        // before carry the old generation and are discarded.
        self.window.reset();
        let permits = if to == State::HalfOpen {
            locked.probe_target
        } else {
            0
        };
        let next = pack(to, permits, generation(word).wrapping_add(1));
        // A plain store: concurrent writers only CAS the permit count of the
        // generation being left, which is meaningless from here on.
        self.state.0.store(next, Ordering::Release);
        if from != to {
            self.announce(from, to, reason, open_for);
        }
    }

    /// Logs, counts and broadcasts a transition. Runs under the mutex so
    /// subscribers see transitions in order.
    fn announce(
        &self,
        from: State,
        to: State,
        reason: TransitionReason,
        open_for: Option<std::time::Duration>,
    ) {
        let name = &self.name;
        let key = self.key.as_deref();
        if matches!(to, State::Open | State::ForcedOpen) {
            tracing::warn!(name = %name, key, from = %from, to = %to, reason = %reason, open_for = ?open_for, "circuit breaker opened");
        } else {
            tracing::info!(name = %name, key, from = %from, to = %to, reason = %reason, "circuit breaker state changed");
        }
        self.metrics.transition(from, to);
        if let Some(tx) = self.events.get() {
            // Err only means nobody is subscribed right now.
            let _ = tx.send(StateTransition { from, to, reason });
        }
    }

    pub(super) fn stats(&self) -> Stats {
        let (state, counts, min) = {
            let locked = self.lock();
            let state = self.current_state();
            match state {
                State::HalfOpen => (state, locked.probes, locked.probe_target),
                State::Open => (state, locked.frozen.0, locked.frozen.1),
                _ => {
                    let now = if self.window.needs_time() {
                        self.now()
                    } else {
                        0
                    };
                    (
                        state,
                        self.window.counts(now),
                        self.min_calls.load(Ordering::Relaxed),
                    )
                }
            }
        };
        let rate = |part: u32| {
            (counts.calls > 0 && counts.calls >= min)
                .then(|| part as f32 * 100.0 / counts.calls as f32)
        };
        Stats {
            state,
            failure_rate: rate(counts.failures),
            slow_call_rate: if self.slow_detection() {
                rate(counts.slow)
            } else {
                None
            },
            buffered_calls: counts.calls,
            failed_calls: counts.failures,
            successful_calls: counts.calls.saturating_sub(counts.failures),
            slow_calls: counts.slow,
            slow_failed_calls: counts.slow_failures,
            not_permitted_calls: self.not_permitted.load(Ordering::Relaxed),
        }
    }
}
