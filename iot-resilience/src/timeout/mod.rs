//! Timeout: fail a call that takes too long, with a typed error.
//!
//! # Semantics
//!
//! [`Timeout`] fixes the call's deadline in `call` and races a timer for it
//! against the inner response future; if the timer wins, the inner future is dropped
//! (cancelling the call) and the result is [`TimeoutError::Elapsed`]
//! carrying the timeout that applied. A response ready at the same poll as
//! the deadline wins. Unlike `tower::timeout::Timeout`, the inner error
//! stays typed ([`TimeoutError::Inner`]) instead of becoming a `BoxError`.
//!
//! `poll_ready` is not timed (it only forwards to the inner service), so
//! put the timeout inside layers that wait in `poll_ready` (a waiting rate
//! limiter or bulkhead) if the wait should count, or outside to exclude
//! it. Inside a retry layer it bounds each attempt; outside, all attempts
//! together.
//!
//! `call` without a `Ready(Ok)` from the last `poll_ready` (never polled,
//! or the inner service was `Pending`) resolves to
//! [`TimeoutError::NotReady`] without calling the inner service, which may
//! panic there (tower's `ConcurrencyLimit` does).
//!
//! The timer is tokio's (`tokio::time::Sleep`, stored inline in the
//! response future, no allocation), so paused test time applies and the
//! response future must be polled inside a tokio runtime. It is armed at
//! the first poll that finds the inner future not done, for the deadline
//! fixed in `call` (read from [`TokioClock`](crate::TokioClock)): a call
//! answered at its first poll costs one clock read and no timer. A per-request timeout can be chosen
//! with [`TimeoutLayer::with_per_request`].
//!
//! # Metrics
//!
//! With the `metrics` feature:
//!
//! | name | type | labels | meaning |
//! | --- | --- | --- | --- |
//! | `resilience_timeout_elapsed_total` | counter | `name` | calls that did not complete within their timeout |
//!
//! Each timeout is also a `debug` tracing event.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use iot_resilience::timeout::{TimeoutConfig, TimeoutError, TimeoutLayer};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let layer = TimeoutLayer::new(TimeoutConfig::new(Duration::from_millis(100))).unwrap()
//!     // Requests may ask for more time.
//!     .with_per_request(|ms: &u64| (*ms > 1_000).then(|| Duration::from_secs(5)));
//! let service = ServiceBuilder::new()
//!     .layer(layer)
//!     .service(service_fn(|ms: u64| async move {
//!         tokio::time::sleep(Duration::from_millis(ms)).await;
//!         Ok::<_, std::io::Error>(ms)
//!     }));
//!
//! assert_eq!(service.clone().oneshot(50).await.unwrap(), 50);
//! let err = service.clone().oneshot(150).await.unwrap_err();
//! assert!(matches!(err, TimeoutError::Elapsed { after } if after == Duration::from_millis(100)));
//! assert_eq!(service.clone().oneshot(2_000).await.unwrap(), 2_000);
//! # }
//! ```
//!
//! # Changing settings at run time
//!
//! [`TimeoutLayer::handle`] returns a [`TimeoutHandle`]; its
//! [`update`](TimeoutHandle::update) changes the timeout of every service
//! of the layer, validated as the configuration files are (an invalid
//! configuration returns the same [`ConfigError`](crate::ConfigError) and
//! changes nothing). Calls made after the update get the new timeout; calls
//! in flight keep their deadline.

mod config;
mod error;
mod future;
mod layer;
mod metrics;
mod per_request;
mod service;

pub use config::TimeoutConfig;
pub use error::TimeoutError;
pub use future::ResponseFuture;
pub use layer::{TimeoutHandle, TimeoutLayer};
pub use per_request::{DefaultTimeout, RequestTimeout};
pub use service::Timeout;
