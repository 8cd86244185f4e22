//! The consumer: decoded, deduplicated frames from the broker.

mod ack;
mod received;
mod worker;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttc::{AsyncClient, Publish, QoS, SubscribeFilter};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::codec::AliasTable;

use super::coalesce::Coalescer;
use super::config::{AckMode, ConsumerConfig};
use super::connection::{Link, Shutdown};
use super::error::ConfigError;
use super::ledger::Ledger;
use super::lru::ClockMap;
use super::oversize::OversizeSkip;
use super::state::{ConnectionState, Role, Stats};
use super::topics::{TopicKind, shared_filter};
use super::wait::WaitError;

pub use ack::AckHandle;
use ack::AckWindow;
pub use received::{Received, ReceivedFrame};
use worker::Worker;

/// Receives frames from the broker: decoded, validated, deduplicated.
///
/// A background task owns the connection: it subscribes after every
/// connect (telemetry optionally through `$share/<group>/...`, births
/// always unshared), validates each payload once, keeps per-device alias
/// tables from birth messages, suppresses duplicates by `(device, seq)`
/// and passes the rest to [`recv`](Self::recv) through a bounded channel.
/// A malformed message becomes an error item naming its topic; the stream
/// goes on.
///
/// ```no_run
/// use iot_core::mqtt::{Consumer, ConsumerConfig, MqttConfig};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let config = ConsumerConfig::new(MqttConfig::new("127.0.0.1", 1883).client_id("gateway-1"))
///     .share_group("gateways");
/// let mut consumer = Consumer::start(config)?;
/// while let Some(item) = consumer.recv().await {
///     match item {
///         Ok(frame) => {
///             let view = frame.view();
///             for reading in view.readings() {
///                 let name = frame.aliases().and_then(|t| reading.channel.name(t));
///                 println!("{} #{} {name:?} = {:?}", frame.device_id(), view.seq(), reading.value);
///             }
///         }
///         Err(error) => eprintln!("skipped: {error}"),
///     }
/// }
/// # Ok(()) }
/// ```
pub struct Consumer {
    rx: mpsc::Receiver<Delivery>,
    /// `AckMode::OnRecv`: packet ids taken by the application whose
    /// acknowledgement did not fit rumqttc's request channel yet.
    pending_acks: VecDeque<Ack>,
    shared: Arc<Shared>,
    state: watch::Receiver<ConnectionState>,
    client: AsyncClient,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("client_id", &self.shared.client_id)
            .field("state", &*self.state.borrow())
            .finish_non_exhaustive()
    }
}

struct Shared {
    stats: Arc<Stats>,
    aliases: Mutex<ClockMap<Arc<AliasTable>>>,
    shutdown: Shutdown,
    closing: std::sync::atomic::AtomicBool,
    /// Counts lost connections. Packet ids are only meaningful on the
    /// connection that delivered them: a PUBACK sent on a later one could
    /// acknowledge a different message if the broker lost the session.
    epoch: AtomicU64,
    client_id: String,
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.shared.shutdown.trigger();
    }
}

