//! # iot-resilience
//!
//! Resilience middleware for [tower](https://docs.rs/tower) services: retry,
//! circuit breaker, rate limit, bulkhead, timeout and fallback, each a
//! `Layer` + `Service` with its own future type and typed error.
//!
//! * **Typed errors**: every layer's error keeps the inner service's error
//!   `E` intact and carries data (attempts made, `retry_after`, breaker
//!   state); nothing is erased to `BoxError`.
//! * **Shared state**: clones of a service share their breaker, limiter,
//!   bulkhead and retry budget, so `Clone`-per-request patterns (axum,
//!   `tower::buffer`) see one policy.
//! * **Lock-free hot paths**: the closed breaker and the rate limiter are a
//!   handful of atomic operations; steady-state calls do not allocate.
//! * **Tower contract**: readiness is driven before every retry attempt;
//!   permits taken in `poll_ready` are released on drop; calling a service
//!   that was not made ready returns an error instead of panicking.
//!
//! The crate is generic: it knows nothing about IoT types.
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

pub mod backoff;
pub mod bulkhead;
pub mod circuit_breaker;
mod clock;
mod config;
pub mod fallback;
mod hint;
pub mod rate_limit;
pub mod retry;
pub mod timeout;

pub use clock::{Clock, ManualClock, TokioClock};
#[cfg(feature = "serde")]
pub use config::duration as serde_duration;
pub use config::ConfigError;
pub use hint::{Hint, RetryHint};
