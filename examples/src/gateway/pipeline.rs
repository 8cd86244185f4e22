//! The frame path: consumer -> tower stack (per-device rate limit, circuit
//! breaker, retry with budget, timeout, metrics) -> sink.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use iot_core::codec::{AliasResolver, Channel, Value};
use iot_core::device::{DeviceId, DeviceInfo};
use iot_core::fleet::{FleetError, FleetRegistry};
use iot_core::mqtt::{Consumer, ReceiveError, ReceivedFrame, StatsSnapshot};
use iot_observe::metrics_layer::MetricsLayer;
use iot_resilience::backoff::BackoffConfig;
use iot_resilience::circuit_breaker::{
    CircuitBreakerConfig, CircuitBreakerError, CircuitBreakerHandle, CircuitBreakerLayer,
    SlidingWindow,
};
use iot_resilience::rate_limit::{KeyedRateLimitLayer, RateLimitError};
use iot_resilience::retry::{GiveUpReason, RetryBudgetConfig, RetryConfig, RetryError, RetryLayer};
use iot_resilience::timeout::{TimeoutConfig, TimeoutError, TimeoutLayer};

use super::reloadable::{DeviceLimit, Handles};
use tokio::sync::{Semaphore, watch};
use tower::{Service, ServiceBuilder, ServiceExt};

use super::console::Console;
use crate::latency::Histogram;
use crate::sim::SENT_AT_CHANNEL;
use crate::sink::{Sink, SinkError, SinkRequest};
use crate::util::now_us;

/// The error of the whole stack, outermost layer first.
pub type StackError = RateLimitError<CircuitBreakerError<RetryError<TimeoutError<SinkError>>>>;

/// How the stack is tuned.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// Frames per second each device may send to the sink.
    pub device_limit: f64,
    /// Per-attempt timeout of the sink.
    pub sink_timeout: Duration,
    /// Attempts per frame, the first included.
    pub retry_attempts: u32,
}

/// What happened to the frames, updated as they go.
#[derive(Debug, Default)]
pub struct Counters {
    /// Frames delivered by the consumer (after deduplication).
    pub received: AtomicU64,
    /// ... of which from this process's simulated fleet.
    pub received_own: AtomicU64,
    /// Error items from the consumer (undecodable payloads...), not the
    /// ledger's reports of missing frames.
    pub decode_errors: AtomicU64,
    /// Frames the consumer's ledger reported missing (`FramesMissing`).
    pub missing_reported: AtomicU64,
    /// Frames past the rate limiter and the breaker (into retry).
    pub admitted: AtomicU64,
    /// Frames stored by the sink.
    pub stored: AtomicU64,
    /// Frames refused by the per-device rate limit.
    pub rate_limited: AtomicU64,
    /// Frames refused by the open (or half-open, busy) breaker.
    pub breaker_rejected: AtomicU64,
    /// Frames the sink still failed after retrying.
    pub failed: AtomicU64,
    /// ... of which the retry budget refused the retry.
    pub budget_exhausted: AtomicU64,
    /// Sink attempts cut by the timeout.
    pub timeouts: AtomicU64,
    /// Frames whose processing finished (any outcome).
    pub completed: AtomicU64,
    /// Frames of this process's fleet stored.
    pub stored_own: AtomicU64,
    /// Frames of this process's fleet received but not stored (rate
    /// limited, refused by the open breaker, failed).
    pub not_stored_own: AtomicU64,
    /// Store writes failed on purpose (`--sink-fail-rate`, durable sinks).
    pub injected: AtomicU64,
}

/// Why a received frame was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotStored {
    /// Over its device's quota (abuse).
    RateLimited,
    /// Refused by the open breaker (in-memory and HTTP sinks only).
    BreakerOpen,
    /// The sink still failed after retrying (in-memory and HTTP sinks).
    Failed,
}

/// Everything the dispatcher shares with the reporting side.
pub struct Shared {
    /// The counters.
    pub counters: Counters,
    /// Latency from the device's send time to receipt by the gateway, µs.
    pub receive_latency: Histogram,
    /// Latency from the device's send time to the sink's success, µs.
    pub stored_latency: Histogram,
    /// Device liveness.
    pub fleet: FleetRegistry,
    /// Bounds the frames in the stack at once.
    pub in_flight: Arc<Semaphore>,
    /// Its size.
    pub max_in_flight: usize,
    /// The breaker of the sink.
    pub breaker: CircuitBreakerHandle,
    /// The consumer's counters, copied by the dispatcher every 250 ms
    /// (the consumer itself lives in the dispatcher task).
    pub consumer_stats: Mutex<StatsSnapshot>,
    /// The highest sequence number received of each of this process's
    /// simulated devices: what is above it at the end is in flight.
    pub highest_own: Mutex<HashMap<String, u64>>,
    /// Device ids of this process's fleet start with this.
    own_prefix: String,
    outcome: OutcomeMetrics,
}

