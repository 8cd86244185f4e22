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
//!   lock to find a key's state); steady-state calls do not allocate. The
//!   default clock, [`TokioClock`], follows tokio's paused time in test
//!   builds and reads the CPU's time-stamp counter instead of
//!   `clock_gettime` in the others (feature `quanta`, on by default;
//!   docs/resilience.md, "Clocks").
//! * **Tower contract**: readiness is driven before every retry attempt;
//!   permits taken in `poll_ready` are released on drop (a rate-limit
//!   permit only when that cannot over-admit); calling a service that was
//!   not made ready returns a `NotReady` error instead of panicking, and no
//!   layer calls its inner service unless that service's last `poll_ready`
//!   returned `Ready(Ok)`.
//!
//! * **Settings changed at run time**: every layer's `handle()` reads and
//!   changes its settings while it runs (`config()`, `update(config)`),
//!   validated like configuration files and keeping the layer's state
//!   (breaker state and window, limiter GCRA state, retry budget, bulkhead
//!   permits); `docs/resilience.md`, "Changing settings at run time".
//!
//! The crate is generic: it knows nothing about IoT types.
//!
//! ## Modules
//!
//! | module | layer | error |
//! | --- | --- | --- |
//! | [`rate_limit`] | [`RateLimitLayer`](rate_limit::RateLimitLayer), [`KeyedRateLimitLayer`](rate_limit::KeyedRateLimitLayer) | [`RateLimitError`](rate_limit::RateLimitError) |
//! | [`circuit_breaker`] | [`CircuitBreakerLayer`](circuit_breaker::CircuitBreakerLayer), [`KeyedCircuitBreakerLayer`](circuit_breaker::KeyedCircuitBreakerLayer) | [`CircuitBreakerError`](circuit_breaker::CircuitBreakerError) |
//! | [`retry`] (schedules in [`backoff`]) | [`RetryLayer`](retry::RetryLayer) | [`RetryError`](retry::RetryError) |
//! | [`bulkhead`] | [`BulkheadLayer`](bulkhead::BulkheadLayer) | [`BulkheadError`](bulkhead::BulkheadError) |
//! | [`timeout`] | [`TimeoutLayer`](timeout::TimeoutLayer) | [`TimeoutError`](timeout::TimeoutError) |
//! | [`fallback`] | [`FallbackLayer`](fallback::FallbackLayer) | [`FallbackError`](fallback::FallbackError) |
//! | [`batch`] | [`BatchLayer`](batch::BatchLayer) | [`BatchError`](batch::BatchError) |
//! | `axum` (feature `axum`) | `IntoResponseLayer`, `BufferBodyLayer` | every error above is `IntoResponse` |
//!
//! Shared pieces: [`Validated`] configurations, [`ConfigError`],
//! [`RetryHint`] and [`Hint`], and the clocks ([`Clock`], [`TokioClock`],
//! [`ManualClock`]).
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
//! // Configurations are validated once (`build()`); the layers made from
//! // them cannot fail.
//! let breaker = CircuitBreakerLayer::from_validated(
//!     CircuitBreakerConfig::default()
//!         .name("ingest")
//!         .sliding_window(SlidingWindow::count(50))
//!         .minimum_number_of_calls(20)
//!         .failure_rate_threshold(50.0)
//!         .wait_duration_in_open(Duration::from_secs(10))
//!         .build()?,
//! );
//! let handle = breaker.handle().clone(); // state, stats, forcing, transitions
//!
//! let mut svc = ServiceBuilder::new()
//!     .layer(RateLimitLayer::from(RateLimitConfig::per(1_000, Duration::from_secs(1)).name("ingest").build()?))
//!     .layer(breaker)
//!     .layer(RetryLayer::from(
//!         RetryConfig::default()
//!             .name("ingest")
//!             .max_attempts(3)
//!             .backoff(BackoffConfig::full_jitter(Duration::from_millis(50), Duration::from_secs(1)))
//!             .build()?,
//!     ))
//!     .layer(TimeoutLayer::from(TimeoutConfig::default().name("ingest").timeout(Duration::from_millis(500)).build()?))
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
//! "retry after D" or "do not retry"; all errors of this crate do. Errors
//! of other crates (`reqwest::Error`, `tonic::Status`, `anyhow::Error`) are
//! classified by a closure or trait object instead, without a newtype:
//! [`RetryLayer::with_error_hint`](retry::RetryLayer::with_error_hint).
//!
//! ## Configuration
//!
//! Every configuration is a struct with `Default`, builder methods,
//! `validate()` returning a [`ConfigError`] that names the field, and (with
//! the default `serde` feature) serde support with durations written as
//! `"250ms"` or `"5s"`.
//!
//! **Preferred: validate once, build infallibly.** `build()` checks a
//! configuration and returns a [`Validated`] one; `XLayer::from_validated`
//! (or `XLayer::from`) turns it into a layer and cannot fail. Deserializing
//! into `Validated<XConfig>` validates too, so a bad file is rejected where
//! it is read. The older `XLayer::new(config) -> Result` constructors
//! remain and do both steps.
//!
//! ```
//! # #[cfg(feature = "serde")] {
//! use iot_resilience::Validated;
//! use iot_resilience::retry::{RetryConfig, RetryLayer};
//!
//! let config: Validated<RetryConfig> = serde_json::from_str(r#"{"max_attempts": 4}"#).unwrap();
//! let layer = RetryLayer::from(config); // no Result
//! assert_eq!(layer.config().max_attempts, 4);
//!
//! let bad = serde_json::from_str::<Validated<RetryConfig>>(r#"{"max_attempts": 0}"#);
//! assert!(bad.unwrap_err().to_string().contains("retry.max_attempts"));
//! # }
//! ```
//!
//! Configurations and the enums that may grow are `#[non_exhaustive]`:
//! build configurations with `Default` and the builder methods (or serde),
//! and give `match`es on the errors a wildcard arm.
//!
//! ## axum
//!
//! With the `axum` feature, every error implements axum's `IntoResponse`
//! (429 with `Retry-After` for a rate limit, 503 for an open breaker, with
//! `Retry-After` when the remaining open time is known, 503 for a full
//! bulkhead, 504 for a timeout, inner errors by their own
//! `IntoResponse`), and `axum::IntoResponseLayer` makes a stack's error
//! `Infallible`, as `Router::layer` and `route_layer` require. See the
//! `axum` module (built with the feature, and on docs.rs) for a
//! route-level stack and a stack held in state.
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
mod lock;
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

// `#[non_exhaustive]` pinned by compile-fail doc tests.
#[cfg(doctest)]
mod stability;

// Compile and run the README's example as a doc test, so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
