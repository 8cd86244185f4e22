//! A tower [`MetricsLayer`]: requests by outcome, a latency histogram and
//! an in-flight gauge for one operation, plus the [`catalog`] of every
//! metric iot-observe exports.
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `<prefix>_requests_total` | counter | `operation`, `outcome` |
//! | `<prefix>_request_duration_seconds` | histogram | `operation`, `outcome` |
//! | `<prefix>_requests_in_flight` | gauge | `operation` |
//!
//! For HTTP services under axum, [`MetricsLayer::http`] (feature `axum`)
//! records `<prefix>_http_requests_total`,
//! `<prefix>_http_request_duration_seconds` and
//! `<prefix>_http_requests_in_flight` by `route` (the matched route
//! template; one `unmatched` value for everything else), `method` and
//! `status_class` (`2xx`, ..., `5xx`) instead of a fixed operation: see
//! `HttpMetricsLayer`.
//!
//! The prefix defaults to `iot`. `outcome` is `success` or `error`, decided
//! by a [`Classify`] implementation. Labels are a bounded set: the
//! operation name is fixed when the layer is built (a name or route
//! template, never a raw id), so every series is registered up front and
//! the hot path only touches pre-registered handles.
//!
//! Handles bind to the recorder that is current when the layer is built:
//! install the exporter (or enter `metrics::with_local_recorder`) first.
//!
//! ```
//! use iot_observe::metrics_layer::{MetricsLayer, Outcome};
//! use tower::{Service, ServiceExt, service_fn};
//!
//! # #[cfg(not(feature = "prometheus"))] fn main() {}
//! # #[cfg(feature = "prometheus")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use metrics_exporter_prometheus::PrometheusBuilder;
//!
//! let recorder = PrometheusBuilder::new().set_buckets(&[0.1, 1.0]).unwrap().build_recorder();
//! let layer = metrics::with_local_recorder(&recorder, || {
//!     MetricsLayer::builder("decode")
//!         .prefix("gateway")
//!         .classifier(|r: &Result<u8, u8>| match r {
//!             Ok(_) | Err(0) => Outcome::Success,
//!             Err(_) => Outcome::Error,
//!         })
//!         .build()
//! });
//! let mut svc = tower::ServiceBuilder::new()
//!     .layer(layer)
//!     .service(service_fn(|n: u8| async move { if n < 3 { Ok(n) } else { Err(n) } }));
//! for n in 1..=4 {
//!     let _ = svc.ready().await.unwrap().call(n).await;
//! }
//! let text = recorder.handle().render();
//! assert!(text.contains(r#"gateway_requests_total{operation="decode",outcome="success"} 2"#));
//! assert!(text.contains(r#"gateway_requests_total{operation="decode",outcome="error"} 2"#));
//! assert!(text.contains(r#"gateway_requests_in_flight{operation="decode"} 0"#));
//! # }
//! ```

pub mod catalog;
mod classify;
mod future;
mod handles;
#[cfg(feature = "axum")]
mod http;
mod layer;
mod service;

pub use classify::{Classify, DefaultClassifier, Outcome, ServerErrorsAsFailures};
pub use future::ResponseFuture;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use http::{HttpMetricsLayer, HttpMetricsService, HttpResponseFuture, UNMATCHED_ROUTE};
pub use layer::{MetricsLayer, MetricsLayerBuilder};
pub use service::MetricsService;
