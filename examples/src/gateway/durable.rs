//! The durable frame path (`--sink sqlite:PATH`, `--sink postgres://...`):
//!
//! ```text
//! consumer (AckMode::Manual) -> per-device quota on device time -> batch (count, age)
//!   -> circuit breaker -> retry -> timeout -> Store (one transaction)
//!   -> acknowledge the batch's frames to the broker
//! ```
//!
//! Up to `batches_in_flight` batches are written at once while the next
//! one fills: receiving, decoding and batching overlap the database's
//! work. Batches may commit out of order; each frame is acknowledged when
//! its own batch commits.
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
use super::reloadable::{DeviceLimit, Handles};
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
    /// Attempts per batch write, the first included.
    pub retry_attempts: u32,
    /// Frames per second of device time each device may send (a reload
    /// of `--device-limit` changes it while the path runs).
    pub device_quota: Arc<AtomicU64>,
    /// Batches written at once at most (at least 1).
    pub batches_in_flight: usize,
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
    /// Frames whose batch was still being written when the stop deadline
    /// passed: the write may have committed (a SQLite write runs on to
    /// its end; a PostgreSQL COMMIT may already be sent) or not. Not
    /// acknowledged either, so the broker delivers them to the next run,
    /// and the database's key drops the ones it already has.
    pub in_doubt_at_exit: AtomicU64,
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

