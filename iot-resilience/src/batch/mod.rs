//! Batching: gather single requests into batches by count, weight and age,
//! call an inner service once per batch, and resolve every caller with its
//! own item's outcome.
//!
//! A database sink, a bulk ingestion API or a message broker's batch
//! publish costs about the same for one item as for a hundred; callers
//! that produce one item at a time should not each pay that round trip.
//! [`BatchLayer`] turns a `Service<Vec<Req>>` into a `Service<Req>`.
//!
//! # The batch contract
//!
//! The inner service is `S: Service<Vec<Req>, Response = Vec<Result<T,
//! I>>>`: it receives the items of one batch in arrival order and returns
//! **one outcome per item, in the same order**. Caller *i* gets outcome
//! *i*: `Ok(t)` as its response, `Err(i)` as [`BatchError::Item`]`(i)`,
//! so a sink can reject one bad row and accept the rest. If the call fails
//! as a whole (`Err(e)` with the service's error `S::Error` instead of the
//! vector: a lost connection, a rolled-back transaction, a timeout), every
//! caller of that batch gets [`BatchError::Batch`] with the same `Arc`'d
//! error. A service whose batch either all succeeds or all fails returns
//! `Ok(vec![Ok(()); n])` or `Err(e)`. A vector of the wrong length cannot
//! be matched to the callers: every caller gets [`BatchError::Mismatch`].
//!
//! The item error `I` and the service error `E` are separate types, so
//! batch-level middleware can sit between this layer and the sink (a
//! timeout, a circuit breaker, a retry of the whole batch): it changes
//! `E` (to `TimeoutError<E>`, say) and leaves the items' outcomes alone.
//! The caller's error is [`BatchError<E, I>`](BatchError).
//!
//! # Semantics
//!
//! **Shape.** Like `tower::buffer::Buffer`, the service is a handle,
//! [`Batch`], cheap to clone, that sends each item through a channel to a
//! worker task owning the inner service. [`Layer::layer`](tower_layer::Layer::layer)
//! spawns the worker on the current tokio runtime;
//! [`BatchLayer::pair`] returns it to be run elsewhere. Each `call`
//! allocates the one-shot channel its outcome comes back on; the layer
//! costs about 120 ns per item when items arrive together and about 500 ns
//! for a lone caller's round trip through the worker (`docs/benchmarks.md`),
//! worth it when a call of the inner service costs microseconds.
//!
//! **Flushing.** The worker keeps one open batch and flushes it, with the
//! [`FlushReason`]:
//!
//! * `count`: it holds `max_items` items;
//! * `bytes`: its items weigh `max_bytes` or more (the layer's [`Weigh`]),
//!   or the next item would take it past `max_bytes` (that item starts the
//!   next batch; an item heavier than `max_bytes` alone makes a batch of
//!   one);
//! * `age`: its first item has waited `max_age` since the worker took it
//!   (a zero age: as soon as the queue is empty, so batches form only
//!   under load);
//! * `close`: every handle is gone; what is pending is flushed, and the
//!   worker ends after the last batch completes.
//!
//! A flushed batch goes to the inner service once fewer than
//! `max_concurrent_batches` batches are in it and its `poll_ready` said
//! `Ready`; meanwhile new items wait in the queue. With the default of one,
//! batches reach the inner service one at a time in order, and items in
//! the order their `call`s were made. The age counts from when the worker
//! takes the first item, which is at once unless the worker is waiting
//! for the inner service (then the waiting items fill batches to
//! `max_items` quickly anyway).
//!
//! **Backpressure.** An item is *pending* from the `poll_ready` that
//! reserves its place until its batch is handed to the inner service.
//! At most `max_pending` items are pending: beyond, `poll_ready` returns
//! `Pending` and waiters are woken in order as batches leave, so memory
//! is bounded by `max_pending` queued items plus the batches in flight
//! (at most `max_concurrent_batches` x `max_items`). A ready handle that
//! is dropped unused gives its reservation back. `call` without a
//! reservation resolves to [`BatchError::NotReady`] and queues nothing.
//!
//! **Cancellation.** `call` is the commit point: a queued item is
//! processed with its batch even if its [`ResponseFuture`] is dropped (the
//! outcome is discarded), so fire-and-forget callers work, and whether an
//! item reaches the sink never depends on when a caller gave up. Other
//! callers are not affected. (`tower::buffer` instead skips requests whose
//! callers are gone; a batch sink would then silently lose
//! fire-and-forget writes.)
//!
//! **Failure.** A batch that fails affects only its callers; the worker
//! goes on. An error from the inner service's `poll_ready` (the tower
//! contract says the service is then unusable) stops the worker: pending
//! items and every later `poll_ready` get [`BatchError::Failed`] with that
//! error, batches already in flight still complete. If the worker itself
//! is gone (its task panicked or was dropped, the runtime shut down),
//! callers get [`BatchError::Closed`], and so does `poll_ready`.
//!
//! # Prior art, and why not reuse it
//!
//! tower 0.5 has no batching layer. Zebra's `tower-batch-control` (on
//! crates.io, 1.1.1, Rust 1.88) and its fork `tower-batch` (0.4.0, by
//! another author) are modified copies of tower's `Buffer`, like this
//! module: a worker task, an unbounded channel bounded by a semaphore for
//! `poll_ready`. Their contract is another: the inner service is a
//! `Service<BatchControl<R>>` that is called with every item (`Item(r)`)
//! and then with `Flush`, so it must gather the batch itself, and each
//! caller gets the future the inner service returned for its item; a sink
//! that takes a `Vec` needs an adapter that collects items and fans the
//! outcomes back out, which is most of this module. Both erase errors to
//! `BoxError`; any error from the inner service, a failed flush included,
//! stops the worker for good (here a failed batch fails its callers only);
//! neither flushes what is pending when the handles are dropped, limits a
//! batch by bytes (Zebra's has an item weight) or records metrics, and
//! `tower-batch` runs one flush at a time. Depending on them
//! would also raise this crate's Rust version (1.85) to 1.88 or add
//! `tower`, `tokio-util`, `futures` and `rayon` (Zebra) where this crate
//! needs only `tower-service` and `tower-layer`. So this module is our own
//! code, with the same shape.
//!
//! # Metrics
//!
//! With the `metrics` feature:
//!
//! | name | type | labels | meaning |
//! | --- | --- | --- | --- |
//! | `resilience_batch_size` | histogram | `name` | items per batch handed to the inner service |
//! | `resilience_batch_flushes_total` | counter | `name`, `reason` = count, bytes, age, close | batches flushed, by trigger |
//! | `resilience_batch_pending` | gauge | `name` | items accepted and not yet handed to the inner service |
//!
//! Each batch runs in a `debug` span `batch` with fields `name`, `items`,
//! `bytes` and `reason`, entered while the inner service's call is made
//! and its future polled; a failed batch is a `debug` event, a readiness
//! failure or an outcome count mismatch a `warn` event.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use tower::{Layer, Service, ServiceExt, service_fn};
//! use iot_resilience::batch::{BatchConfig, BatchError, BatchLayer};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! // A sink that writes rows in one round trip and rejects negative ones.
//! let sink = service_fn(|rows: Vec<i64>| async move {
//!     Ok::<_, String>(rows.into_iter()
//!         .map(|r| if r < 0 { Err(format!("bad row {r}")) } else { Ok(r as u64) })
//!         .collect::<Vec<_>>())
//! });
//! let layer = BatchLayer::new(BatchConfig::new(100, Duration::from_millis(5)).name("db")).unwrap();
//! let batch = layer.layer(sink);
//!
//! let calls = [1, -2, 3].map(|row| {
//!     let mut batch = batch.clone();
//!     tokio::spawn(async move { batch.ready().await?.call(row).await })
//! });
//! let mut outcomes = Vec::new();
//! for call in calls {
//!     outcomes.push(call.await.unwrap());
//! }
//! // One batch of three after 5 ms; each caller has its own row's outcome.
//! assert_eq!(outcomes[0], Ok(1));
//! assert_eq!(outcomes[1], Err(BatchError::Item("bad row -2".to_string())));
//! assert_eq!(outcomes[2], Ok(3));
//! # }
//! ```

mod config;
mod error;
mod future;
mod layer;
mod metrics;
mod service;
mod shared;
mod weigh;
mod worker;

pub use config::{BatchConfig, MAX_CONCURRENT_BATCHES};
pub use error::{BatchError, FlushReason};
pub use future::ResponseFuture;
pub use layer::BatchLayer;
pub use service::Batch;
pub use weigh::{Unweighed, Weigh};
pub use worker::Worker;
