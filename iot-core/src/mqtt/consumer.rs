//! The consumer: decoded, deduplicated frames from the broker.

use std::collections::VecDeque;
use std::ops::Range;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, Incoming, Outgoing, Publish, QoS, StateError,
    SubscribeFilter, SubscribeReasonCode,
};
use tokio::sync::futures::Notified;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::codec::{AliasTable, FrameLayout, FrameView, Limits, decode_birth, decode_frame};

use super::coalesce::Coalescer;
use super::config::{AckMode, ConsumerConfig};
use super::connection::{Link, Shutdown, take_stale};
use super::dedup::{Dedup, Verdict};
use super::error::{ConfigError, ReceiveError};
use super::lru::ClockMap;
use super::oversize::{OversizeSkip, Reset};
use super::state::{ConnectionState, Role, Stats};
use super::topics::{TopicKind, TopicScheme, shared_filter};
use super::wait::WaitError;

/// One item of a consumer: a frame, or a message that could not be used.
pub type Received = Result<ReceivedFrame, ReceiveError>;

/// A validated data frame as received: the MQTT payload (`Bytes`, shared
/// with rumqttc's read buffer, never copied) and what was learnt when it
/// was validated.
///
/// [`view`](Self::view) gives the codec's [`FrameView`] over the payload.
#[derive(Clone)]
pub struct ReceivedFrame {
    topic: String,
    device: Range<usize>,
    payload: Bytes,
    /// Where the readings lie, and the header's sequence number and
    /// timestamp, as validated at receipt.
    layout: FrameLayout,
    aliases: Option<Arc<AliasTable>>,
    redelivered: bool,
}

impl std::fmt::Debug for ReceivedFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceivedFrame")
            .field("topic", &self.topic)
            .field("seq", &self.seq())
            .field("timestamp_ms", &self.timestamp_ms())
            .field("len", &self.payload.len())
            .field("redelivered", &self.redelivered)
            .finish_non_exhaustive()
    }
}

impl ReceivedFrame {
    /// The topic the frame arrived on.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The sending device (from the topic, equal to the frame's).
    pub fn device_id(&self) -> &str {
        &self.topic[self.device.clone()]
    }

    /// The frame's sequence number.
    pub fn seq(&self) -> u64 {
        self.layout.seq()
    }

    /// The frame's timestamp, milliseconds since the Unix epoch.
    pub fn timestamp_ms(&self) -> u64 {
        self.layout.timestamp_ms()
    }

    /// The encoded frame: the MQTT payload itself.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// The encoded frame, e.g. to forward it without re-encoding.
    pub fn into_payload(self) -> Bytes {
        self.payload
    }

    /// Whether the broker flagged the message as a redelivery (MQTT DUP).
    /// Duplicates of frames already delivered are suppressed; this one was
    /// not delivered before.
    pub fn redelivered(&self) -> bool {
        self.redelivered
    }

    /// The device's alias table when the frame arrived (from its latest
    /// birth message), to resolve [`Channel::Alias`](crate::codec::Channel).
    pub fn aliases(&self) -> Option<&AliasTable> {
        self.aliases.as_deref()
    }