/// Consumes `consumer` into `store` until `stop`; returns the consumer
/// (when the task ends) and the handles a reload changes (the write
/// timeout, the per-device quota).
pub fn spawn(
    consumer: Consumer,
    store: Arc<dyn Store>,
    config: DurableConfig,
    shared: Arc<Shared>,
    counters: Arc<StoreCounters>,
    console: Arc<Console>,
    stop: watch::Receiver<bool>,
) -> Result<(tokio::task::JoinHandle<Consumer>, Handles), String> {
    let device_limit = DeviceLimit::Quota(config.device_quota.clone());
    let retry = RetryLayer::new(
        RetryConfig::default()
            .name("store")
            .max_attempts(config.retry_attempts)
            .backoff(BackoffConfig::full_jitter(
                Duration::from_millis(20),
                Duration::from_millis(500),
            )),
    )
    .map_err(|e| format!("retry: {e}"))?;
    let retry_handle = retry.handle();
    let timeout = TimeoutLayer::new(TimeoutConfig::new(config.write_timeout).name("store"))
        .map_err(|e| e.to_string())?;
    let timeout_handle = timeout.handle();
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
    let task = tokio::spawn(run(consumer, svc, config, shared, counters, console, stop));
    Ok((
        task,
        Handles {
            sink_timeout: timeout_handle,
            device_limit,
            retry: retry_handle,
        },
    ))
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
    S::Future: Send + 'static,
{
    let c = &shared.counters;
    let mut quota = DeviceQuota::new(config.device_quota.clone());
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
    let mut writes = Writes::new(config.batches_in_flight);
    loop {
        // Start every write that may start: held batches first (in order),
        // then the filling one when it is full or old enough.
        while writes.has_room() {
            if let Some(flight) = writes.due_retry() {
                writes.start(&mut svc, flight).await;
            } else if !writes.holding()
                && pending.batch.frames() > 0
                && (pending.batch.frames() as usize >= config.batch_frames
                    || pending
                        .since
                        .is_some_and(|t| t.elapsed() >= config.batch_age))
            {
                let flight = pending.take_flight();
                writes.start(&mut svc, flight).await;
            } else {
                break;
            }
        }
        // Read only while the filling batch has room and nothing is held:
        // a failing database stops consumption (backpressure).
        let reading = !writes.holding() && (pending.batch.frames() as usize) < config.batch_frames;
        let wake = writes.next_wake(pending.since.map(|t| t + config.batch_age));
        let item = tokio::select! {
            biased;
            _ = stop.changed() => break,
            Some(done) = writes.next_done() => {
                writes.finish(done, &shared, &counters, &console);
                continue;
            }
            () = sleep_until(wake) => continue,
            _ = copy_stats.tick() => {
                shared.copy_consumer_stats(&consumer);
                for held in parked.release(&consumer, &aliases) {
                    pending.push(held, &consumer, &aliases, &counters);
                }
                continue;
            }
            item = consumer.recv(), if reading => item,
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
    }
    // Stopping: parked frames go as they are, one last attempt for every
    // batch not committed (at most 2 s), then what is left stays at the
    // broker (not acknowledged).
    for held in parked.drain() {
        pending.push(held, &consumer, &aliases, &counters);
    }
    if pending.batch.frames() > 0 {
        writes.hold(pending.take_flight());
    }
    // Within the last attempt's 2 s a failing batch is written again as
    // usual (after its wait).
    let last_attempt = async {
        loop {
            while let Some(flight) = writes.due_retry() {
                writes.start(&mut svc, flight).await;
            }
            match writes.next_done().await {
                Some(done) => writes.finish(done, &shared, &counters, &console),
                None => match writes.held.front() {
                    Some(flight) => tokio::time::sleep_until(flight.not_before).await,
                    None => break,
                },
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), last_attempt).await;
    counters
        .held_at_exit
        .fetch_add(writes.frames_held(), Relaxed);
    counters
        .in_doubt_at_exit
        .fetch_add(writes.running_frames, Relaxed);
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
    /// The filling batch, to be written; the next one starts empty.
    fn take_flight(&mut self) -> Flight {
        self.since = None;
        Flight {
            batch: Arc::new(self.batch.take()),
            acks: std::mem::take(&mut self.acks),
            own: std::mem::take(&mut self.own),
            sent_at: std::mem::take(&mut self.sent_at),
            failures: 0,
            not_before: tokio::time::Instant::now(),
        }
    }

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

/// A batch on its way to the database, with what to do once it commits.
struct Flight {
    batch: Arc<Batch>,
    acks: Vec<AckHandle>,
    /// Frames of this process's fleet in the batch.
    own: u64,
    /// Send times (µs) of the frames, for the stored latency.
    sent_at: Vec<u64>,
    /// Failed writes so far.
    failures: u32,
    /// Not written again before this (after a failure).
    not_before: tokio::time::Instant,
}

/// A finished write: the batch and its outcome.
type Done = (Flight, Result<WriteReport, WriteError>);

/// The batches being written (at most `max` at once) and those held after
/// a failed write, waiting to be written again. While any is held no new
/// batch starts and the consumer is not read.
struct Writes {
    running: tokio::task::JoinSet<Done>,
    /// Frames of the running batches (`in_doubt_at_exit` at a hard stop).
    running_frames: u64,
    held: std::collections::VecDeque<Flight>,
    max: usize,
}

impl Writes {
    fn new(max: usize) -> Self {
        Self {
            running: tokio::task::JoinSet::new(),
            running_frames: 0,
            held: std::collections::VecDeque::new(),
            max: max.max(1),
        }
    }

    fn has_room(&self) -> bool {
        self.running.len() < self.max
    }

    fn holding(&self) -> bool {
        !self.held.is_empty()
    }

    /// The first held batch, once its wait is over.
    fn due_retry(&mut self) -> Option<Flight> {
        let due = self
            .held
            .front()
            .is_some_and(|f| f.not_before <= tokio::time::Instant::now());
        if due { self.held.pop_front() } else { None }
    }

    fn hold(&mut self, flight: Flight) {
        self.held.push_back(flight);
    }

    /// When the loop must look again without a frame or a finished write:
    /// a held batch's wait ends, or the filling batch is old enough.
    fn next_wake(&self, batch_due: Option<tokio::time::Instant>) -> Option<tokio::time::Instant> {
        if !self.has_room() {
            return None;
        }
        match self.held.front() {
            Some(flight) => Some(flight.not_before),
            None => batch_due,
        }
    }

    /// Starts writing `flight` (waits for the stack to be ready).
    async fn start<S>(&mut self, svc: &mut S, flight: Flight)
    where
        S: Service<Arc<Batch>, Response = WriteReport, Error = WriteError>,
        S::Future: Send + 'static,
    {
        self.running_frames += flight.batch.frames();
        match svc.ready().await {
            Ok(svc) => {
                let call = svc.call(flight.batch.clone());
                self.running.spawn(async move { (flight, call.await) });
            }
            Err(e) => {
                self.running.spawn(async move { (flight, Err(e)) });
            }
        }
    }

    /// The next finished write (`None`: nothing running).
    async fn next_done(&mut self) -> Option<Done> {
        let joined = self.running.join_next().await?;
        Some(joined.expect("a write task panicked"))
    }

    /// Acknowledges a committed batch's frames, or holds a failed batch
    /// for another write.
    fn finish(
        &mut self,
        (mut flight, result): Done,
        shared: &Shared,
        counters: &StoreCounters,
        console: &Console,
    ) {
        self.running_frames -= flight.batch.frames();
        match result {
            Ok(report) => {
                counters.rows_inserted.fetch_add(report.inserted, Relaxed);
                counters
                    .rows_duplicate
                    .fetch_add(report.duplicates, Relaxed);
                counters.batches.fetch_add(1, Relaxed);
                shared.stored(flight.batch.frames(), flight.own, &flight.sent_at);
                for ack in flight.acks.drain(..) {
                    ack.ack();
                }
                if flight.failures > 0 {
                    console.event(&format!(
                        "store: batch of {} frames committed after {} failed writes",
                        flight.batch.frames(),
                        flight.failures
                    ));
                }
            }
            Err(error) => {
                flight.failures += 1;
                counters.write_failures.fetch_add(1, Relaxed);
                if flight.failures == 1 && !self.holding() {
                    console.event(&format!(
                        "store: write failed ({error}); holding {} frames, not consuming until it commits",
                        flight.batch.frames()
                    ));
                }
                // While the breaker is open calls fail at once: wait a
                // little longer than while it lets them through.
                let wait = match error {
                    CircuitBreakerError::Open { .. } => Duration::from_millis(250),
                    _ => Duration::from_millis(50 * u64::from(flight.failures.min(20))),
                };
                flight.not_before = tokio::time::Instant::now() + wait;
                self.held.push_back(flight);
            }
        }
    }

    /// Frames of the batches held after a failed write: not committed.
    fn frames_held(&self) -> u64 {
        self.held.iter().map(|f| f.batch.frames()).sum()
    }
}

/// Frames per second of device time, per device: a one-second window on
/// the frame timestamps, with `quota` frames allowed in each.
struct DeviceQuota {
    /// Frames per device second; changed by a reload (`--device-limit`).
    quota: Arc<AtomicU64>,
    windows: HashMap<Arc<str>, (u64, u64)>,
}

impl DeviceQuota {
    /// Devices tracked at most; beyond, the map starts afresh (a device
    /// then gets one fresh window: a bounded leniency, not a leak).
    const MAX_DEVICES: usize = 100_000;

    fn new(quota: Arc<AtomicU64>) -> Self {
        Self {
            quota,
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
        *count <= self.quota.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_counts_device_time_not_arrival() {
        let quota = Arc::new(AtomicU64::new(DeviceLimit::quota(10.0)));
        let mut q = DeviceQuota::new(quota.clone());
        let d: Arc<str> = Arc::from("d");
        // A backlog of 60 s at 10/s arriving at once: all admitted.
        assert!((0..600).all(|i| q.admit(&d, 1_000_000 + i * 100)));
        // 40 frames in one device second: 10 admitted.
        let admitted = (0..40).filter(|i| q.admit(&d, 2_000_000 + i * 25)).count();
        assert_eq!(admitted, 10);
        // A reload raises the quota: the next device second admits 40.
        DeviceLimit::Quota(quota).apply(40.0).unwrap();
        let admitted = (0..40).filter(|i| q.admit(&d, 2_001_000 + i * 25)).count();
        assert_eq!(admitted, 40);
    }
}
