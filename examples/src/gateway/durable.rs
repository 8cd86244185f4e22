//! The durable frame path (`--sink sqlite:PATH`, `--sink postgres://...`):
//!
//! ```text
//! consumer (AckMode::Manual) -> per-device quota on device time -> batch (count, age)
//!   -> circuit breaker -> retry -> timeout -> Store (one transaction)
//!   -> acknowledge the batch's frames to the broker
//! ```
//!
//! Nothing is dropped when the database is sick: a batch whose write fails
//! is held and written again (waiting while the breaker is open), and the
//! consumer is not read meanwhile, so unacknowledged frames stop at
//! `max_unacked` and wait at the broker. Rows are keyed by `(device,
//! channel, ts, epoch, seq)`, so a batch written twice, or redelivered
//! after a crash, stores nothing twice.
//!
//! The per-device quota counts frames per second of the *device's*
//! timestamps: a backlog the broker delivers late after an outage is not
//! abuse (its timestamps are spread over the outage), a device sending
//! faster than its quota is. Frames over quota are acknowledged and
//! counted as lost with reason `rate_limited`, never silently.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use iot_core::mqtt::{AckHandle, Consumer, ReceiveError};
use iot_resilience::backoff::BackoffConfig;
use iot_resilience::circuit_breaker::{CircuitBreakerError, CircuitBreakerLayer};
use iot_resilience::retry::{RetryConfig, RetryError, RetryLayer};
use iot_resilience::timeout::{TimeoutConfig, TimeoutError, TimeoutLayer};
use tokio::sync::watch;
use tower::{Service, ServiceBuilder, ServiceExt};

use super::console::Console;
use super::pipeline::{Shared, heartbeat, intern, sent_at_us};
use crate::sink::Faults;
use crate::store::{Batch, Store, StoreError, WriteReport};
use crate::util::now_us;

/// How the durable path is tuned.
#[derive(Debug, Clone)]
pub struct DurableConfig {
    /// A batch is written when it holds this many frames...
    pub batch_frames: usize,
    /// ...or its oldest frame waited this long.
    pub batch_age: Duration,
    /// Frames per second of device time each device may send.
    pub device_quota: f64,
    /// Timeout of one write.
    pub write_timeout: Duration,
    /// Injected failures and latency (`--sink-fail-rate`, `--sink-latency`).
    pub faults: Faults,
}

/// What the durable path counted (besides the shared [`Counters`](super::Counters)).
#[derive(Debug, Default)]
pub struct StoreCounters {
    /// Rows inserted (new).
    pub rows_inserted: AtomicU64,
    /// Rows already stored (a batch written again, a redelivery).
    pub rows_duplicate: AtomicU64,
    /// Readings the schema cannot hold, set aside and counted.
    pub readings_rejected: AtomicU64,
    /// Batch writes that failed and were tried again.
    pub write_failures: AtomicU64,
    /// Batches committed.
    pub batches: AtomicU64,
    /// Frames not committed when the gateway stopped: not acknowledged,
    /// so the broker keeps them for the next run under this client id.
    pub held_at_exit: AtomicU64,
}

/// The write path's error, outermost first.
type WriteError = CircuitBreakerError<RetryError<TimeoutError<StoreError>>>;

