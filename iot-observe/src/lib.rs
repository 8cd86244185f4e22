//! # iot-observe
//!
//! Observability for services built with the `iot-*` family: health checks
//! with liveness, readiness and startup semantics, probe and `/metrics`
//! endpoints, a tower metrics layer and tracing setup.
//!
//! ```
//! use iot_observe::endpoint::HealthEndpoint;
//! use iot_observe::health::{CheckOptions, CheckResult, Group, HealthRegistry, StartupFlag, check_fn};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let started = StartupFlag::new();
//! let registry = HealthRegistry::builder()
//!     .check("worker:loop", check_fn(|| async { CheckResult::pass() }), CheckOptions::liveness())
//!     .check("app:startup", started.clone(), CheckOptions::startup().and(Group::Readiness))
//!     .build()?;
//! registry.refresh().await; // or `registry.start()`: refresh in the background
//!
//! // A tower service: serve it with `endpoint::serve`, axum or any server.
//! let endpoint = HealthEndpoint::new(registry);
//! let ready = || http::Request::get("/health/ready").body(()).unwrap();
//! assert_eq!(endpoint.clone().oneshot(ready()).await?.status(), 503);
//!
//! started.mark_done(); // initialisation is over
//! let response = endpoint.oneshot(ready()).await?;
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.headers()["content-type"], iot_observe::HEALTH_CONTENT_TYPE);
//! # Ok(())
//! # }
//! ```
//!
//! The modules:
//!
//! * [`health`]: checks with liveness, readiness and startup semantics,
//!   cached or refreshed in the background so probe storms never reach
//!   dependencies, reported in the `application/health+json` format.
//! * [`endpoint`]: a tower service serving `/health/live`,
//!   `/health/ready`, `/health/startup`, `/health` and `/metrics`, plus an
//!   axum router (feature `axum`) and a standalone server (feature `server`).
//! * [`shutdown`]: graceful drain: on SIGTERM or Ctrl-C readiness fails at
//!   once while liveness stays up, then the drain period runs out.
//! * [`prometheus`]: Prometheus exposition with explicit histogram buckets,
//!   global labels and the upkeep task always running.
//! * [`metrics_layer`]: a tower `MetricsLayer` (requests by outcome, latency
//!   histogram, in-flight gauge) whose hot path uses pre-registered handles.
//! * [`tracing_init`]: subscriber setup, JSON for production, human output
//!   for development, `RUST_LOG` filtering.
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