struct OutcomeMetrics {
    stored: metrics::Counter,
    rate_limited: metrics::Counter,
    breaker_open: metrics::Counter,
    failed: metrics::Counter,
    e2e: metrics::Histogram,
}

impl OutcomeMetrics {
    fn register() -> Self {
        let c = |o: &'static str| metrics::counter!("iot_gateway_frames_total", "outcome" => o);
        metrics::describe_counter!(
            "iot_gateway_frames_total",
            metrics::Unit::Count,
            "Frames handled by the gateway by outcome: stored, rate_limited, breaker_open, failed."
        );
        metrics::describe_histogram!(
            "iot_gateway_e2e_latency_seconds",
            metrics::Unit::Seconds,
            "Time from the device's send timestamp to receipt by the gateway."
        );
        metrics::describe_gauge!(
            "iot_devices_online",
            metrics::Unit::Count,
            "Devices whose last frame is more recent than the offline timeout."
        );
        OutcomeMetrics {
            stored: c("stored"),
            rate_limited: c("rate_limited"),
            breaker_open: c("breaker_open"),
            failed: c("failed"),
            e2e: metrics::histogram!("iot_gateway_e2e_latency_seconds"),
        }
    }
}

/// The sink's breaker: opens at `failure_rate` percent of failed calls
/// among the last 100 (at least 20), for `open` (`--breaker-failure-rate`,
/// `--breaker-open`; a reload applies a new one through the handle).
pub fn breaker_config(failure_rate: f32, open: Duration) -> CircuitBreakerConfig {
    CircuitBreakerConfig::default()
        .name("sink")
        .sliding_window(SlidingWindow::count(100))
        .minimum_number_of_calls(20)
        .failure_rate_threshold(failure_rate)
        .wait_duration_in_open(open)
        .permitted_calls_in_half_open(5)
}

/// Builds the shared state and the breaker (so health checks can watch it
/// before frames flow).
pub fn shared(
    fleet: FleetRegistry,
    max_in_flight: usize,
    own_prefix: &str,
    breaker: CircuitBreakerConfig,
) -> Result<Arc<Shared>, String> {
    let breaker = CircuitBreakerHandle::new(breaker).map_err(|e| format!("breaker: {e}"))?;
    Ok(Arc::new(Shared {
        counters: Counters::default(),
        receive_latency: Histogram::new(),
        stored_latency: Histogram::new(),
        fleet,
        in_flight: Arc::new(Semaphore::new(max_in_flight)),
        max_in_flight,
        breaker,
        consumer_stats: Mutex::new(StatsSnapshot::default()),
        highest_own: Mutex::new(HashMap::new()),
        own_prefix: format!("{own_prefix}-"),
        outcome: OutcomeMetrics::register(),
    }))
}

/// Builds the tower stack around `sink` and consumes `consumer` until
/// `stop` turns true (or the consumer closes); returns the consumer.
pub fn spawn(
    consumer: Consumer,
    sink: Sink,
    config: &StackConfig,
    shared: Arc<Shared>,
    console: Arc<Console>,
    stop: watch::Receiver<bool>,
) -> Result<(tokio::task::JoinHandle<Consumer>, Handles), String> {
    let limiter = KeyedRateLimitLayer::<Arc<str>, _>::new(
        DeviceLimit::limiter_config(config.device_limit),
        |r: &Arc<SinkRequest>| r.device.clone(),
    )
    .map_err(|e| e.to_string())?;
    let device_limit = DeviceLimit::Limiter(limiter.handle());
    let retry = RetryLayer::new(
        RetryConfig::default()
            .name("sink")
            .max_attempts(config.retry_attempts)
            .backoff(BackoffConfig::full_jitter(
                Duration::from_millis(10),
                Duration::from_millis(200),
            ))
            .budget(
                RetryBudgetConfig::default()
                    .ratio(0.2)
                    .min_retries_per_second(10),
            ),
    )
    .map_err(|e| format!("retry: {e}"))?;
    let retry_handle = retry.handle();
    let timeout = TimeoutLayer::new(TimeoutConfig::new(config.sink_timeout).name("sink"))
        .map_err(|e| e.to_string())?;
    let timeout_handle = timeout.handle();
    let admitted = shared.clone();
    let timed_out = shared.clone();
    let svc = ServiceBuilder::new()
        .layer(limiter)
        .layer(CircuitBreakerLayer::from_handle(shared.breaker.clone()))
        .map_request(move |r: Arc<SinkRequest>| {
            admitted.counters.admitted.fetch_add(1, Relaxed);
            r
        })
        .layer(retry)
        .map_result(move |r: Result<(), TimeoutError<SinkError>>| {
            if let Err(TimeoutError::Elapsed { .. }) = &r {
                timed_out.counters.timeouts.fetch_add(1, Relaxed);
            }
            r
        })
        .layer(timeout)
        .layer(MetricsLayer::new("sink"))
        .service(sink);
    let task = tokio::spawn(dispatch(consumer, svc, shared, console, stop));
    Ok((
        task,
        Handles {
            sink_timeout: timeout_handle,
            device_limit,
            retry: retry_handle,
        },
    ))
}