/// Consumes `consumer` into `store` until `stop`; returns the consumer.
pub fn spawn(
    consumer: Consumer,
    store: Arc<dyn Store>,
    config: DurableConfig,
    shared: Arc<Shared>,
    counters: Arc<StoreCounters>,
    console: Arc<Console>,
    stop: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<Consumer>, String> {
    let retry = RetryLayer::new(
        RetryConfig::default()
            .name("store")
            .max_attempts(3)
            .backoff(BackoffConfig::full_jitter(
                Duration::from_millis(20),
                Duration::from_millis(500),
            )),
    )
    .map_err(|e| e.to_string())?;
    let timeout = TimeoutLayer::new(TimeoutConfig::new(config.write_timeout).name("store"))
        .map_err(|e| e.to_string())?;
    let faults = config.faults;
    let injected = shared.clone();
    let write = tower::service_fn(move |batch: Arc<Batch>| {
        let store = store.clone();
        let injected = injected.clone();
        async move {
            if !faults.latency.is_zero() {
                tokio::time::sleep(faults.latency).await;
            }
            if faults.fail_rate > 0.0 && fastrand::f64() < faults.fail_rate {
                injected.counters.injected.fetch_add(1, Relaxed);
                return Err(StoreError::Unavailable("injected failure".into()));
            }
            store.write(&batch).await
        }
    });
    let svc = ServiceBuilder::new()
        .layer(CircuitBreakerLayer::from_handle(shared.breaker.clone()))
        .layer(retry)
        .layer(timeout)
        .service(write);
    Ok(tokio::spawn(run(
        consumer, svc, config, shared, counters, console, stop,
    )))
}

/// Frames waiting for their batch's commit.
struct Pending {
    batch: Batch,
    acks: Vec<AckHandle>,
    /// Frames of this process's fleet in the batch.
    own: u64,
    /// Send times (µs) of the frames, for the stored latency.
    sent_at: Vec<u64>,
    since: Option<tokio::time::Instant>,
}

async fn run<S>(
    mut consumer: Consumer,
    mut svc: S,
    config: DurableConfig,
    shared: Arc<Shared>,
    counters: Arc<StoreCounters>,
    console: Arc<Console>,
    mut stop: watch::Receiver<bool>,
) -> Consumer
where
    S: Service<Arc<Batch>, Response = WriteReport, Error = WriteError>,
{
    let c = &shared.counters;
    let mut quota = DeviceQuota::new(config.device_quota);
    let mut interned: HashMap<Box<str>, Arc<str>> = HashMap::new();
    let mut pending = Pending {
        batch: Batch::new(),
        acks: Vec::new(),
        own: 0,
        sent_at: Vec::new(),
        since: None,
    };
    let mut copy_stats = tokio::time::interval(Duration::from_millis(250));
    loop {
        let deadline = pending.since.map(|t| t + config.batch_age);
        let item = tokio::select! {
            biased;
            _ = stop.changed() => break,
            () = sleep_until(deadline) => {
                if !commit(&mut svc, &mut pending, &shared, &counters, &console, &mut stop).await {
                    break;
                }
                continue;
            }
            _ = copy_stats.tick() => {
                shared.copy_consumer_stats(&consumer);
                continue;
            }
            item = consumer.recv() => item,
        };
        let Some(item) = item else { break };
        let mut frame = match item {
            Ok(frame) => frame,
            Err(error @ ReceiveError::FramesMissing { .. }) => {
                if c.missing_reported
                    .fetch_add(error.missing_frames(), Relaxed)
                    == 0
                {
                    console.event(&format!("ledger: {error}"));
                }
                continue;
            }
            Err(error) => {
                let n = c.decode_errors.fetch_add(1, Relaxed) + 1;
                if n <= 3 {
                    console.event(&format!("decode error (never stored): {error}"));
                }
                continue;
            }
        };
        let own = shared.note_received(&frame);
        let sent_at = sent_at_us(&frame);
        let latency = now_us().saturating_sub(sent_at);
        shared.record_receive_latency(latency);
        let device = intern(&mut interned, frame.device_id());
        heartbeat(&shared.fleet, &device);
        let ack = frame.take_ack();
        if !quota.admit(&device, frame.timestamp_ms()) {
            // Abuse: dropped on purpose, counted, and let go at the broker.
            shared.not_stored(own, super::pipeline::NotStored::RateLimited);
            if let Some(ack) = ack {
                ack.ack();
            }
            continue;
        }
        let aliases = if frame.aliases().is_none() {
            consumer.aliases(&device)
        } else {
            None
        };
        let outcome = pending
            .batch
            .push_received(&frame, aliases.as_deref().map(|t| t as _));
        counters
            .readings_rejected
            .fetch_add(outcome.rejected as u64, Relaxed);
        pending.acks.extend(ack);
        pending.own += u64::from(own);
        pending.sent_at.push(sent_at);
        pending.since.get_or_insert_with(tokio::time::Instant::now);
        if pending.batch.frames() as usize >= config.batch_frames
            && !commit(
                &mut svc,
                &mut pending,
                &shared,
                &counters,
                &console,
                &mut stop,
            )
            .await
        {
            break;
        }
    }
    // Stopping: one last attempt, then what is left stays at the broker.
    if pending.batch.frames() > 0 {
        // A stop signal that never comes (its sender lives until the end).
        let (_never_tx, mut never) = watch::channel(false);
        let committed = tokio::time::timeout(
            Duration::from_secs(2),
            commit(
                &mut svc,
                &mut pending,
                &shared,
                &counters,
                &console,
                &mut never,
            ),
        )
        .await
        .unwrap_or(false);
        if !committed {
            counters
                .held_at_exit
                .fetch_add(pending.batch.frames(), Relaxed);
        }
    }
    shared.copy_consumer_stats(&consumer);
    consumer
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Writes the pending batch until it commits (`true`), acknowledging its
/// frames; `false` if `stop` came first (the batch stays pending).
async fn commit<S>(
    svc: &mut S,
    pending: &mut Pending,
    shared: &Shared,
    counters: &StoreCounters,
    console: &Console,
    stop: &mut watch::Receiver<bool>,
) -> bool
where
    S: Service<Arc<Batch>, Response = WriteReport, Error = WriteError>,
{
    if pending.batch.frames() == 0 {
        pending.since = None;
        return true;
    }
    let batch = Arc::new(pending.batch.take());
    let mut failures = 0u32;
    loop {
        let result = match svc.ready().await {
            Ok(svc) => svc.call(batch.clone()).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(report) => {
                counters.rows_inserted.fetch_add(report.inserted, Relaxed);
                counters
                    .rows_duplicate
                    .fetch_add(report.duplicates, Relaxed);
                counters.batches.fetch_add(1, Relaxed);
                shared.stored(batch.frames(), pending.own, &pending.sent_at);
                for ack in pending.acks.drain(..) {
                    ack.ack();
                }
                pending.own = 0;
                pending.sent_at.clear();
                pending.since = None;
                if failures > 0 {
                    console.event(&format!(
                        "store: batch of {} frames committed after {failures} failed writes",
                        batch.frames()
                    ));
                }
                return true;
            }
            Err(error) => {
                failures += 1;
                counters.write_failures.fetch_add(1, Relaxed);
                if failures == 1 {
                    console.event(&format!(
                        "store: write failed ({error}); holding {} frames, not consuming until it commits",
                        batch.frames()
                    ));
                }
                // While the breaker is open calls fail at once: wait a
                // little longer than while it lets them through.
                let wait = match error {
                    CircuitBreakerError::Open { .. } => Duration::from_millis(250),
                    _ => Duration::from_millis(50 * u64::from(failures.min(20))),
                };
                tokio::select! {
                    biased;
                    _ = stop.changed() => {
                        // Keep the batch for the final attempt.
                        pending.batch = Arc::try_unwrap(batch).unwrap_or_else(|b| (*b).clone());
                        return false;
                    }
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// Frames per second of device time, per device: a one-second window on
/// the frame timestamps, with `quota` frames allowed in each.
struct DeviceQuota {
    quota: u64,
    windows: HashMap<Arc<str>, (u64, u64)>,
}

impl DeviceQuota {
    /// Devices tracked at most; beyond, the map starts afresh (a device
    /// then gets one fresh window: a bounded leniency, not a leak).
    const MAX_DEVICES: usize = 100_000;

    fn new(per_second: f64) -> Self {
        Self {
            quota: per_second.ceil().max(1.0) as u64,
            windows: HashMap::new(),
        }
    }

    fn admit(&mut self, device: &Arc<str>, timestamp_ms: u64) -> bool {
        let second = timestamp_ms / 1000;
        if self.windows.len() >= Self::MAX_DEVICES && !self.windows.contains_key(device) {
            self.windows.clear();
        }
        let (window, count) = self.windows.entry(device.clone()).or_insert((second, 0));
        if second > *window {
            *window = second;
            *count = 0;
        } else if second < *window {
            // A late frame of an earlier second (a backlog): not counted
            // against the current one.
            return true;
        }
        *count += 1;
        *count <= self.quota
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_counts_device_time_not_arrival() {
        let mut q = DeviceQuota::new(10.0);
        let d: Arc<str> = Arc::from("d");
        // A backlog of 60 s at 10/s arriving at once: all admitted.
        assert!((0..600).all(|i| q.admit(&d, 1_000_000 + i * 100)));
        // 40 frames in one device second: 10 admitted.
        let admitted = (0..40).filter(|i| q.admit(&d, 2_000_000 + i * 25)).count();
        assert_eq!(admitted, 10);
    }
}
