//! # iot-observe
//!
//! Observability for services built with the `iot-*` family: health checks
//! with liveness, readiness and startup semantics in the
//! `application/health+json` format, probe and `/metrics` endpoints, a tower
//! metrics layer on the [`metrics`](https://docs.rs/metrics) facade with
//! Prometheus exposition, tracing setup and graceful drain on shutdown.
//!
//! **Status:** under construction; this release reserves the crate name.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
