//! Circuit breaker: stop calling a backend that keeps failing, probe it
//! after a while, resume when it recovers.
//!
//! # States
//!
//! | state | admits | records | leaves by |
//! | --- | --- | --- | --- |
//! | [`Closed`](State::Closed) | every call | sliding window | a rate threshold reached → open |
//! | [`Open`](State::Open) | nothing ([`CircuitBreakerError::Open`] with `retry_after`) | - | open duration elapsed and a call arrives → half-open |
//! | [`HalfOpen`](State::HalfOpen) | `permitted_calls_in_half_open` probes | probe outcomes | all probes done: under thresholds → closed, else → open; `max_wait_in_half_open` elapsed → open |
//! | [`ForcedOpen`](State::ForcedOpen) | nothing | - | handle only |
//! | [`Disabled`](State::Disabled) | every call | nothing | handle only |
//! | [`MetricsOnly`](State::MetricsOnly) | every call | sliding window, metrics | handle only (never opens) |
//!
//! **Rates.** After each recorded call the closed breaker computes the
//! failure rate (failures / calls) and, when
//! [`slow_call_duration_threshold`](CircuitBreakerConfig::slow_call_duration_threshold)
//! is set, the slow-call rate (calls slower than the threshold, failed or
//! not / calls) over its [`SlidingWindow`]: the last N calls, or the last
//! N seconds in buckets of one second or less. Once the window holds
//! [`minimum_number_of_calls`](CircuitBreakerConfig::minimum_number_of_calls)
//! calls, a rate at or above its threshold opens the breaker. A
//! [`Classifier`] decides what counts as a success, a failure, or nothing
//! ([`Outcome::Ignored`]).
//!
//! **Open duration.** [`wait_duration_in_open`](CircuitBreakerConfig::wait_duration_in_open),
//! multiplied by [`open_duration_multiplier`](CircuitBreakerConfig::open_duration_multiplier)
//! for each further trip without a successful close (failed probes), capped
//! by [`max_wait_duration_in_open`](CircuitBreakerConfig::max_wait_duration_in_open);
//! back to the base after the breaker closes. There is no background task:
//! the first call after the wait moves the breaker to half-open.
//!
//! **Half-open.** Exactly `permitted_calls_in_half_open` probes are admitted;
//! every other call is rejected while they run. When all have completed,
//! their failure and slow-call rates decide. A probe whose future (or
//! service, before `call`) is dropped, or whose outcome is
//! [`Ignored`](Outcome::Ignored), gives its permit back: it counts neither as
//! success nor as failure.
//!
//! **Generations.** Each transition starts a new generation with an empty
//! window; a call admitted before a transition that completes after it is
//! not recorded. Calls dropped before completing are never recorded.
//!
//! # Tower contract
//!
//! Admission happens in `poll_ready` ([`CircuitBreaker`]), which takes a
//! permit and holds it until `call`. A rejection does not make `poll_ready`
//! fail (`tower::buffer` and balancers treat `poll_ready` errors as fatal):
//! it returns ready at once without waiting for the inner service, and the
//! following `call` fails fast with [`CircuitBreakerError::Open`], like
//! `tower::load_shed`. `call` without a successful `poll_ready` returns
//! [`CircuitBreakerError::NotReady`], also when a permit is held but the
//! inner service's last `poll_ready` was `Pending` (the permit is kept for
//! the next `poll_ready`). All clones of a service, the layer and every
//! [`CircuitBreakerHandle`] share one breaker.
//!
//! # Changing settings at run time
//!
//! [`CircuitBreakerHandle::update`] (the handle of a
//! [`CircuitBreakerLayer::handle`]) applies a new configuration to the
//! running breaker, validated as the configuration files are (an invalid
//! one returns the same [`ConfigError`](crate::ConfigError) and changes
//! nothing; `name` and `sliding_window` cannot change). The state, the
//! window's recorded calls, the open deadline and the count of consecutive
//! trips are kept:
//!
//! * thresholds and `minimum_number_of_calls` apply from the next recorded
//!   call (a threshold lowered under the current rate opens the breaker on
//!   that call);
//! * `slow_call_duration_threshold` applies to calls admitted after the
//!   update;
//! * `wait_duration_in_open`, its multiplier and cap apply to the next
//!   opening (an open breaker keeps its deadline);
//! * `permitted_calls_in_half_open` applies from the next half-open state;
//!   `max_wait_in_half_open` at once.
//!
//! Each setting is its own atomic (the hot path adds relaxed loads only),
//! so a call racing an update may see some settings old and some new.
//!
//! # Cost
//!
//! Closed, count window, slow-call detection off: `poll_ready` is one atomic
//! load; recording is one atomic increment and two loads when the evicted
//! call had the same outcome (two more read-modify-writes otherwise). The
//! response future holds a handle to record its outcome, which is an `Arc`
//! clone and drop per call unless the breaker was
//! [`leak`](CircuitBreakerHandle::leak)ed (for process-lifetime breakers).
//! No allocation per call, no lock. Slow-call detection adds two clock
//! reads; a time window one clock read and a bucket increment. Measured on a
//! shared 2-vCPU AMD EPYC VM (release build, always-ready inner service):
//! about 19 ns per call over the bare service, 18 ns leaked
//! (docs/benchmarks.md).
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use iot_resilience::circuit_breaker::{
//!     CircuitBreakerConfig, CircuitBreakerError, CircuitBreakerLayer, Outcome, SlidingWindow, State,
//! };
//! use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let layer = CircuitBreakerLayer::new(
//!     CircuitBreakerConfig::default()
//!         .name("ingest")
//!         .sliding_window(SlidingWindow::count(4))
//!         .minimum_number_of_calls(4)
//!         .wait_duration_in_open(Duration::from_secs(30)),
//! )
//! .unwrap()
//! // Only server errors say the backend is unhealthy.
//! .classifier(|r: &Result<u16, std::io::Error>| match r {
//!     Ok(code) if *code >= 500 => Outcome::Failure,
//!     Ok(_) => Outcome::Success,
//!     Err(_) => Outcome::Failure,
//! });
//! let breaker = layer.handle().clone();
//! let mut events = breaker.subscribe();
//!
//! let mut svc = ServiceBuilder::new()
//!     .layer(layer)
//!     .service(service_fn(|fail: bool| async move {
//!         Ok::<u16, std::io::Error>(if fail { 503 } else { 200 })
//!     }));
//!
//! for fail in [true, true, false, true] {
//!     let _ = svc.ready().await.unwrap().call(fail).await;
//! }
//! assert_eq!(breaker.state(), State::Open);
//! assert_eq!(events.recv().await.unwrap().to, State::Open);
//!
//! match svc.ready().await.unwrap().call(false).await {
//!     Err(CircuitBreakerError::Open { state: State::Open, retry_after }) => {
//!         assert_eq!(retry_after, Some(Duration::from_secs(30)));
//!     }
//!     other => panic!("expected a rejection, got {other:?}"),
//! }
//! # }
//! ```
//!
//! # Per-key breakers
//!
//! [`KeyedCircuitBreaker`] holds one breaker per key (device, host) under a
//! memory bound (capacity and idle eviction); [`KeyedCircuitBreakerLayer`]
//! picks the key from each request with a `Fn(&Request) -> K`.
//!
//! The bound is in bytes too, not only in keys: validation refuses a
//! configuration whose `capacity` keys would take more than
//! [`KeyedCircuitBreakerConfig::max_memory`] (default 64 MiB), counting
//! each key's window ([`SlidingWindow::memory_bytes`]: one byte per call
//! of a count window, [`TIME_BUCKET_BYTES`] per bucket of a time window)
//! plus [`KEY_OVERHEAD_BYTES`] for the breaker around it. The worst case
//! is [`KeyedCircuitBreakerConfig::worst_case_memory`]; a single breaker's
//! window is at most about 1 MB ([`MAX_COUNT_WINDOW`] calls) or 2.4 MB
//! ([`MAX_TIME_BUCKETS`] buckets).
//!
//! # Observability
//!
//! Tracing (target: this module's path, field `name` = the configured name,
//! and `key` for per-key breakers): `WARN` when a breaker opens (`from`,
//! `to`, `reason`, `open_for`), `INFO` for other transitions, `DEBUG` for
//! each rejected call (`state`, `retry_after`) and for per-key evictions.
//!
//! Metrics (feature `metrics`, through the `metrics` facade; handles are
//! registered when a breaker is created, so calls only increment):
//!
//! | name | type | labels | meaning |
//! | --- | --- | --- | --- |
//! | `resilience_circuit_breaker_state` | gauge | `name`, `state` | breakers in `state` (1 for the current state of a single breaker, 0 for the others; for per-key breakers, how many keys are in it) |
//! | `resilience_circuit_breaker_calls_total` | counter | `name`, `outcome` = `success`, `failure`, `slow_success`, `slow_failure`, `ignored`, `rejected` | calls by outcome (nothing is counted while disabled) |
//! | `resilience_circuit_breaker_transitions_total` | counter | `name`, `from`, `to` | state transitions |
//! | `resilience_circuit_breaker_keyed_entries` | gauge | `name` | per-key breakers held |
//! | `resilience_circuit_breaker_keyed_evictions_total` | counter | `name`, `reason` = `idle`, `capacity` | per-key breakers evicted |
//!
//! Subscribers ([`CircuitBreakerHandle::subscribe`]) receive every
//! [`StateTransition`] in order.

mod classifier;
mod config;
mod core;
mod error;
mod future;
mod handle;
mod keyed;
mod layer;
mod service;
mod state;
mod telemetry;
mod transition;
mod window;

pub use classifier::{Classifier, DefaultClassifier, Outcome};
pub use config::{
    COUNT_SLOT_BYTES, CircuitBreakerConfig, MAX_COUNT_WINDOW, MAX_HALF_OPEN_PERMITS,
    MAX_TIME_BUCKETS, SlidingWindow, TIME_BUCKET_BYTES,
};
pub use error::{CircuitBreakerError, Rejected};
pub use future::ResponseFuture;
pub use handle::{CallPermit, CircuitBreakerHandle};
pub use keyed::{
    DEFAULT_KEYED_MAX_MEMORY, KEY_OVERHEAD_BYTES, KeyedCircuitBreaker, KeyedCircuitBreakerConfig,
    KeyedCircuitBreakerLayer, KeyedCircuitBreakerService,
};
pub use layer::CircuitBreakerLayer;
pub use service::CircuitBreaker;
pub use state::{State, StateTransition, Stats, TransitionReason};

/// Transitions a [`subscribe`](CircuitBreakerHandle::subscribe)r may fall
/// behind by before it lags.
pub const EVENT_CAPACITY: usize = 64;