impl Consumer {
    /// Validates `config` and starts the connection task (within a Tokio
    /// runtime).
    pub fn start(config: ConsumerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| ConfigError::new("runtime", format!("no Tokio runtime: {e}")))?;
        let filters = subscriptions(&config)?;
        let (mut options, network, connector) = config.mqtt.to_options()?;
        let acks_on_recv = config.ack == AckMode::OnRecv;
        let acks_by_handle = config.ack == AckMode::Manual;
        options.set_manual_acks(acks_on_recv || acks_by_handle);
        // With acknowledgements from `recv`, every item the application
        // may take can put one more request in rumqttc's channel
        // (`AckMode::Manual` writes its PUBACKs itself).
        let cap = options.request_channel_capacity()
            + if acks_on_recv {
                config.channel_capacity
            } else {
                0
            };
        let (client, mut eventloop) = AsyncClient::new(options, cap);
        eventloop.set_network_options(network);
        let stats = Arc::new(Stats::new(Role::Consumer));
        let window =
            acks_by_handle.then(|| Arc::new(AckWindow::new(config.max_unacked, stats.clone())));
        let shared = Arc::new(Shared {
            stats: stats.clone(),
            aliases: Mutex::new(ClockMap::new(config.max_alias_tables)),
            shutdown: Shutdown::default(),
            closing: false.into(),
            epoch: AtomicU64::new(0),
            client_id: config.mqtt.client_id.clone(),
        });
        let (link, state) = Link::new(config.mqtt.backoff, stats, connector);
        let (tx, rx) = mpsc::channel(config.channel_capacity);
        let worker = Worker {
            shared: shared.clone(),
            client: client.clone(),
            filters,
            scheme: config.mqtt.topics.clone(),
            limits: config.limits,
            ledger: Ledger::new(
                config.dedup.window,
                config.dedup.max_gaps,
                config.dedup.max_devices,
            ),
            evictions_seen: 0,
            gap: None,
            report_gaps: config
                .dedup
                .report_gaps
                .unwrap_or(config.share_group.is_none()),
            oversize: OversizeSkip::new(config.mqtt.max_packet_size, config.oversize_skip_limit),
            tx,
            manual_acks: acks_on_recv,
            window,
            stale: false,
            coalescer: Coalescer::new(config.coalesce, Instant::now()),
        };
        let task = runtime.spawn(worker.run(eventloop, link));
        Ok(Self {
            rx,
            pending_acks: VecDeque::new(),
            shared,
            state,
            client,
            task: Some(task),
        })
    }

    /// The next frame or error item; `None` once the consumer is closed.
    ///
    /// With [`AckMode::OnRecv`] this acknowledges the message to the broker
    /// (and any skipped before it), without ever waiting for that: an
    /// acknowledgement that does not fit rumqttc's request channel is
    /// retried every millisecond while `recv` waits. Cancel-safe: dropping
    /// the future loses nothing and acknowledges nothing twice.
    pub async fn recv(&mut self) -> Option<Received> {
        loop {
            let delivery = if self.send_acks() {
                tokio::select! {
                    delivery = self.rx.recv() => delivery?,
                    () = tokio::time::sleep(ACK_RETRY) => continue,
                }
            } else {
                self.rx.recv().await?
            };
            if let Some(item) = self.take(delivery) {
                return Some(item);
            }
        }
    }

    /// The next item if one is ready, without waiting.
    pub fn try_recv(&mut self) -> Option<Received> {
        self.send_acks();
        loop {
            let delivery = self.rx.try_recv().ok()?;
            if let Some(item) = self.take(delivery) {
                return Some(item);
            }
        }
    }

    /// Queues a delivery's acknowledgement (after any still pending, in
    /// order), returns its item.
    fn take(&mut self, delivery: Delivery) -> Option<Received> {
        if let Some(ack) = delivery.ack {
            self.pending_acks.push_back(ack);
            self.send_acks();
        }
        delivery.item
    }

    /// Hands pending acknowledgements to rumqttc without waiting; returns
    /// whether some are left (its request channel is full).
    ///
    /// Those of an earlier connection are dropped: the broker redelivers
    /// their messages on the new one (persistent session), where the
    /// redelivery is suppressed as a duplicate and acknowledged then.
    fn send_acks(&mut self) -> bool {
        let epoch = self.shared.epoch.load(Ordering::SeqCst);
        while let Some(ack) = self.pending_acks.front().copied() {
            if ack.epoch == epoch && self.client.try_ack(&ack_for(ack.pkid)).is_err() {
                if self.task.as_ref().is_none_or(JoinHandle::is_finished) {
                    // Nobody will send them: the broker redelivers.
                    self.pending_acks.clear();
                    return false;
                }
                return true;
            }
            self.pending_acks.pop_front();
        }
        false
    }

    /// The connection state, for readiness checks.
    pub fn state(&self) -> watch::Receiver<ConnectionState> {
        self.state.clone()
    }

    /// Waits for the connection: `Ok` once connected, an error as soon as
    /// an attempt is refused ([`WaitError::Refused`]), or when `timeout`
    /// passes; the client goes on retrying either way. See
    /// [`Publisher::wait_connected`](super::Publisher::wait_connected).
    pub async fn wait_connected(&self, timeout: Duration) -> Result<(), WaitError> {
        super::wait::wait_connected(self.state(), self.stats(), timeout).await
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// The latest alias table `device` announced, if it is known.
    pub fn aliases(&self, device: &str) -> Option<Arc<AliasTable>> {
        lock(&self.shared.aliases).get_mut(device).cloned()
    }

    /// Every alias table known, by device (at most `max_alias_tables`):
    /// e.g. to keep them for another consumer. After a restart a
    /// persistent session's backlog arrives before the retained births; a
    /// short-lived consumer with a clean session gets the births first.
    pub fn alias_tables(&self) -> Vec<(Arc<str>, Arc<AliasTable>)> {
        lock(&self.shared.aliases)
            .iter()
            .map(|(device, table)| (device.clone(), table.clone()))
            .collect()
    }

    /// Disconnects cleanly (the broker keeps the persistent session and
    /// queues frames until this client id connects again) and stops the
    /// task, waiting at most `grace`.
    pub async fn close(mut self, grace: Duration) {
        self.shared
            .closing
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let deadline = tokio::time::Instant::now() + grace;
        if self.state.borrow().is_connected() {
            // Acknowledgements first (the DISCONNECT follows them through
            // rumqttc's channel), so the next session does not get the
            // frames this one already handed to the application.
            while self.send_acks() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(ACK_RETRY).await;
            }
            let _ = tokio::time::timeout_at(deadline, self.client.disconnect()).await;
        } else {
            self.shared.shutdown.trigger();
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                self.shared.shutdown.trigger();
                let _ = task.await;
            }
        }
    }
}

