//! Bulkhead: a limit on concurrent calls that rejects, or waits a bounded
//! time, instead of queueing without end.
//!
//! # Semantics
//!
//! A [`Bulkhead`] takes a permit in `poll_ready` and moves it into the
//! response future in `call`; the permit is released when that future
//! completes or is dropped, or when a ready service is dropped without
//! being called. Every clone (and every service of one [`BulkheadLayer`])
//! shares the `max_concurrent` permits, so the limit holds however the
//! service is cloned.
//!
//! When no permit is free, `poll_ready` either rejects at once
//! (`max_wait` = 0, the default) or waits up to `max_wait` for one. Unlike
//! `tower::limit::ConcurrencyLimit`, it never queues without bound.
//!
//! A rejection is delivered by the next `call`, which returns
//! [`BulkheadError::Full`] (carrying the limit and how long it waited)
//! without calling the inner service: `poll_ready` itself resolves to `Ok`,
//! because `Buffer`, `Balance` and others treat a `poll_ready` error as the
//! end of the service. Only the inner service's `poll_ready` errors pass
//! through `poll_ready`. Calling a service that was not made ready returns
//! [`BulkheadError::NotReady`], and so does calling one that holds a permit
//! while its inner service's last `poll_ready` was `Pending` (the permit is
//! kept for the next `poll_ready`): the inner service is only called after
//! it said `Ready`.
//!
//! Taking and releasing permits is lock-free (one compare-exchange, one
//! subtraction). Waiters are woken by releases but not served in order: a
//! woken waiter competes with new callers and waits again (within its
//! deadline) if it loses. Each service instance allocates its wait state
//! once, on its first wait, and reuses it.
//!
//! # Metrics
//!
//! With the `metrics` feature:
//!
//! | name | type | labels | meaning |
//! | --- | --- | --- | --- |
//! | `resilience_bulkhead_in_flight` | gauge | `name` | permits held (calls in flight plus ready services not yet called) |
//! | `resilience_bulkhead_rejections_total` | counter | `name` | calls rejected because the bulkhead was full |
//!
//! Rejections are `debug` tracing events; waits are `trace` events.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use tower::{Layer, Service, ServiceExt, service_fn};
//! use iot_resilience::bulkhead::{BulkheadConfig, BulkheadError, BulkheadLayer};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let layer = BulkheadLayer::new(BulkheadConfig::new(1).name("db")).unwrap();
//! let mut a = layer.layer(service_fn(|q: &'static str| async move {
//!     tokio::time::sleep(Duration::from_secs(1)).await;
//!     Ok::<_, std::io::Error>(q.len())
//! }));
//! let mut b = a.clone();
//!
//! let slow = a.ready().await.unwrap().call("SELECT 1");
//! // The only permit is held by `slow`: `b` is rejected at once.
//! let err = b.ready().await.unwrap().call("SELECT 2").await.unwrap_err();
//! assert!(matches!(err, BulkheadError::Full { max_concurrent: 1, .. }));
//! assert_eq!(slow.await.unwrap(), 8);
//! // Released on completion.
//! assert_eq!(b.ready().await.unwrap().call("SELECT 3").await.unwrap(), 8);
//! # }
//! ```
//!
//! # Changing settings at run time
//!
//! [`BulkheadLayer::handle`] returns a [`BulkheadHandle`]; its
//! [`update`](BulkheadHandle::update) applies a new configuration to every
//! service of the layer, validated as the configuration files are (an
//! invalid one returns the same [`ConfigError`](crate::ConfigError) and
//! changes nothing). Permits in use stay in use. A raised `max_concurrent`
//! admits more calls at once (waiting services are woken to take the new
//! permits); a lowered one lets the calls in flight finish and admits no new
//! call until fewer than the new limit are in flight. `max_wait` applies to
//! waits that start after the update.

mod config;
mod error;
mod future;
mod layer;
mod limit;
mod metrics;
mod service;
mod waiter;

pub use config::BulkheadConfig;
pub use error::BulkheadError;
pub use future::ResponseFuture;
pub use layer::{BulkheadHandle, BulkheadLayer};
pub use service::Bulkhead;
