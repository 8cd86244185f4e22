//! # iot-resilience
//!
//! Resilience middleware for [tower](https://docs.rs/tower) services: retry,
//! circuit breaker, rate limit, bulkhead, timeout and fallback, each a
//! `Layer` + `Service` with its own future type and typed error; and
//! [`batch`], which gathers single requests into batches for a
//! `Service<Vec<Req>>` and gives each caller its own item's outcome.
//!
//! * **Typed errors**: every layer's error keeps the inner service's error
//!   `E` intact and carries data (attempts made, `retry_after`, breaker
//!   state); nothing is erased to `BoxError`.
//! * **Shared state**: clones of a service share their breaker, limiter,
//!   bulkhead and retry budget, so `Clone`-per-request patterns (axum,
//!   `tower::buffer`) see one policy.
//! * **Lock-free hot paths**: the closed breaker and the rate limiter are a
//!   handful of atomic operations (the keyed variants add one short shard
//!   lock to find a key's state); steady-state calls do not allocate. With
//!   the `quanta` feature, `QuantaClock` reads the CPU's
//!   time-stamp counter instead of `clock_gettime` (docs/resilience.md,
//!   "Clocks").
//! * **Tower contract**: readiness is driven before every retry attempt;
//!   permits taken in `poll_ready` are released on drop (a rate-limit
//!   permit only when that cannot over-admit); calling a service that was
//!   not made ready returns a `NotReady` error instead of panicking, and no
//!   layer calls its inner service unless that service's last `poll_ready`
//!   returned `Ready(Ok)`.
//!
//! The crate is generic: it knows nothing about IoT types.
//!
//! ## A composed stack
//!
//! The order that works for calls to a flaky backend, outermost first:
//! rate limit (shed load before doing anything), circuit breaker (fail fast
//! while the backend is sick), retry (with a shared budget, so retries
//! cannot storm it), timeout (per attempt, so a hung attempt is retried).
//! `docs/resilience.md` explains the choices.
//!
//! ```
//! use std::time::Duration;
//! use iot_resilience::{
//!     circuit_breaker::{CircuitBreakerConfig, CircuitBreakerLayer, SlidingWindow},
//!     rate_limit::{RateLimitConfig, RateLimitLayer},
//!     retry::{RetryConfig, RetryLayer},
//!     timeout::{TimeoutConfig, TimeoutLayer},
//!     backoff::BackoffConfig,
//! };
//! use tower::{Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let breaker = CircuitBreakerLayer::new(
//!     CircuitBreakerConfig::default()
//!         .name("ingest")
//!         .sliding_window(SlidingWindow::count(50))
//!         .minimum_number_of_calls(20)
//!         .failure_rate_threshold(50.0)
//!         .wait_duration_in_open(Duration::from_secs(10)),
//! )?;
//! let handle = breaker.handle().clone(); // state, stats, forcing, transitions
//!
//! let mut svc = ServiceBuilder::new()
//!     .layer(RateLimitLayer::new(RateLimitConfig::per(1_000, Duration::from_secs(1)).name("ingest"))?)
//!     .layer(breaker)
//!     .layer(RetryLayer::new(
//!         RetryConfig::default()
//!             .name("ingest")
//!             .max_attempts(3)
//!             .backoff(BackoffConfig::full_jitter(Duration::from_millis(50), Duration::from_secs(1))),
//!     )?)
//!     .layer(TimeoutLayer::new(TimeoutConfig::default().name("ingest").timeout(Duration::from_millis(500)))?)
//!     .service_fn(|frame: u64| async move { Ok::<_, std::io::Error>(frame * 2) });
//!
//! let response = svc.ready().await?.call(21).await?;
//! assert_eq!(response, 42);
//! assert_eq!(handle.state(), iot_resilience::circuit_breaker::State::Closed);
//! # Ok(())
//! # }
//! ```
//!
//! ## Metrics
//!
//! With the `metrics` feature every layer reports through the
//! [`metrics`](https://docs.rs/metrics) facade. Handles are registered when a
//! layer is built, so the hot path only increments. The label `name` is the
//! configured layer name.
//!
//! | metric | type | labels | meaning |
//! | --- | --- | --- | --- |
//! | `resilience_circuit_breaker_state` | gauge | `name`, `state` | 1 on the current state's series (per-key: breakers in that state) |
//! | `resilience_circuit_breaker_calls_total` | counter | `name`, `outcome` = success, failure, slow_success, slow_failure, ignored, rejected | calls by outcome |
//! | `resilience_circuit_breaker_transitions_total` | counter | `name`, `from`, `to` | state transitions |
//! | `resilience_circuit_breaker_keyed_entries` | gauge | `name` | per-key breakers held |
//! | `resilience_circuit_breaker_keyed_evictions_total` | counter | `name`, `reason` = idle, capacity | per-key breakers evicted |
//! | `resilience_retry_attempts_total` | counter | `name` | retries made (first attempts not counted) |
//! | `resilience_retry_calls_total` | counter | `name`, `outcome` = success, success_after_retry, exhausted, budget_exhausted, not_retryable, deadline | calls by how they ended |
//! | `resilience_retry_budget_exhausted_total` | counter | `name` | retries refused by the budget |
//! | `resilience_rate_limit_decisions_total` | counter | `name`, `decision` = allowed, rejected, waited | limiter decisions of the layers |
//! | `resilience_rate_limit_keys` | gauge | `name` | keys held by a keyed limiter |
//! | `resilience_rate_limit_evictions_total` | counter | `name`, `reason` = idle, busy | keys evicted |
//! | `resilience_bulkhead_in_flight` | gauge | `name` | permits held |
//! | `resilience_bulkhead_rejections_total` | counter | `name` | calls rejected by a full bulkhead |
//! | `resilience_timeout_elapsed_total` | counter | `name` | calls that timed out |
//! | `resilience_fallback_invocations_total` | counter | `name`, `outcome` = success, failure | fallbacks run |
//! | `resilience_batch_size` | histogram | `name` | items per batch handed to the inner service |
//! | `resilience_batch_flushes_total` | counter | `name`, `reason` = count, bytes, age, close | batches flushed, by trigger |
//! | `resilience_batch_pending` | gauge | `name` | items accepted and not yet handed to the inner service |
//!
//! Every state transition, rejection and retry is also a `tracing` event
//! with target `iot_resilience::<layer>` and a `name` field; each batch is
//! a `batch` span.
//!
//! ## Server hints
//!
//! Errors and responses that implement [`RetryHint`] tell the retry layer
//! "retry after D" or "do not retry"; all errors of this crate do.
//!
//! ## Configuration
//!
//! Every configuration is a plain struct with `Default`, builder methods,
//! `validate()` returning a [`ConfigError`] that names the field, and (with
//! the default `serde` feature) serde support with durations written as
//! `"250ms"` or `"5s"`.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
pub mod backoff;
pub mod batch;
pub mod bulkhead;
pub mod circuit_breaker;
mod clock;
mod config;
pub mod fallback;
mod hint;
pub mod rate_limit;
pub mod retry;
pub mod timeout;

#[cfg(feature = "quanta")]
pub use clock::QuantaClock;
pub use clock::{Clock, Epoch, ManualClock, TokioClock};
#[cfg(feature = "serde")]
pub use config::duration as serde_duration;
pub use config::{ConfigError, Validate, Validated};
pub use hint::{Hint, RetryHint};

// Compile and run the README's example as a doc test, so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
