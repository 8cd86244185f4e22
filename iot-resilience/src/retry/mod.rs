//! Retry: call again when an attempt fails, within limits.
//!
//! [`RetryLayer`] wraps a service in [`Retry`]. After each attempt it
//! decides, in this order:
//!
//! 1. **Predicate** ([`RetryPredicate`], over the whole `Result`): not
//!    worth retrying? Return the outcome (an error as
//!    [`GiveUpReason::NotRetryable`]). The default, [`RetryOnError`],
//!    retries errors and no responses; a closure can also retry responses
//!    (e.g. HTTP 503).
//! 2. **Hint** (of the error through an [`ErrorHint`], by default its
//!    [`RetryHint`](crate::RetryHint); of the response through a
//!    [`ResponseHint`]): `DoNotRetry` stops
//!    ([`GiveUpReason::ServerSaidDoNotRetry`]).
//! 3. **Attempts**: `max_attempts` counts every attempt, the first one
//!    included ([`GiveUpReason::MaxAttempts`]).
//! 4. **Delay**: the next delay of the backoff schedule
//!    ([`crate::backoff`]; a schedule that ends gives
//!    [`GiveUpReason::BackoffExhausted`]). With a `RetryAfter(d)` hint the
//!    delay is `max(d, backoff delay)`.
//! 5. **Deadline**: if the delay would reach the deadline (measured from
//!    `call`), no new attempt is started ([`GiveUpReason::Deadline`]),
//!    also when it is the server's `RetryAfter` that exceeds it. An attempt
//!    in flight is never cut: put a [timeout](crate::timeout) inside the
//!    retry layer to bound each attempt. The clock is read again when the
//!    delay's timer fires and once more when the inner service is ready,
//!    right before the attempt: **no attempt starts at or after the
//!    deadline**, even though timers fire late (tokio's wheel ticks in
//!    milliseconds) and readiness may take long; a retry caught by the
//!    deadline there ends the call with [`GiveUpReason::Deadline`] and the
//!    last attempt's outcome. Without a deadline, `max_attempts` may not
//!    exceed [`MAX_ATTEMPTS_WITHOUT_DEADLINE`] (100), so a call cannot
//!    retry for ever.
//! 6. **Budget** ([`RetryBudget`]): a retry is withdrawn from the budget
//!    shared by every clone; if none is left
//!    ([`GiveUpReason::BudgetExhausted`]), the last outcome is returned.
//!
//! Then it sleeps (`tokio::time::sleep`) and, before the retry, drives
//! `poll_ready` of a clone of the inner service, as `tower::retry` does,
//! so a retry respects the inner service's backpressure (rate limiter,
//! bulkhead, open circuit) like a first attempt (tower issue #362).
//!
//! # What the caller gets
//!
//! * The first accepted response, as `Ok`.
//! * When the layer gives up on an error: [`RetryError::Failed`] with the
//!   last inner error intact, the number of attempts and the
//!   [`GiveUpReason`].
//! * When the layer gives up on a *response* the predicate wanted to retry
//!   (e.g. the third 503): that response, as `Ok`. The retry layer does not
//!   turn responses into errors; the caller inspects the response as it
//!   would without the layer. The `outcome` metric label still says why
//!   (e.g. `exhausted`).
//! * [`RetryError::NotReady`] when `call` was invoked without `poll_ready`
//!   returning `Ready` first (the service never panics for it).
//!
//! # Requirements
//!
//! `Req: Clone`: a copy of the request is kept for the next attempt (see
//! tower issue #682); prefer requests that clone cheaply. `S: Clone`: the
//! future retries on a clone of the inner service. Errors are classified
//! by the layer's [`ErrorHint`]: by default [`HintFromError`], which needs
//! `S::Error:` [`RetryHint`](crate::RetryHint) (implemented for
//! `io::Error`, `String`, boxed errors and every error of this crate).
//!
//! # Errors of other crates
//!
//! `reqwest::Error`, `tonic::Status` or `anyhow::Error` cannot implement
//! `RetryHint` outside their crates. No newtype is needed: classify them
//! with a closure, [`RetryLayer::with_error_hint`]`(|e: &reqwest::Error|
//! ...)`, a [`DynErrorHint`] trait object, or [`NoErrorHint`] (retry every
//! error).
//!
//! # Retry budget
//!
//! Every call deposits `ratio` of a retry, every retry withdraws one,
//! both forgotten after `ttl`; `min_retries_per_second` are always allowed.
//! One budget is shared by all services made by a layer and their clones;
//! pass an `Arc<RetryBudget>` to [`RetryLayer::with_budget`] to share it
//! with other layers. See [`RetryBudget`] for the algorithm.
//!
//! # Example
//!
//! Retry errors and 503 responses, at most 3 attempts, exponential backoff:
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::time::Duration;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use iot_resilience::backoff::BackoffConfig;
//! use iot_resilience::retry::{RetryConfig, RetryLayer};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let config = RetryConfig::default()
//!     .name("ingest")
//!     .max_attempts(3)
//!     .deadline(Duration::from_secs(5))
//!     .backoff(BackoffConfig::exponential(Duration::from_millis(100), Duration::from_secs(1)));
//! let layer = RetryLayer::new(config)
//!     .unwrap()
//!     .with_predicate(|r: &Result<u16, std::io::Error>| matches!(r, Err(_) | Ok(503)));
//!
//! let calls = Arc::new(AtomicU32::new(0));
//! let counter = calls.clone();
//! let service = ServiceBuilder::new().layer(layer).service(service_fn(move |_: &'static str| {
//!     let n = counter.fetch_add(1, Ordering::SeqCst);
//!     async move { Ok::<u16, std::io::Error>(if n < 2 { 503 } else { 200 }) }
//! }));
//!
//! let started = tokio::time::Instant::now();
//! assert_eq!(service.oneshot("reading").await.unwrap(), 200);
//! assert_eq!(calls.load(Ordering::SeqCst), 3);
//! assert_eq!(started.elapsed(), Duration::from_millis(300)); // 100 ms + 200 ms
//! # }
//! ```
//!
//! # Observability
//!
//! Tracing events (target `iot_resilience::retry`, field `name`): `debug`
//! "retrying" per retry (`attempt`, `delay`, `retry_after`, `reason` =
//! `error` or `response`); `debug` "succeeded after retrying"; `warn`
//! "giving up" (`attempts`, `reason`, `failed`, `next_delay`) when attempts,
//! schedule, deadline or budget run out; `debug` "not retrying" when the
//! outcome is not retryable.
//!
//! Metrics (feature `metrics`), registered when the layer is built:
//!
//! | name | type | labels | meaning |
//! | --- | --- | --- | --- |
//! | `resilience_retry_attempts_total` | counter | `name` | retries started (first attempts not included; a retry abandoned at the deadline is not counted) |
//! | `resilience_retry_calls_total` | counter | `name`, `outcome` | calls finished, by `outcome`: `success` (first attempt), `success_after_retry`, `exhausted` (max attempts or schedule ended), `budget_exhausted`, `not_retryable` (predicate, `DoNotRetry` hint, or readiness error), `deadline` |
//! | `resilience_retry_budget_exhausted_total` | counter | `name` | retries refused by the budget |
//!
//! # Changing settings at run time
//!
//! [`RetryLayer::handle`] returns a [`RetryHandle`]; its
//! [`update`](RetryHandle::update) applies a new configuration to every
//! service of the layer, validated as the configuration files are (an
//! invalid one returns the same [`ConfigError`](crate::ConfigError) and
//! changes nothing). The budget and its balance are kept (`budget` and
//! `name` cannot change). `max_attempts` applies to every decision taken
//! after the update, `deadline` to calls made after it, `backoff` to calls
//! whose first retry is planned after it.

mod budget;
mod config;
mod error;
mod future;
mod layer;
mod metrics;
mod policy;
mod service;
mod shared;

pub use budget::RetryBudget;
pub use config::{MAX_ATTEMPTS_WITHOUT_DEADLINE, RetryBudgetConfig, RetryConfig};
pub use error::{GiveUpReason, RetryError};
pub use future::ResponseFuture;
pub use layer::{RetryHandle, RetryLayer};
pub use policy::{
    DynErrorHint, ErrorHint, HintFromError, HintFromResponse, NoErrorHint, NoResponseHint,
    ResponseHint, RetryOnError, RetryPredicate,
};
pub use service::Retry;
