//! Metric handles, registered once per breaker (or once per keyed breaker
//! family) so the hot path only increments.

#[cfg(not(feature = "metrics"))]
pub(crate) use disabled::{KeyedMetrics, Metrics};
#[cfg(feature = "metrics")]
pub(crate) use enabled::{KeyedMetrics, Metrics};

#[cfg(feature = "metrics")]
mod enabled {
    use std::borrow::Cow;
    use std::sync::Once;

    use metrics::{Counter, Gauge, Unit};

    use crate::circuit_breaker::State;
    use crate::circuit_breaker::window::Sample;

    const STATE: &str = "resilience_circuit_breaker_state";
    const CALLS: &str = "resilience_circuit_breaker_calls_total";
    const TRANSITIONS: &str = "resilience_circuit_breaker_transitions_total";
    const KEYED_ENTRIES: &str = "resilience_circuit_breaker_keyed_entries";
    const KEYED_EVICTIONS: &str = "resilience_circuit_breaker_keyed_evictions_total";

    fn describe() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            metrics::describe_gauge!(
                STATE,
                Unit::Count,
                "Circuit breakers in each state (0 or 1 for a single breaker)."
            );
            metrics::describe_counter!(
                CALLS,
                Unit::Count,
                "Calls seen by the circuit breaker, by outcome (rejected: not permitted)."
            );
            metrics::describe_counter!(
                TRANSITIONS,
                Unit::Count,
                "Circuit breaker state transitions."
            );
            metrics::describe_gauge!(
                KEYED_ENTRIES,
                Unit::Count,
                "Per-key circuit breakers currently held."
            );
            metrics::describe_counter!(
                KEYED_EVICTIONS,
                Unit::Count,
                "Per-key circuit breakers evicted, by reason (idle, capacity)."
            );
        });
    }

    /// Handles for one breaker name.
    #[derive(Debug)]
    pub(crate) struct Metrics {
        success: Counter,
        failure: Counter,
        slow_success: Counter,
        slow_failure: Counter,
        ignored: Counter,
        rejected: Counter,
        states: [Gauge; 6],
        /// Indexed `from * 6 + to` (the diagonal is never used).
        transitions: Vec<Counter>,
    }

    impl Metrics {
        // Cloning the `Cow` keeps a `&'static str` name unallocated.
        #[allow(clippy::ptr_arg)]
        pub(crate) fn new(name: &Cow<'static, str>) -> Self {
            describe();
            let calls = |outcome: &'static str| metrics::counter!(CALLS, "name" => name.clone(), "outcome" => outcome);
            Self {
                success: calls("success"),
                failure: calls("failure"),
                slow_success: calls("slow_success"),
                slow_failure: calls("slow_failure"),
                ignored: calls("ignored"),
                rejected: calls("rejected"),
                states: State::ALL
                    .map(|s| metrics::gauge!(STATE, "name" => name.clone(), "state" => s.as_str())),
                // Registered up front (zero-initialised series, as Prometheus
                // recommends) and with the recorder in force at creation.
                transitions: State::ALL
                    .iter()
                    .flat_map(|from| State::ALL.iter().map(move |to| (*from, *to)))
                    .map(|(from, to)| {
                        if from == to {
                            Counter::noop()
                        } else {
                            metrics::counter!(
                                TRANSITIONS,
                                "name" => name.clone(),
                                "from" => from.as_str(),
                                "to" => to.as_str()
                            )
                        }
                    })
                    .collect(),
            }
        }

        #[inline]
        pub(crate) fn sample(&self, sample: Sample) {
            match sample {
                Sample::Success => &self.success,
                Sample::Failure => &self.failure,
                Sample::SlowSuccess => &self.slow_success,
                Sample::SlowFailure => &self.slow_failure,
            }
            .increment(1);
        }

        #[inline]
        pub(crate) fn ignored(&self) {
            self.ignored.increment(1);
        }

        pub(crate) fn rejected(&self) {
            self.rejected.increment(1);
        }

        pub(crate) fn enter(&self, state: State) {
            self.states[state as usize].increment(1.0);
        }

        pub(crate) fn leave(&self, state: State) {
            self.states[state as usize].decrement(1.0);
        }

        pub(crate) fn transition(&self, from: State, to: State) {
            self.transitions[from as usize * 6 + to as usize].increment(1);
            self.leave(from);
            self.enter(to);
        }
    }

    /// Handles of a per-key breaker family.
    #[derive(Debug)]
    pub(crate) struct KeyedMetrics {
        entries: Gauge,
        evicted_idle: Counter,
        evicted_capacity: Counter,
    }

    impl KeyedMetrics {
        #[allow(clippy::ptr_arg)]
        pub(crate) fn new(name: &Cow<'static, str>) -> Self {
            describe();
            let evicted = |reason: &'static str| metrics::counter!(KEYED_EVICTIONS, "name" => name.clone(), "reason" => reason);
            Self {
                entries: metrics::gauge!(KEYED_ENTRIES, "name" => name.clone()),
                evicted_idle: evicted("idle"),
                evicted_capacity: evicted("capacity"),
            }
        }

        pub(crate) fn added(&self) {
            self.entries.increment(1.0);
        }

        pub(crate) fn removed(&self, n: usize) {
            if n > 0 {
                self.entries.decrement(n as f64);
            }
        }

        pub(crate) fn evicted_idle(&self, n: usize) {
            self.evicted_idle.increment(n as u64);
        }

        pub(crate) fn evicted_capacity(&self, n: usize) {
            self.evicted_capacity.increment(n as u64);
        }
    }
}

#[cfg(not(feature = "metrics"))]
mod disabled {
    use std::borrow::Cow;

    use crate::circuit_breaker::State;
    use crate::circuit_breaker::window::Sample;

    /// Without the `metrics` feature every method is a no-op.
    #[derive(Debug)]
    pub(crate) struct Metrics;

    /// Same, for per-key families.
    #[derive(Debug)]
    pub(crate) struct KeyedMetrics;

    impl KeyedMetrics {
        #[allow(clippy::ptr_arg)]
        pub(crate) fn new(_: &Cow<'static, str>) -> Self {
            KeyedMetrics
        }
        pub(crate) fn added(&self) {}
        pub(crate) fn removed(&self, _: usize) {}
        pub(crate) fn evicted_idle(&self, _: usize) {}
        pub(crate) fn evicted_capacity(&self, _: usize) {}
    }

    impl Metrics {
        #[allow(clippy::ptr_arg)]
        pub(crate) fn new(_: &Cow<'static, str>) -> Self {
            Metrics
        }
        #[inline]
        pub(crate) fn sample(&self, _: Sample) {}
        #[inline]
        pub(crate) fn ignored(&self) {}
        pub(crate) fn rejected(&self) {}
        pub(crate) fn enter(&self, _: State) {}
        pub(crate) fn leave(&self, _: State) {}
        pub(crate) fn transition(&self, _: State, _: State) {}
    }
}
