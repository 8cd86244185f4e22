//! Model test: random sequences of calls (outcomes, durations, held and
//! dropped permits), clock steps and manual transitions, compared step by
//! step against a small reference state machine.

use std::collections::VecDeque;
use std::time::Duration;

use iot_resilience::ManualClock;
use iot_resilience::circuit_breaker::{
    CallPermit, CircuitBreakerConfig, CircuitBreakerHandle, Outcome, Rejected, SlidingWindow, State,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Params {
    /// `Ok(size)` count window, `Err((buckets, bucket_ms))` time window.
    window: Result<u32, (u64, u64)>,
    min_calls: u32,
    failure_threshold: u32,
    slow_threshold: u32,
    slow_ms: Option<u64>,
    permits: u32,
    wait_s: u64,
    multiplier: u32,
    cap_s: Option<u64>,
    max_half_open_ms: Option<u64>,
}

impl Params {
    fn config(&self) -> CircuitBreakerConfig {
        let window = match self.window {
            Ok(size) => SlidingWindow::count(size),
            Err((n, ms)) => SlidingWindow::time_with_bucket(
                Duration::from_millis(n * ms),
                Duration::from_millis(ms),
            ),
        };
        let mut c = CircuitBreakerConfig::default()
            .name("model")
            .sliding_window(window)
            .minimum_number_of_calls(self.min_calls)
            .failure_rate_threshold(self.failure_threshold as f32)
            .slow_call_rate_threshold(self.slow_threshold as f32)
            .permitted_calls_in_half_open(self.permits)
            .wait_duration_in_open(Duration::from_secs(self.wait_s))
            .open_duration_multiplier(f64::from(self.multiplier));
        c.slow_call_duration_threshold = self.slow_ms.map(Duration::from_millis);
        c.max_wait_duration_in_open = self.cap_s.map(Duration::from_secs);
        c.max_wait_in_half_open = self.max_half_open_ms.map(Duration::from_millis);
        c
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sample {
    at_ms: u64,
    failed: bool,
    slow: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ModelPermit {
    state: State,
    generation: u64,
}

/// The reference: plain collections, recomputed rates, no atomics.
#[derive(Debug)]
struct Model {
    p: Params,
    now_ms: u64,
    state: State,
    generation: u64,
    window: VecDeque<Sample>,
    probes: Vec<Sample>,
    probes_available: u32,
    frozen: (Vec<Sample>, u32),
    trips: u32,
    open_until_ms: u64,
    half_open_since_ms: u64,
    not_permitted: u64,
}

impl Model {
    fn new(p: Params) -> Self {
        Self {
            p,
            now_ms: 0,
            state: State::Closed,
            generation: 0,
            window: VecDeque::new(),
            probes: Vec::new(),
            probes_available: 0,
            frozen: (Vec::new(), 0),
            trips: 0,
            open_until_ms: 0,
            half_open_since_ms: 0,
            not_permitted: 0,
        }
    }

    fn min_calls(&self) -> u32 {
        match self.p.window {
            Ok(size) => self.p.min_calls.min(size),
            Err(_) => self.p.min_calls,
        }
    }

    /// Calls in the window now (time windows drop expired buckets).
    fn live_window(&self) -> Vec<Sample> {
        match self.p.window {
            Ok(_) => self.window.iter().copied().collect(),
            Err((n, ms)) => {
                let current = self.now_ms / ms;
                self.window
                    .iter()
                    .filter(|s| s.at_ms / ms + n > current)
                    .copied()
                    .collect()
            }
        }
    }

    fn exceeded(&self, samples: &[Sample]) -> bool {
        let calls = samples.len() as u64;
        let failures = samples.iter().filter(|s| s.failed).count() as u64;
        let slow = samples.iter().filter(|s| s.slow).count() as u64;
        failures * 100 >= u64::from(self.p.failure_threshold) * calls
            || (self.p.slow_ms.is_some() && slow * 100 >= u64::from(self.p.slow_threshold) * calls)
    }

    fn open_duration_ms(&self) -> u64 {
        let d = self.p.wait_s * u64::from(self.p.multiplier).pow(self.trips.min(20));
        d.min(self.p.cap_s.unwrap_or(u64::MAX)) * 1000
    }

    fn transition(&mut self, to: State) {
        match to {
            State::Open => {
                self.frozen = if self.state == State::HalfOpen {
                    (self.probes.clone(), self.p.permits)
                } else {
                    (self.live_window(), self.min_calls())
                };
                self.open_until_ms = self.now_ms + self.open_duration_ms();
                self.trips += 1;
            }
            State::HalfOpen => {
                self.probes.clear();
                self.half_open_since_ms = self.now_ms;
            }
            State::Closed => self.trips = 0,
            _ => {}
        }
        self.window.clear();
        self.probes_available = if to == State::HalfOpen {
            self.p.permits
        } else {
            0
        };
        self.generation += 1;
        self.state = to;
    }

    fn reject(
        &mut self,
        state: State,
        retry_after_ms: Option<u64>,
    ) -> Result<ModelPermit, Rejected> {
        self.not_permitted += 1;
        Err(Rejected {
            state,
            retry_after: retry_after_ms.map(Duration::from_millis),
        })
    }

    fn acquire(&mut self) -> Result<ModelPermit, Rejected> {
        loop {
            let permit = ModelPermit {
                state: self.state,
                generation: self.generation,
            };
            match self.state {
                State::Closed | State::Disabled | State::MetricsOnly => return Ok(permit),
                State::ForcedOpen => return self.reject(State::ForcedOpen, None),
                State::Open if self.now_ms < self.open_until_ms => {
                    return self.reject(State::Open, Some(self.open_until_ms - self.now_ms));
                }
                State::Open => self.transition(State::HalfOpen),
                State::HalfOpen => {
                    let expired = self
                        .p
                        .max_half_open_ms
                        .is_some_and(|max| self.now_ms - self.half_open_since_ms >= max);
                    if expired {
                        self.transition(State::Open);
                    } else if self.probes_available == 0 {
                        return self.reject(State::HalfOpen, None);
                    } else {
                        self.probes_available -= 1;
                        return Ok(permit);
                    }
                }
            }
        }
    }

    fn release(&mut self, permit: ModelPermit) {
        if permit.state == State::HalfOpen
            && self.state == State::HalfOpen
            && permit.generation == self.generation
        {
            self.probes_available += 1;
        }
    }

    fn record(&mut self, permit: ModelPermit, outcome: Outcome, dur_ms: u64) {
        let failed = match outcome {
            Outcome::Ignored => return self.release(permit),
            Outcome::Failure => true,
            Outcome::Success => false,
            _ => unreachable!("an outcome the model does not know"),
        };
        let sample = Sample {
            at_ms: self.now_ms,
            failed,
            slow: self.p.slow_ms.is_some_and(|s| dur_ms > s),
        };
        if permit.generation != self.generation {
            return;
        }
        match permit.state {
            State::Disabled => {}
            State::HalfOpen => {
                self.probes.push(sample);
                if self.probes.len() as u32 >= self.p.permits {
                    let probes = self.probes.clone();
                    let to = if self.exceeded(&probes) {
                        State::Open
                    } else {
                        State::Closed
                    };
                    self.transition(to);
                }
            }
            _ => {
                self.window.push_back(sample);
                if let Ok(size) = self.p.window {
                    while self.window.len() > size as usize {
                        self.window.pop_front();
                    }
                }
                let live = self.live_window();
                if permit.state == State::Closed
                    && live.len() as u32 >= self.min_calls()
                    && self.exceeded(&live)
                {
                    self.transition(State::Open);
                }
            }
        }
    }

    fn manual(&mut self, to: State) {
        if self.state != to {
            self.transition(to);
        }
    }

    fn reset(&mut self) {
        self.not_permitted = 0;
        self.trips = 0;
        self.transition(State::Closed);
    }

    /// (state, buffered, failed, slow, slow_failed, failure_rate_known).
    fn stats(&self) -> (State, u32, u32, u32, u32, bool) {
        let (samples, min) = match self.state {
            State::HalfOpen => (self.probes.clone(), self.p.permits),
            State::Open => self.frozen.clone(),
            _ => (self.live_window(), self.min_calls()),
        };
        let n = |f: fn(&Sample) -> bool| samples.iter().filter(|s| f(s)).count() as u32;
        (
            self.state,
            samples.len() as u32,
            n(|s| s.failed),
            n(|s| s.slow),
            n(|s| s.failed && s.slow),
            !samples.is_empty() && samples.len() as u32 >= min,
        )
    }
}

#[derive(Debug, Clone)]
enum Op {
    Call(Outcome, u64),
    Hold,
    Complete(usize, Outcome, u64),
    Drop(usize),
    Advance(u64),
    Manual(u8),
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        4 => Just(Outcome::Success),
        4 => Just(Outcome::Failure),
        1 => Just(Outcome::Ignored),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (outcome(), 0u64..2_500).prop_map(|(o, d)| Op::Call(o, d)),
        2 => Just(Op::Hold),
        2 => (any::<usize>(), outcome(), 0u64..2_500).prop_map(|(i, o, d)| Op::Complete(i, o, d)),
        1 => any::<usize>().prop_map(Op::Drop),
        4 => prop_oneof![0u64..2_000, 0u64..45_000].prop_map(Op::Advance),
        1 => (0u8..7).prop_map(Op::Manual),
    ]
}

fn params() -> impl Strategy<Value = Params> {
    let window = prop_oneof![
        (1u32..=8).prop_map(Ok),
        (1u64..=5, prop_oneof![Just(500u64), Just(1_000)]).prop_map(Err),
    ];
    (
        window,
        1u32..=10,
        prop_oneof![Just(50u32), Just(100), 1u32..=100],
        1u32..=100,
        prop_oneof![Just(None), Just(Some(1_000u64))],
        1u32..=4,
        1u64..=30,
        1u32..=3,
        prop_oneof![Just(None), (1u64..=4).prop_map(Some)],
        prop_oneof![Just(None), (1_000u64..60_000).prop_map(Some)],
    )
        .prop_map(
            |(
                window,
                min_calls,
                failure_threshold,
                slow_threshold,
                slow_ms,
                permits,
                wait_s,
                multiplier,
                cap,
                max_half_open_ms,
            )| {
                Params {
                    window,
                    min_calls,
                    failure_threshold,
                    slow_threshold,
                    slow_ms,
                    permits,
                    wait_s,
                    multiplier,
                    cap_s: cap.map(|k| wait_s * k),
                    max_half_open_ms,
                }
            },
        )
}

fn run(p: Params, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    let breaker = CircuitBreakerHandle::with_clock(p.config(), clock.clone()).unwrap();
    let mut model = Model::new(p);
    let mut held: Vec<(CallPermit, ModelPermit)> = Vec::new();
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Call(outcome, dur) => {
                let real = breaker.try_acquire();
                let expected = model.acquire();
                prop_assert_eq!(
                    real.as_ref().map(CallPermit::state).map_err(|r| *r),
                    expected.map(|m| m.state),
                    "step {}",
                    step
                );
                if let (Ok(permit), Ok(m)) = (real, expected) {
                    permit.record_with_duration(outcome, Duration::from_millis(dur));
                    model.record(m, outcome, dur);
                }
            }
            Op::Hold => {
                let real = breaker.try_acquire();
                let expected = model.acquire();
                prop_assert_eq!(
                    real.as_ref().map(CallPermit::state).map_err(|r| *r),
                    expected.map(|m| m.state),
                    "step {}",
                    step
                );
                if let (Ok(permit), Ok(m)) = (real, expected) {
                    held.push((permit, m));
                }
            }
            Op::Complete(i, outcome, dur) if !held.is_empty() => {
                let (permit, m) = held.remove(i % held.len());
                permit.record_with_duration(outcome, Duration::from_millis(dur));
                model.record(m, outcome, dur);
            }
            Op::Drop(i) if !held.is_empty() => {
                let (permit, m) = held.remove(i % held.len());
                drop(permit);
                model.release(m);
            }
            Op::Complete(..) | Op::Drop(_) => {}
            Op::Advance(ms) => {
                clock.advance(Duration::from_millis(ms));
                model.now_ms += ms;
            }
            Op::Manual(k) => match k {
                0 => {
                    breaker.force_open();
                    model.manual(State::ForcedOpen)
                }
                1 => {
                    breaker.disable();
                    model.manual(State::Disabled)
                }
                2 => {
                    breaker.metrics_only();
                    model.manual(State::MetricsOnly)
                }
                3 => {
                    breaker.close();
                    model.manual(State::Closed)
                }
                4 => {
                    breaker.transition_to_half_open();
                    model.manual(State::HalfOpen)
                }
                5 => {
                    breaker.transition_to_open();
                    model.manual(State::Open)
                }
                _ => {
                    breaker.reset();
                    model.reset()
                }
            },
        }
        let s = breaker.stats();
        let (state, buffered, failed, slow, slow_failed, rate_known) = model.stats();
        prop_assert_eq!(s.state, state, "step {}", step);
        prop_assert_eq!(breaker.state(), state, "step {}", step);
        prop_assert_eq!(
            (
                s.buffered_calls,
                s.failed_calls,
                s.slow_calls,
                s.slow_failed_calls
            ),
            (buffered, failed, slow, slow_failed),
            "step {}: counts",
            step
        );
        prop_assert_eq!(s.failure_rate.is_some(), rate_known, "step {}: rate", step);
        if let Some(rate) = s.failure_rate {
            let expected = failed as f32 * 100.0 / buffered as f32;
            prop_assert!(
                (rate - expected).abs() < 1e-3,
                "step {}: rate {} vs {}",
                step,
                rate,
                expected
            );
        }
        prop_assert_eq!(s.not_permitted_calls, model.not_permitted, "step {}", step);
    }
    Ok(())
}

fn cases() -> u32 {
    // 512 by default; `PROPTEST_CASES=20000` for a longer soak.
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn breaker_matches_reference_model(p in params(), ops in prop::collection::vec(op(), 1..200)) {
        run(p, ops)?;
    }
}

/// The model test must be able to fail: a model with a different threshold
/// disagrees with the breaker on a simple sequence.
#[test]
fn model_detects_a_wrong_threshold() {
    let p = Params {
        window: Ok(4),
        min_calls: 4,
        failure_threshold: 50,
        slow_threshold: 100,
        slow_ms: None,
        permits: 1,
        wait_s: 10,
        multiplier: 1,
        cap_s: None,
        max_half_open_ms: None,
    };
    let ops = vec![
        Op::Call(Outcome::Failure, 0),
        Op::Call(Outcome::Failure, 0),
        Op::Call(Outcome::Success, 0),
        Op::Call(Outcome::Success, 0),
    ];
    assert!(run(p.clone(), ops.clone()).is_ok());
    let clock = ManualClock::new();
    let real = CircuitBreakerHandle::with_clock(p.config(), clock).unwrap();
    let mut wrong = Model::new(Params {
        failure_threshold: 51,
        ..p
    });
    for op in ops {
        if let Op::Call(o, d) = op {
            real.try_acquire()
                .unwrap()
                .record_with_duration(o, Duration::from_millis(d));
            let m = wrong.acquire().unwrap();
            wrong.record(m, o, d);
        }
    }
    assert_eq!(real.state(), State::Open);
    assert_ne!(wrong.stats().0, real.state());
}
