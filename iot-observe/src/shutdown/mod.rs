//! Graceful drain on SIGTERM or Ctrl-C.
//!
//! Kubernetes sends SIGTERM and, at the same time, starts removing the pod
//! from the Service endpoints; that removal takes a moment to reach every
//! load balancer, during which requests still arrive. So on the signal a
//! [`Shutdown`] makes readiness fail at once (liveness keeps passing, so
//! the pod is not restarted), keeps serving for a drain period, and only
//! then completes [`Shutdown::drained`], the future to hand to the
//! server's graceful shutdown (which then finishes in-flight requests).
//!
//! Choose the drain period above the time endpoint changes take to
//! propagate (a few seconds) and, with the in-flight work after it, below
//! `terminationGracePeriodSeconds` (30 s by default), or the process is
//! killed mid-request.
//!
//! ```
//! use std::time::Duration;
//! use iot_observe::health::{CheckOptions, Group, HealthRegistry, Status};
//! use iot_observe::shutdown::Shutdown;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> std::io::Result<()> {
//! let shutdown = Shutdown::new(Duration::from_secs(5));
//! # #[cfg(feature = "signal")]
//! shutdown.listen_for_signals()?; // SIGTERM / Ctrl-C call `trigger` (feature `signal`)
//! let registry = HealthRegistry::builder()
//!     .check(Shutdown::CHECK_NAME, shutdown.clone(), CheckOptions::readiness())
//!     .build()
//!     .unwrap();
//!
//! assert_eq!(registry.report(Group::Readiness).status, Status::Pass);
//! shutdown.trigger(); // what SIGTERM does
//! assert_eq!(registry.report(Group::Readiness).status, Status::Fail);
//! assert_eq!(registry.report(Group::Liveness).status, Status::Pass);
//!
//! // The server stops once the drain period is over:
//! // axum::serve(listener, app).with_graceful_shutdown(shutdown.drained()).await?;
//! shutdown.drained().await;
//! # Ok(())
//! # }
//! ```

mod check;
mod controller;
#[cfg(feature = "signal")]
mod signals;

pub use controller::{Shutdown, ShutdownPhase};