async fn dispatch<S>(
    mut consumer: Consumer,
    mut svc: S,
    shared: Arc<Shared>,
    console: Arc<Console>,
    mut stop: watch::Receiver<bool>,
) -> Consumer
where
    S: Service<Arc<SinkRequest>, Response = (), Error = StackError>,
    S::Future: Send + 'static,
{
    let mut interned: HashMap<Box<str>, Arc<str>> = HashMap::new();
    let c = &shared.counters;
    let mut copy_stats = tokio::time::interval(Duration::from_millis(250));
    loop {
        let item = tokio::select! {
            biased;
            _ = stop.changed() => break,
            _ = copy_stats.tick() => {
                shared.copy_consumer_stats(&consumer);
                continue;
            }
            item = consumer.recv() => item,
        };
        let Some(item) = item else { break };
        let frame = match item {
            Ok(frame) => frame,
            Err(error @ ReceiveError::FramesMissing { .. }) => {
                let n = c
                    .missing_reported
                    .fetch_add(error.missing_frames(), Relaxed);
                if n == 0 {
                    console.event(&format!("ledger: {error}"));
                }
                continue;
            }
            Err(error) => {
                let n = c.decode_errors.fetch_add(1, Relaxed) + 1;
                if n <= 3 {
                    console.event(&format!("decode error: {error}"));
                } else if n == 4 {
                    console.event("further decode errors are only counted");
                }
                continue;
            }
        };
        let own = shared.note_received(&frame);
        let sent_at = sent_at_us(&frame);
        shared.record_receive_latency(now_us().saturating_sub(sent_at));

        let device = intern(&mut interned, frame.device_id());
        heartbeat(&shared.fleet, &device);
        let aliases = if frame.aliases().is_none() {
            consumer.aliases(&device)
        } else {
            None
        };
        let request = Arc::new(SinkRequest {
            device,
            frame,
            aliases,
        });
        let Ok(permit) = shared.in_flight.clone().acquire_owned().await else {
            break;
        };
        let future = match svc.ready().await {
            Ok(svc) => svc.call(request),
            Err(e) => {
                tracing::error!(error = %e, "sink stack not ready");
                shared.not_stored(own, NotStored::Failed);
                c.completed.fetch_add(1, Relaxed);
                continue;
            }
        };
        // Most calls complete at once (the in-memory sink): finish those
        // here and spawn a task only for the others. Polling once with a
        // no-op waker is sound: the task polls again (with its own waker)
        // as soon as it starts.
        let mut future = Box::pin(future);
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(result) => {
                shared.finish(result, sent_at, own);
                drop(permit);
            }
            Poll::Pending => {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let result = future.await;
                    shared.finish(result, sent_at, own);
                    drop(permit);
                });
            }
        }
    }
    shared.copy_consumer_stats(&consumer);
    consumer
}

impl Shared {
    /// Counts a received frame; returns whether it is of this process's
    /// fleet (whose highest sequence number per device is kept).
    pub(super) fn note_received(&self, frame: &ReceivedFrame) -> bool {
        let c = &self.counters;
        c.received.fetch_add(1, Relaxed);
        if !frame.device_id().starts_with(&self.own_prefix) {
            return false;
        }
        c.received_own.fetch_add(1, Relaxed);
        let mut highest = self.highest_own.lock().unwrap_or_else(|e| e.into_inner());
        match highest.get_mut(frame.device_id()) {
            Some(h) => *h = (*h).max(frame.seq()),
            None => {
                highest.insert(frame.device_id().to_owned(), frame.seq());
            }
        }
        true
    }

    /// Device send -> gateway receipt, µs.
    pub(super) fn record_receive_latency(&self, latency_us: u64) {
        self.receive_latency.record(latency_us);
        self.outcome.e2e.record(latency_us as f64 / 1e6);
    }