/// What rumqttc needs to acknowledge QoS 1 packet `pkid`.
fn ack_for(pkid: u16) -> Publish {
    let mut ack = Publish::new("", QoS::AtLeastOnce, Bytes::new());
    ack.pkid = pkid;
    ack
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Telemetry filters (shared if a group is set), then birth filters.
fn subscriptions(config: &ConsumerConfig) -> Result<Vec<SubscribeFilter>, ConfigError> {
    let scheme = &config.mqtt.topics;
    let qos = config.qos.to_rumqttc();
    let devices: Vec<Option<&str>> = if config.devices.is_empty() {
        vec![None]
    } else {
        config.devices.iter().map(|d| Some(d.as_str())).collect()
    };
    let mut filters = Vec::new();
    for d in &devices {
        let f = scheme.filter(TopicKind::Telemetry, *d)?;
        let f = match &config.share_group {
            Some(g) => shared_filter(g, &f)?,
            None => f,
        };
        filters.push(SubscribeFilter::new(f, qos));
    }
    for d in &devices {
        filters.push(SubscribeFilter::new(
            scheme.filter(TopicKind::Birth, *d)?,
            qos,
        ));
    }
    Ok(filters)
}

/// What the connection task hands to `recv`: an item, and with
/// `AckMode::OnRecv` the packet to acknowledge once `recv` takes it.
/// Skipped messages travel as acknowledgements alone, so that PUBACKs
/// leave in the order the PUBLISHes arrived (MQTT 3.1.1, 4.6).
struct Delivery {
    item: Option<Received>,
    ack: Option<Ack>,
}

/// A QoS 1 packet id to acknowledge, and the connection it arrived on.
#[derive(Debug, Clone, Copy)]
struct Ack {
    epoch: u64,
    pkid: u16,
}

/// How often `recv` retries acknowledgements that did not fit rumqttc's
/// request channel.
const ACK_RETRY: Duration = Duration::from_millis(1);
