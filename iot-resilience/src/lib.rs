//! # iot-resilience
//!
//! Resilience middleware for [tower](https://docs.rs/tower) services: retry,
//! circuit breaker, rate limit, bulkhead and timeout, each a `Layer` with
//! typed errors, state shared across clones and lock-free hot paths.
//!
//! **Status:** the layers are under construction; this release reserves the
//! crate name and documents the design. The crate is generic: it knows
//! nothing about IoT types and can wrap any tower service.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
