//! Fallback: answer a failed call with a value or another service.
//!
//! # Semantics
//!
//! [`Fallback`] calls the primary service; when its response future fails
//! with an error that the predicate selects (by default [`AnyError`]), it
//! answers with the fallback instead:
//!
//! * [`FallbackLayer::value`]: a function `Fn(E) -> Response` of the
//!   error (a default, a cached value, a degraded answer). It cannot fail.
//! * [`FallbackLayer::service`]: another `Service<Req>` with the same
//!   response type (a replica, a cache, a local store), called with a clone
//!   of the request. The request type must be `Clone` and is cloned on every
//!   call, before the primary sees it; the fallback service is cloned, made
//!   ready and called only when it is needed.
//!
//! Errors that the predicate does not select come back as
//! [`FallbackError::Inner`]; if the fallback service fails too, the result
//! is [`FallbackError::Fallback`] with both errors. To fall back only while
//! a circuit is open, wrap a circuit breaker and select its rejections:
//! `.when(|e: &CircuitBreakerError<_>| e.is_rejected())`; the breakers,
//! rate limiters and bulkheads of this crate all deliver rejections from
//! the response future, where the fallback sees them.
//!
//! `poll_ready` forwards the primary service's readiness; its errors are
//! not handled (a `poll_ready` error means the service is unusable).
//! `call` without a `Ready(Ok)` from the last `poll_ready` resolves to
//! [`FallbackError::NotReady`]: the primary service is not called (it may
//! panic there, as tower's `ConcurrencyLimit` does), and neither is the
//! fallback, since misuse is a bug to surface rather than a failure to
//! answer.
//!
//! # Metrics
//!
//! With the `metrics` feature:
//!
//! | name | type | labels | meaning |
//! | --- | --- | --- | --- |
//! | `resilience_fallback_invocations_total` | counter | `name`, `outcome` = `success` \| `failure` | fallbacks run after a primary failure, by whether the fallback succeeded |
//!
//! Each fallback run, and each failed fallback, is a `debug` tracing event.
//!
//! # Example
//!
//! ```
//! use tower::{Layer, ServiceBuilder, ServiceExt, service_fn};
//! use iot_resilience::fallback::{FallbackError, FallbackLayer};
//!
//! #[derive(Debug, PartialEq)]
//! enum ApiError { Unavailable, BadRequest }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let primary = service_fn(|id: u32| async move {
//!     match id {
//!         0 => Err(ApiError::BadRequest),
//!         _ => Err::<String, _>(ApiError::Unavailable),
//!     }
//! });
//!
//! // A value, only for `Unavailable`.
//! let service = ServiceBuilder::new()
//!     .layer(
//!         FallbackLayer::value(|_: ApiError| "cached".to_string())
//!             .when(|e: &ApiError| *e == ApiError::Unavailable),
//!     )
//!     .service(primary);
//! assert_eq!(service.clone().oneshot(7).await.unwrap(), "cached");
//! assert_eq!(
//!     service.clone().oneshot(0).await.unwrap_err(),
//!     FallbackError::Inner(ApiError::BadRequest)
//! );
//!
//! // Another service, called with the same request.
//! let replica = service_fn(|id: u32| async move { Ok::<_, ApiError>(format!("replica {id}")) });
//! let service = FallbackLayer::service(replica).layer(primary);
//! assert_eq!(service.oneshot(3).await.unwrap(), "replica 3");
//! # }
//! ```

mod config;
mod error;
mod future;
mod handler;
mod layer;
mod metrics;
mod predicate;
mod service;
mod shared;

pub use config::FallbackConfig;
pub use error::FallbackError;
pub use future::ResponseFuture;
pub use handler::{
    FallbackService, FallbackValue, PrepareFallback, RunFallback, ServiceFallbackFuture,
};
pub use layer::FallbackLayer;
pub use predicate::{AnyError, FallbackPredicate};
pub use service::Fallback;
