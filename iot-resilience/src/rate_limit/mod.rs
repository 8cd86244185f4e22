//! Rate limiting with the generic cell rate algorithm (GCRA), lock-free and
//! shared by every clone.
//!
//! # Algorithm
//!
//! A [`RateLimiter`] admits `permits` per `period` on average and at most
//! `burst` at once. Its whole state is one `AtomicU64`: the *theoretical
//! arrival time* (TAT), the instant at which the bucket would be full
//! again, in nanoseconds since the limiter's creation. With the emission
//! interval `T = period / permits` and the tolerance `τ = T × burst`, a
//! request of cost `n` at `now` conforms iff
//! `max(TAT, now) + n×T − τ ≤ now`; if so the TAT moves to
//! `max(TAT, now) + n×T` with one compare-exchange, otherwise the request
//! is refused with `retry_after = max(TAT, now) + n×T − τ − now`, exact to
//! the nanosecond. A new limiter has a full bucket: `burst` requests pass
//! at once, then one per `T`. Clones (and every service made by one layer)
//! share the atomic, so the quota is global however the service is cloned.
//!
//! The bare limiter is usable without tower: [`RateLimiter::check`] is one
//! clock read, one atomic load and one compare-exchange.
//!
//! # Where the permit is taken
//!
//! * **Unit cost** (the default, [`UnitCost`]): in `poll_ready`. In
//!   [`RateLimitMode::Reject`], `poll_ready` takes a permit or records a
//!   rejection; in [`RateLimitMode::Wait`] it *reserves* the next permit
//!   (if it is due within `max_wait`) and sleeps until it is due, so
//!   concurrent waiters are served in reservation order and each waits
//!   exactly until its permit. A ready service holds its permit until
//!   `call` (also while the inner service is not ready yet, since the
//!   limiter is polled first); dropping it unused (or while waiting) gives
//!   the permit back when that is exact: only while no permit taken after
//!   it is still in use (the TAT still equals the value its take produced;
//!   one compare-and-swap). Otherwise the permit stays spent, because
//!   later permits were computed on top of it, and if the bucket had
//!   refilled in between, subtracting it would hand out a permit twice. A
//!   drop can thus cost one permit, never admit one more than the GCRA
//!   bound, in whatever order ready services are dropped. Wait mode sleeps
//!   on tokio's timer, so it belongs with the default
//!   [`TokioClock`](crate::TokioClock).
//! * **Weighted cost** ([`RateLimitLayer::with_cost`], any
//!   `Fn(&Req) -> u32`): the cost needs the request, so the permits are
//!   taken in `call`, with reject semantics. In wait mode `poll_ready`
//!   first waits (at most `max_wait`) until the limiter has at least one
//!   permit, which gives backpressure while it is exhausted; a request
//!   costing more than is then available is still rejected by `call`. A
//!   cost above `burst` can never succeed and fails with
//!   [`RateLimitError::InsufficientCapacity`]; a cost of 0 always passes.
//!
//! # Rejections come from `call`
//!
//! `poll_ready` never returns a rejection: it resolves to `Ok` (after
//! waiting, in wait mode) and the following `call` returns an immediate
//! [`RateLimitError::Rejected`] carrying `retry_after` without touching the
//! inner service, like `tower::load_shed`. A `poll_ready` error is treated
//! as fatal by `Buffer`, `Balance` and friends, while a rejection is a
//! per-request outcome (its [`RetryHint`](crate::RetryHint) says
//! `RetryAfter(retry_after)`). Only the inner service's `poll_ready` errors
//! pass through `poll_ready`. Calling a service that was not made ready
//! returns [`RateLimitError::NotReady`], as does calling one whose inner
//! service's last `poll_ready` was `Pending` (the permit is kept).
//!
//! # Keyed limits
//!
//! [`KeyedRateLimiter`] keeps one TAT per key (device, tenant, address) in
//! sharded maps with a capacity, so a flood of distinct keys cannot exhaust
//! memory. At capacity it evicts idle keys first (their bucket is full, so
//! they are indistinguishable from unknown keys: nothing is lost), then the
//! least recently used ones, which restart with a full burst if they come
//! back (counted in [`Evictions::busy`]). [`KeyedRateLimitLayer`] takes the
//! key from each request with a closure; since the key needs the request,
//! the check happens in `call` with reject semantics.
//!
//! # Metrics
//!
//! With the `metrics` feature (decisions are counted by the layers; direct
//! calls to [`RateLimiter::check`] are not):
//!
//! | name | type | labels | meaning |
//! | --- | --- | --- | --- |
//! | `resilience_rate_limit_decisions_total` | counter | `name`, `decision` = `allowed` \| `rejected` \| `waited` | requests admitted at once, refused, or admitted after waiting |
//! | `resilience_rate_limit_keys` | gauge | `name` | keys held by a keyed limiter |
//! | `resilience_rate_limit_evictions_total` | counter | `name`, `reason` = `idle` \| `busy` | keys evicted by a keyed limiter: idle (lossless) or least recently used |
//!
//! Rejections are `debug` tracing events, waits `trace` events, evictions
//! of busy keys `debug` events.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use iot_resilience::rate_limit::{RateLimitConfig, RateLimitError, RateLimitLayer};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let config = RateLimitConfig::per(2, Duration::from_secs(1)).name("ingest");
//! let service = ServiceBuilder::new()
//!     .layer(RateLimitLayer::new(config).unwrap())
//!     .service(service_fn(|x: u32| async move { Ok::<_, std::io::Error>(x * 2) }));
//!
//! assert_eq!(service.clone().oneshot(1).await.unwrap(), 2);
//! assert_eq!(service.clone().oneshot(2).await.unwrap(), 4);
//! // The burst (2) is spent: the next permit comes 500 ms later.
//! let err = service.clone().oneshot(3).await.unwrap_err();
//! assert!(matches!(
//!     err,
//!     RateLimitError::Rejected { retry_after } if retry_after == Duration::from_millis(500)
//! ));
//! # }
//! ```
//!
//! # Changing settings at run time
//!
//! [`RateLimiter::update`] (the limiter is the handle: every clone, and
//! [`RateLimitLayer::handle`]) applies a new quota, mode or `max_wait`,
//! validated as the configuration files are (an invalid configuration or a
//! new `name` returns the same [`ConfigError`](crate::ConfigError) and
//! changes nothing). The GCRA state is carried over so that the permits in
//! use stay in use: 3 permits taken of a burst of 5 are still 3 taken
//! under the new quota, replenished at the new rate. The quota is read
//! through a sequence lock of atomics, so no check combines parts of two
//! quotas; `mode` and `max_wait` apply to `poll_ready` calls that start
//! after the update.

mod config;
mod cost;
mod error;
mod future;
mod gcra;
mod keyed;
mod keyed_service;
mod layer;
mod limiter;
mod metrics;
mod service;

pub use config::{KeyedRateLimitConfig, RateLimitConfig, RateLimitMode};
pub use cost::{RequestCost, UnitCost};
pub use error::RateLimitError;
pub use future::ResponseFuture;
pub use keyed::{Evictions, KeyedRateLimiter};
pub use keyed_service::KeyedRateLimit;
pub use layer::{KeyedRateLimitLayer, RateLimitLayer};
pub use limiter::{CheckError, NotUntil, RateLimiter};
pub use service::RateLimit;
