//! Prometheus exposition through `metrics-exporter-prometheus`: histograms
//! with explicit buckets (never summaries), global labels, HELP text for
//! every iot-observe metric, and the upkeep task always running.
//!
//! [`PrometheusExporter::install`] makes it the global `metrics` recorder;
//! serve [`PrometheusExporter::render`] at `/metrics` with
//! [`PROMETHEUS_CONTENT_TYPE`](crate::PROMETHEUS_CONTENT_TYPE), or hand the
//! exporter to the endpoint as a [`MetricsSource`](crate::MetricsSource).
//! Install it before building any [`MetricsLayer`](crate::metrics_layer::MetricsLayer):
//! layers bind their handles to the recorder current at construction.
//!
//! ```
//! use iot_observe::prometheus::{PrometheusConfig, PrometheusExporter};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), iot_observe::prometheus::ExporterError> {
//! let config = PrometheusConfig::default().service("gateway").instance("pod-1");
//! let exporter = PrometheusExporter::install(config.clone())?;
//! // A second install keeps the first recorder and reports it.
//! assert!(PrometheusExporter::install(config).is_err());
//! # drop(exporter);
//! # Ok(())
//! # }
//! ```

mod config;
mod error;
mod exporter;
mod upkeep;

pub use config::{
    BucketOverride, DEFAULT_BUCKETS, DEFAULT_UPKEEP_INTERVAL, MetricMatcher, PrometheusConfig,
    RESERVED_LABELS,
};
pub use error::ExporterError;
pub use exporter::PrometheusExporter;