    /// A frame that will not be stored, and why.
    pub(super) fn not_stored(&self, own: bool, why: NotStored) {
        let c = &self.counters;
        let (counter, metric) = match why {
            NotStored::RateLimited => (&c.rate_limited, &self.outcome.rate_limited),
            NotStored::BreakerOpen => (&c.breaker_rejected, &self.outcome.breaker_open),
            NotStored::Failed => (&c.failed, &self.outcome.failed),
        };
        counter.fetch_add(1, Relaxed);
        metric.increment(1);
        if own {
            c.not_stored_own.fetch_add(1, Relaxed);
        }
    }

    /// `frames` stored (`own` of this fleet), sent at `sent_at` (µs).
    pub(super) fn stored(&self, frames: u64, own: u64, sent_at: &[u64]) {
        let c = &self.counters;
        c.stored.fetch_add(frames, Relaxed);
        c.stored_own.fetch_add(own, Relaxed);
        c.completed.fetch_add(frames, Relaxed);
        self.outcome.stored.increment(frames);
        let now = now_us();
        for t in sent_at {
            self.stored_latency.record(now.saturating_sub(*t));
        }
    }

    pub(super) fn copy_consumer_stats(&self, consumer: &Consumer) {
        let snapshot = consumer.stats().snapshot();
        *self
            .consumer_stats
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = snapshot;
    }

    /// The consumer's counters as last copied.
    pub fn consumer_snapshot(&self) -> StatsSnapshot {
        *self
            .consumer_stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn finish(&self, result: Result<(), StackError>, sent_at: u64, own: bool) {
        let c = &self.counters;
        match result {
            Ok(()) => {
                self.stored(1, u64::from(own), &[sent_at]);
                return;
            }
            Err(RateLimitError::Rejected { .. } | RateLimitError::InsufficientCapacity { .. }) => {
                self.not_stored(own, NotStored::RateLimited);
            }
            Err(RateLimitError::Inner(CircuitBreakerError::Open { .. })) => {
                self.not_stored(own, NotStored::BreakerOpen);
            }
            Err(e) => {
                if let RateLimitError::Inner(CircuitBreakerError::Inner(RetryError::Failed {
                    reason: GiveUpReason::BudgetExhausted,
                    ..
                })) = &e
                {
                    c.budget_exhausted.fetch_add(1, Relaxed);
                }
                tracing::debug!(error = %e, "frame not stored");
                self.not_stored(own, NotStored::Failed);
            }
        }
        c.completed.fetch_add(1, Relaxed);
    }

    /// Waits until no frame is in the stack (at most `timeout`).
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let all = u32::try_from(self.max_in_flight).unwrap_or(u32::MAX);
        matches!(
            tokio::time::timeout(timeout, self.in_flight.acquire_many(all)).await,
            Ok(Ok(_))
        )
    }
}

/// The device's send time in µs: the `sent_at` reading when the device
/// sends one (the simulator does), else the frame timestamp (ms).
pub(super) fn sent_at_us(frame: &ReceivedFrame) -> u64 {
    let view = frame.view();
    let table = frame.aliases();
    for r in view.readings() {
        let is_sent_at = match r.channel {
            Channel::Name(n) => n == SENT_AT_CHANNEL,
            Channel::Alias(a) => match table {
                Some(t) => t.name_of(a) == Some(SENT_AT_CHANNEL),
                // A frame that beat its device's birth (rare: the birth
                // goes first on every connect): the simulator's alias.
                None => a == crate::sim::SENT_AT_ALIAS,
            },
        };
        if is_sent_at {
            if let Value::U64(us) = r.value {
                return us;
            }
        }
    }
    frame.timestamp_ms().saturating_mul(1000)
}

/// The one `Arc<str>` of a device id (the rate limiter's key, the rows'
/// device), allocated once per device.
pub(super) fn intern(interned: &mut HashMap<Box<str>, Arc<str>>, device: &str) -> Arc<str> {
    if let Some(d) = interned.get(device) {
        return d.clone();
    }
    let d: Arc<str> = Arc::from(device);
    interned.insert(device.into(), d.clone());
    d
}

/// Records a frame as a heartbeat, registering devices seen for the first
/// time.
pub(super) fn heartbeat(fleet: &FleetRegistry, device: &str) {
    let now = Instant::now();
    match fleet.heartbeat(device, now) {
        Ok(_) => {}
        Err(FleetError::UnknownDevice(_)) => {
            if let Ok(id) = DeviceId::new(device) {
                let _ = fleet.register(DeviceInfo::new(id, "sensor"), now);
                let _ = fleet.heartbeat(device, now);
            }
        }
        Err(e) => tracing::debug!(device, error = %e, "heartbeat refused"),
    }
}
