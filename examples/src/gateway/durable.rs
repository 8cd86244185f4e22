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

use iot_core::codec::{AliasTable, Channel};
use iot_core::mqtt::{
    AckHandle, Consumer, ConsumerConfig, MqttConfig, Qos, ReceiveError, ReceivedFrame,
};
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
    /// Frames waiting for their device's alias table at most (below the
    /// consumer's `max_unacked`).
    pub max_parked: usize,
    /// Alias tables from the retained births ([`prime_aliases`]).
    pub primed: Primed,
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
    /// Readings stored with an `#<alias>` channel name: their device's
    /// alias table was still unknown after waiting.
    pub readings_unresolved: AtomicU64,
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

/// Alias tables known before the consumer started (from the retained
/// births, see [`prime_aliases`]), by device.
pub type Primed = HashMap<Arc<str>, Arc<AliasTable>>;

/// The retained birth messages, read on a short-lived clean session
/// (client id `<mqtt.client_id>-births`) before the persistent one starts:
/// the broker delivers a persistent session's backlog before it sends the
/// retained births again, and frames naming channels by alias could not be
/// resolved until they arrive. Waits until no new birth came for 300 ms
/// (at most `limit`).
pub async fn prime_aliases(mut mqtt: MqttConfig, limit: Duration) -> Result<Primed, String> {
    mqtt.client_id = format!("{}-births", mqtt.client_id);
    mqtt.persistent_session = false;
    let consumer = Consumer::start(ConsumerConfig::new(mqtt).qos(Qos::AtMostOnce))
        .map_err(|e| format!("birth reader: {e}"))?;
    consumer
        .wait_connected(limit)
        .await
        .map_err(|e| format!("birth reader: {e}"))?;
    let deadline = tokio::time::Instant::now() + limit;
    let mut last = (0, tokio::time::Instant::now());
    while tokio::time::Instant::now() < deadline {
        let s = consumer.stats().snapshot();
        if s.births != last.0 {
            last = (s.births, tokio::time::Instant::now());
        } else if s.subscribed > 0 && last.1.elapsed() >= Duration::from_millis(300) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tables = consumer.alias_tables().into_iter().collect();
    consumer.close(Duration::from_secs(1)).await;
    Ok(tables)
}

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
    mut config: DurableConfig,
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
    let aliases = Aliases {
        primed: std::mem::take(&mut config.primed),
    };
    let mut pending = Pending {
        batch: Batch::new(),
        acks: Vec::new(),
        own: 0,
        sent_at: Vec::new(),
        since: None,
    };
    let mut copy_stats = tokio::time::interval(PARK_CHECK);
    let mut parked = Parked::new(config.max_parked);
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
                for held in parked.release(&consumer, &aliases) {
                    pending.push(held, &consumer, &aliases, &counters);
                }
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
        let held = Held {
            frame,
            ack,
            device,
            own,
            sent_at,
            since: tokio::time::Instant::now(),
        };
        let held = match parked.park_if_unresolved(held, &consumer, &aliases) {
            Some(held) => held,
            None => continue,
        };
        pending.push(held, &consumer, &aliases, &counters);
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
    // Stopping: parked frames go as they are, one last attempt, then what
    // is left stays at the broker.
    for held in parked.drain() {
        pending.push(held, &consumer, &aliases, &counters);
    }
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

/// A received frame on its way into a batch.
struct Held {
    frame: ReceivedFrame,
    ack: Option<AckHandle>,
    device: Arc<str>,
    own: bool,
    sent_at: u64,
    since: tokio::time::Instant,
}

/// Where a device's alias table comes from: the frame's own (the birth
/// before it), the consumer's latest, or the primed one.
struct Aliases {
    primed: Primed,
}

impl Aliases {
    fn of(&self, consumer: &Consumer, device: &Arc<str>) -> Option<Arc<AliasTable>> {
        consumer
            .aliases(device)
            .or_else(|| self.primed.get(device).cloned())
    }
}

impl Pending {
    /// Adds a frame's rows, resolving aliases with its own table or the
    /// device's latest.
    fn push(
        &mut self,
        held: Held,
        consumer: &Consumer,
        aliases: &Aliases,
        counters: &StoreCounters,
    ) {
        let aliases = if held.frame.aliases().is_none() {
            aliases.of(consumer, &held.device)
        } else {
            None
        };
        let outcome = self
            .batch
            .push_received(&held.frame, aliases.as_deref().map(|t| t as _));
        counters
            .readings_rejected
            .fetch_add(outcome.rejected as u64, Relaxed);
        counters
            .readings_unresolved
            .fetch_add(outcome.unresolved_aliases as u64, Relaxed);
        self.acks.extend(held.ack);
        self.own += u64::from(held.own);
        self.sent_at.push(held.sent_at);
        self.since.get_or_insert_with(tokio::time::Instant::now);
    }
}

/// How often parked frames are looked at (and the consumer's stats copied).
const PARK_CHECK: Duration = Duration::from_millis(50);
/// How long a frame waits for its device's birth at most.
const PARK_FOR: Duration = Duration::from_secs(2);

/// Frames that name channels by alias while their device's alias table is
/// not known yet. After a restart the broker delivers a session's backlog
/// before the retained birth messages; stored at once, such readings would
/// get `#<alias>` channel names, and a redelivery after the table is known
/// would store them again under the real names (another key). They wait,
/// unacknowledged, until the table arrives, at most [`PARK_FOR`] and at
/// most `max` frames (well below `max_unacked`: births arrive on the same
/// connection, which stops reading when the window is full); then they are
/// stored with `#<alias>` names, counted as unresolved.
struct Parked {
    frames: std::collections::VecDeque<Held>,
    max: usize,
}

impl Parked {
    fn new(max: usize) -> Self {
        Self {
            frames: std::collections::VecDeque::new(),
            max,
        }
    }

    /// Keeps `held` (returns `None`) if it needs a table not known yet.
    fn park_if_unresolved(
        &mut self,
        held: Held,
        consumer: &Consumer,
        aliases: &Aliases,
    ) -> Option<Held> {
        if held.frame.aliases().is_some()
            || self.frames.len() >= self.max
            || !uses_aliases(&held.frame)
            || aliases.of(consumer, &held.device).is_some()
        {
            return Some(held);
        }
        self.frames.push_back(held);
        None
    }

    /// The frames whose table is known now, or that waited long enough.
    fn release(&mut self, consumer: &Consumer, aliases: &Aliases) -> Vec<Held> {
        if self.frames.is_empty() {
            return Vec::new();
        }
        let now = tokio::time::Instant::now();
        let mut out = Vec::new();
        let mut keep = std::collections::VecDeque::with_capacity(self.frames.len());
        for held in self.frames.drain(..) {
            if now.duration_since(held.since) >= PARK_FOR
                || aliases.of(consumer, &held.device).is_some()
            {
                out.push(held);
            } else {
                keep.push_back(held);
            }
        }
        self.frames = keep;
        out
    }

    fn drain(&mut self) -> Vec<Held> {
        self.frames.drain(..).collect()
    }
}

fn uses_aliases(frame: &ReceivedFrame) -> bool {
    frame
        .view()
        .readings()
        .any(|r| matches!(r.channel, Channel::Alias(_)))
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
