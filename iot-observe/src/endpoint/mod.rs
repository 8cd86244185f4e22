//! HTTP endpoints: health probes and Prometheus metrics.
//!
//! | path | answers |
//! | --- | --- |
//! | `{prefix}/health/live` | the liveness group |
//! | `{prefix}/health/ready` | the readiness group |
//! | `{prefix}/health/startup` | the startup group |
//! | `{prefix}/health` | every check |
//! | `{prefix}/metrics` | the [`MetricsSource`](crate::MetricsSource), if one is set |
//!
//! Health responses are `application/health+json` with 200 for pass and
//! warn and 503 for fail; every response carries `Cache-Control: no-store`.
//! `HEAD` answers like `GET` without the body; other methods get 405.
//!
//! Three ways to serve it: [`HealthEndpoint`] is a tower service for any
//! server; `router` (feature `axum`) merges into an axum application;
//! `serve` (feature `server`) runs a standalone hyper server, typically on
//! a separate management port. `serve` runs on a thread of its own, so a
//! probe never waits for the application's runtime (which a blocking check
//! or blocking application code can starve); `serve_with` takes a
//! `ServerConfig` (the listen backlog, 4096 by default).
//!
//! ```
//! # #[cfg(feature = "server")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use std::time::Duration;
//! use iot_observe::endpoint::{HealthEndpoint, serve};
//! use iot_observe::health::{CheckOptions, HealthConfig, HealthRegistry, StartupFlag};
//! use iot_observe::shutdown::Shutdown;
//!
//! let shutdown = Shutdown::new(Duration::from_secs(5));
//! let started = StartupFlag::new();
//! let registry = HealthRegistry::builder()
//!     .config(HealthConfig::default().version(env!("CARGO_PKG_VERSION")))
//!     .check("app:startup", started.clone(), CheckOptions::startup())
//!     .check(Shutdown::CHECK_NAME, shutdown.clone(), CheckOptions::readiness())
//!     .build()
//!     .unwrap();
//! registry.start();
//!
//! let server = serve(
//!     ([127, 0, 0, 1], 0).into(),
//!     HealthEndpoint::new(registry),
//!     shutdown.drained(),
//! )
//! .await?;
//! println!("probes on http://{}/health", server.local_addr());
//! started.mark_done();
//! # shutdown.finish_now();
//! server.await.unwrap();
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "server"))]
//! # fn main() {}
//! ```

#[cfg(feature = "axum")]
mod axum;
mod response;
mod route;
#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
mod server_config;
mod service;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use self::axum::router;
#[cfg(feature = "admin")]
pub(crate) use route::normalize_prefix;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub use server::{ServerHandle, serve, serve_with};
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub use server_config::ServerConfig;
pub use service::HealthEndpoint;