    /// The decoded frame, borrowing from the payload; iterating its
    /// readings allocates nothing.
    ///
    /// The payload was validated once, when it arrived, and is immutable:
    /// the view is rebuilt from the layout found then, without validating
    /// again.
    pub fn view(&self) -> FrameView<'_> {
        self.layout.view(&self.payload, self.device_id())
    }
}

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
        let manual_acks = config.ack == AckMode::OnRecv;
        options.set_manual_acks(manual_acks);
        // With acknowledgements from `recv`, every item the application
        // may take can put one more request in rumqttc's channel.
        let cap = options.request_channel_capacity()
            + if manual_acks {
                config.channel_capacity
            } else {
                0
            };
        let (client, mut eventloop) = AsyncClient::new(options, cap);
        eventloop.set_network_options(network);
        let stats = Arc::new(Stats::new(Role::Consumer));
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
            dedup: Dedup::new(config.dedup.window, config.dedup.max_devices),
            oversize: OversizeSkip::new(config.mqtt.max_packet_size, config.oversize_skip_limit),
            tx,
            manual_acks,
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
        super::wait::wait_connected(self.state(), timeout).await
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// The latest alias table `device` announced, if it is known.
    pub fn aliases(&self, device: &str) -> Option<Arc<AliasTable>> {
        lock(&self.shared.aliases).get_mut(device).cloned()
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

struct Worker {
    shared: Arc<Shared>,
    client: AsyncClient,
    filters: Vec<SubscribeFilter>,
    scheme: TopicScheme,
    limits: Limits,
    /// Duplicate windows, each with the device's latest alias table.
    dedup: Dedup<Option<Arc<AliasTable>>>,
    oversize: OversizeSkip,
    tx: mpsc::Sender<Delivery>,
    /// `AckMode::OnRecv`: QoS 1 messages travel with their packet ids.
    manual_acks: bool,
    /// Handling the events of a lost connection.
    stale: bool,
    /// Whether to pause before reading again.
    coalescer: Coalescer,
}

/// What one wait on rumqttc ended with.
enum Step<T> {
    /// rumqttc's poll completed.
    Polled(T),
    /// The consumer is shutting down.
    Shutdown,
    /// Nothing was ready and the coalescer asks for a pause this long.
    Pause(Duration),
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

/// Whether the task goes on.
enum Flow {
    Continue,
    Stop,
}

impl Worker {
    async fn run(mut self, mut eventloop: EventLoop, mut link: Link) {
        // One `Notified` for the task's life: creating one per event costs
        // two lock round trips on the `Notify`'s waiter list.
        let shared = self.shared.clone();
        let shutdown = shared.shutdown.notified();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            if shared.shutdown.is_triggered() {
                break;
            }
            // rumqttc first: the shutdown is looked at only while it waits.
            let polled = {
                let poll = eventloop.poll();
                let mut poll = std::pin::pin!(poll);
                let mut idle_seen = false;
                let step = std::future::poll_fn(|cx| {
                    if let Poll::Ready(polled) = poll.as_mut().poll(cx) {
                        return Poll::Ready(Step::Polled(polled));
                    }
                    if shutdown.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Step::Shutdown);
                    }
                    // Nothing ready: pause first if the broker keeps waking
                    // this task for a message or two (see `coalesce`).
                    if !idle_seen {
                        idle_seen = true;
                        if let Some(pause) = self.coalescer.on_idle(Instant::now()) {
                            return Poll::Ready(Step::Pause(pause));
                        }
                    }
                    Poll::Pending
                })
                .await;
                match step {
                    Step::Polled(polled) => polled,
                    Step::Shutdown => break,
                    Step::Pause(pause) => {
                        // rumqttc's poll stays alive and resumes where it was.
                        self.shared.stats.read_pause();
                        tokio::select! {
                            biased;
                            () = shutdown.as_mut() => break,
                            () = tokio::time::sleep(pause) => {}
                        }
                        tokio::select! {
                            biased;
                            polled = poll.as_mut() => polled,
                            () = shutdown.as_mut() => break,
                        }
                    }
                }
            };
            if let Ok(Event::Incoming(Incoming::Publish(_))) = &polled {
                self.coalescer.on_message();
            }
            let flow = match polled {
                Ok(Event::Incoming(Incoming::ConnAck(ack))) => {
                    link.on_connack(ack.session_present, &self.shared.client_id);
                    self.oversize.on_connack(&mut eventloop.mqtt_options);
                    // Always (re)subscribe: cheap, and correct even when the
                    // broker lost the session (restart without persistence).
                    if let Err(e) = self.client.try_subscribe_many(self.filters.clone()) {
                        tracing::error!(error = %e, "could not queue the subscription");
                    }
                    Flow::Continue
                }
                Ok(event) => self.on_event(event, shutdown.as_mut()).await,
                Err(error) => {
                    // Before anything else: acknowledgements of this
                    // connection's packet ids are void from now on.
                    self.shared.epoch.fetch_add(1, Ordering::SeqCst);
                    let (stale, _) = take_stale(&mut eventloop);
                    let mut flow = Flow::Continue;
                    // Stale publishes are delivered without acknowledgement:
                    // their packet ids belong to the lost connection, and the
                    // broker redelivers them to the session.
                    self.stale = true;
                    for event in stale {
                        if let Flow::Stop = self.on_event(event, shutdown.as_mut()).await {
                            flow = Flow::Stop;
                        }
                    }
                    self.stale = false;
                    if let Some(size) = packet_too_large(&error) {
                        match self.oversize.on_reset(size, &mut eventloop.mqtt_options) {
                            Reset::WillSkip => tracing::warn!(
                                size,
                                "packet over max_packet_size reset the connection; \
                                 the next connection reads it to skip it"
                            ),
                            Reset::TooLargeToSkip => tracing::error!(
                                size,
                                "packet over oversize_skip_limit reset the connection; \
                                 a QoS 1 message will be redelivered and fail again"
                            ),
                        }
                        flow = self
                            .deliver(
                                Err(ReceiveError::PacketTooLarge { size, topic: None }),
                                shutdown.as_mut(),
                            )
                            .await;
                    }
                    let delay = link.on_error(&error, &self.shared.client_id);
                    if self
                        .shared
                        .closing
                        .load(std::sync::atomic::Ordering::Relaxed)
                    {
                        flow = Flow::Stop;
                    }
                    if let Flow::Continue = flow {
                        tokio::select! {
                            biased;
                            () = shutdown.as_mut() => flow = Flow::Stop,
                            () = tokio::time::sleep(delay) => {}
                        }
                        link.prepare(&mut eventloop.mqtt_options, &self.shared.client_id);
                    }
                    flow
                }
            };
            if let Flow::Stop = flow {
                break;
            }
        }
        link.closed();
    }

    async fn on_event(&mut self, event: Event, mut shutdown: Pin<&mut Notified<'_>>) -> Flow {
        match event {
            Event::Incoming(Incoming::Publish(publish)) => {
                let acked = self.manual_acks && !self.stale && publish.qos == QoS::AtLeastOnce;
                let ack = acked.then(|| Ack {
                    epoch: self.shared.epoch.load(Ordering::SeqCst),
                    pkid: publish.pkid,
                });
                match self.on_publish(publish) {
                    Some(item) => self.hand_over(Some(item), ack, shutdown).await,
                    None if ack.is_some() => self.hand_over(None, ack, shutdown).await,
                    None => Flow::Continue,
                }
            }
            Event::Incoming(Incoming::SubAck(ack)) => {
                if !ack.return_codes.contains(&SubscribeReasonCode::Failure) {
                    Stats::add(&self.shared.stats.subscribed, 1);
                }
                for (code, filter) in ack.return_codes.iter().zip(&self.filters) {
                    if *code == SubscribeReasonCode::Failure {
                        let item = Err(ReceiveError::SubscriptionRefused {
                            filter: filter.path.clone(),
                        });
                        if let Flow::Stop = self.deliver(item, shutdown.as_mut()).await {
                            return Flow::Stop;
                        }
                    }
                }
                Flow::Continue
            }
            Event::Outgoing(Outgoing::Disconnect)
                if self
                    .shared
                    .closing
                    .load(std::sync::atomic::Ordering::Relaxed) =>
            {
                Flow::Stop
            }
            _ => Flow::Continue,
        }
    }

    /// Hands an item to `recv`, waiting for room (back-pressure) unless
    /// the consumer is shut down.
    async fn deliver(&self, item: Received, shutdown: Pin<&mut Notified<'_>>) -> Flow {
        self.hand_over(Some(item), None, shutdown).await
    }

    /// Hands an item and/or a packet id to acknowledge to `recv`.
    async fn hand_over(
        &self,
        item: Option<Received>,
        ack: Option<Ack>,
        shutdown: Pin<&mut Notified<'_>>,
    ) -> Flow {
        let stats = &self.shared.stats;
        match &item {
            Some(Ok(_)) => stats.received(),
            Some(Err(_)) => stats.decode_error(),
            None => {}
        }
        // Room in the channel is the common case: no `select!` then.
        let item = match self.tx.try_send(Delivery { item, ack }) {
            Ok(()) => return Flow::Continue,
            Err(TrySendError::Closed(_)) => return Flow::Stop,
            Err(TrySendError::Full(item)) => item,
        };
        tokio::select! {
            biased;
            () = shutdown => Flow::Stop,
            sent = self.tx.send(item) => match sent {
                Ok(()) => Flow::Continue,
                Err(_) => Flow::Stop,
            },
        }
    }

    /// Validates one message; `None` when there is nothing to deliver.
    fn on_publish(&mut self, publish: Publish) -> Option<Received> {
        if let Some(size) = self.oversize.oversized(&publish) {
            // Read on a connection with a raised limit; it is acknowledged
            // like any message (on receipt, or with its error item), and
            // the application learns its topic.
            return Some(Err(ReceiveError::PacketTooLarge {
                size,
                topic: Some(publish.topic),
            }));
        }
        let parsed = match self.scheme.parse(&publish.topic) {
            Ok(p) => p,
            Err(e) => return Some(Err(ReceiveError::Topic(e))),
        };
        match parsed.kind {
            TopicKind::Telemetry => {
                let view = match decode_frame(&publish.payload, &self.limits) {
                    Ok(v) => v,
                    Err(error) => {
                        return Some(Err(ReceiveError::Decode {
                            topic: publish.topic.clone(),
                            len: publish.payload.len(),
                            error,
                        }));
                    }
                };
                if view.device_id() != parsed.device_id {
                    return Some(Err(ReceiveError::DeviceMismatch {
                        topic: publish.topic.clone(),
                        frame_device: view.device_id().into(),
                    }));
                }
                let (seq, timestamp_ms) = (view.seq(), view.timestamp_ms());
                let layout = view.layout();
                let shared = &self.shared;
                let stats = &shared.stats;
                // One lookup gives the window and the device's alias table;
                // the shared table map is read only for a device new here.
                let (verdict, aliases) =
                    self.dedup
                        .check_with(parsed.device_id, seq, timestamp_ms, || {
                            lock(&shared.aliases).get_mut(parsed.device_id).cloned()
                        });
                match verdict {
                    Verdict::Duplicate => {
                        stats.duplicate();
                        return None;
                    }
                    Verdict::Stale => Stats::add(&stats.stale, 1),
                    Verdict::Restart => Stats::add(&stats.seq_resets, 1),
                    Verdict::Fresh => {}
                }
                // Offset of the device level in the topic (it borrows from it).
                let start = parsed.device_id.as_ptr() as usize - publish.topic.as_ptr() as usize;
                let device = start..start + parsed.device_id.len();
                let aliases = aliases.clone();
                Some(Ok(ReceivedFrame {
                    device,
                    payload: publish.payload,
                    layout,
                    aliases,
                    redelivered: publish.dup,
                    topic: publish.topic,
                }))
            }
            TopicKind::Birth => {
                // An empty retained message clears the retained birth.
                if publish.payload.is_empty() {
                    return None;
                }
                let birth = match decode_birth(&publish.payload, &self.limits) {
                    Ok(b) => b,
                    Err(error) => {
                        return Some(Err(ReceiveError::Decode {
                            topic: publish.topic.clone(),
                            len: publish.payload.len(),
                            error,
                        }));
                    }
                };
                if birth.header().device_id != parsed.device_id {
                    return Some(Err(ReceiveError::DeviceMismatch {
                        topic: publish.topic.clone(),
                        frame_device: birth.header().device_id.into(),
                    }));
                }
                match AliasTable::from_birth(&birth) {
                    Ok(table) => {
                        let table = Arc::new(table);
                        lock(&self.shared.aliases).insert(parsed.device_id, table.clone());
                        if let Some(current) = self.dedup.extra_mut(parsed.device_id) {
                            *current = Some(table);
                        }
                        Stats::add(&self.shared.stats.births, 1);
                        None
                    }
                    Err(e) => Some(Err(ReceiveError::DuplicateAlias {
                        topic: publish.topic.clone(),
                        alias: e.alias,
                    })),
                }
            }
            TopicKind::Status | TopicKind::Command => None,
        }
    }
}

/// The size of an incoming packet rumqttc refused as too large.
fn packet_too_large(error: &ConnectionError) -> Option<usize> {
    match error {
        ConnectionError::MqttState(StateError::Deserialization(
            rumqttc::Error::PayloadSizeLimitExceeded(size),
        )) => Some(*size),
        _ => None,
    }
}
