#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! * [`health`]: checks with liveness, readiness and startup semantics,
//!   cached or refreshed in the background so probe storms never reach
//!   dependencies, reported in the `application/health+json` format.
//! * [`endpoint`]: a tower service serving `/health/live`,
//!   `/health/ready`, `/health/startup`, `/health` and `/metrics`, plus an
//!   axum router (feature `axum`) and a standalone server (feature `server`).
//! * [`shutdown`]: graceful drain: readiness fails at once while liveness
//!   stays up, then the drain period runs out (SIGTERM and Ctrl-C with
//!   feature `signal`).
//! * [`metrics_layer`]: a tower `MetricsLayer` (requests by outcome, latency
//!   histogram, in-flight gauge) whose hot path uses pre-registered handles,
//!   and its HTTP mode by route, method and status class (feature `axum`).
//! * [`prometheus`] (feature `prometheus`): Prometheus exposition with
//!   explicit histogram buckets, global labels and the upkeep task always
//!   running.
//! * [`tracing_init`] (feature `tracing-init`): subscriber setup, JSON for
//!   production, human output for development, `RUST_LOG` filtering, and a
//!   `LogHandle` changing the filter at run time.
//! * [`admin`] (feature `admin`): routes to read and change the log filter
//!   and read the configuration and breaker states; serve them on loopback
//!   or behind authentication.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "admin")]
#[cfg_attr(docsrs, doc(cfg(feature = "admin")))]
pub mod admin;
pub mod endpoint;
pub mod health;
pub mod metrics_layer;
#[cfg(feature = "prometheus")]
pub mod prometheus;
pub mod shutdown;
#[cfg(feature = "tracing-init")]
pub mod tracing_init;

/// Something that renders the current metrics in the Prometheus text
/// exposition format, served at `/metrics` by [`endpoint`].
///
/// Implemented by `prometheus::PrometheusExporter` (feature `prometheus`) and
/// by closures returning a `String`.
pub trait MetricsSource: Send + Sync + 'static {
    /// The exposition text (`text/plain; version=0.0.4`).
    fn render(&self) -> String;
}

impl<F> MetricsSource for F
where
    F: Fn() -> String + Send + Sync + 'static,
{
    fn render(&self) -> String {
        self()
    }
}

/// The `Content-Type` of the Prometheus text exposition format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `Content-Type` of health responses (draft-inadarei-api-health-check).
pub const HEALTH_CONTENT_TYPE: &str = "application/health+json";
