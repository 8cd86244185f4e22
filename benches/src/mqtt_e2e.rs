//! End-to-end MQTT pipelines of the transport benchmark
//! (`benches/mqtt.rs`) and its setup test (`tests/mqtt_setup.rs`):
//! publisher -> Mosquitto -> consumer, through iot-core's transport
//! ("ours") or through bare rumqttc with the same payload bytes ("bare").
//!
//! * **Ours**: [`iot_core::mqtt::Publisher`] encodes the reference frame
//!   (`fixtures::reference`, aliased, sequence numbers from [`SEQ_BASE`])
//!   into its store-and-forward queue; [`iot_core::mqtt::Consumer`]
//!   validates it, deduplicates it and hands it to the application loop,
//!   which decodes it again through `ReceivedFrame::view` and folds every
//!   field of every reading into a checksum ([`touch`]), compared with the
//!   reference's: a frame that does not decode to the reference readings
//!   is counted as corrupt.
//! * **Bare**: one rumqttc `AsyncClient` publishes the very bytes ours
//!   would send (encoded before the clock starts) with `publish_bytes`; a
//!   second client subscribes and counts the messages and their bytes. Both
//!   use the settings iot-core gives rumqttc: the same `inflight`, request
//!   channel capacity `inflight + 8`, 256 KiB packet limit, 30 s
//!   keep-alive, persistent session; `TCP_NODELAY` only with
//!   `bare_tcp_nodelay` (iot-core sets it by default).
//! * **Mixed** ([`Path::OURS_TO_BARE`], [`Path::BARE_TO_OURS`]): one half
//!   ours, the other bare, to split a difference between publisher and
//!   consumer. The bare publisher sends the same frames (sequence numbers
//!   counting up, so iot-core's consumer does not suppress them as
//!   duplicates).
//!
//! **TLS** ([`Setup::tls_ca`]): ours' publisher and consumer connect with
//! `Transport::Tls` to the broker's TLS listener and verify its
//! certificate against the given CA (server authentication only); the
//! rest of the pipeline is unchanged. Bare rumqttc is not run over TLS.
//! [`connect_time`] and [`Reconnecting`] time a publisher's connection
//! set-up, plain or TLS.
//!
//! [`throughput`] sends a fixed number of messages as fast as the path
//! accepts them and measures messages received / time from the first
//! publish to the last receipt. The producer is flow-controlled: ours
//! by awaiting `Publisher::send` on a 10,000-frame queue (it waits while
//! the queue is full, so nothing is dropped or refused), bare by
//! awaiting `publish_bytes` (which waits while rumqttc's request channel
//! is full).
//!
//! [`latency`] publishes at a fixed rate (in 1 ms ticks) and measures, per
//! message, the time from the publish call to the receipt by the
//! application (ours: after `Consumer::recv`, decode and touch; bare: when
//! the subscriber's event loop yields the publish). The send time travels
//! in the frame itself: microseconds since a process-wide [`epoch`], as
//! the 4 bytes of the reference frame's `fault_code` reading (so the
//! payload keeps its size); bare patches the same 4 bytes of a copy of
//! the encoded frame.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use iot_core::codec::{Channel, Encoder, FrameHeader, Reading, Value};
use iot_core::mqtt::{
    AckMode, AliasEntry, BackoffConfig, ConnectionState, Consumer, ConsumerConfig, MqttConfig,
    OverflowPolicy, Publisher, PublisherConfig, Qos, QueueConfig, ReadCoalescing, ReceivedFrame,
    StatsSnapshot, TlsConfig, TopicKind, TopicScheme, Transport,
};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, NetworkOptions, Packet};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::fixtures::{self, ChannelMode, DEVICE_ID, TIMESTAMP_MS};
use crate::mqtt_broker::cpu_time;
use crate::threads::{ThreadUse, ThreadsMark};
use crate::touch;

/// First sequence number of a run: every sequence number from here to
/// 2^28 is a 4-byte varint, so every frame of a run has the same size.
pub const SEQ_BASE: u64 = 1 << 21;

/// The alias of the reading whose 4 bytes carry the send time in
/// latency runs (`fault_code`).
const STAMP_ALIAS: u32 = 9;

/// How long a consumer waits for the next message before it reports the
/// missing ones as lost.
const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Which code publishes or consumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// iot-core's `Publisher` or `Consumer`.
    Ours,
    /// rumqttc alone.
    Bare,
}

/// A publisher side and a consumer side.
///
/// The target comparison is [`Path::OURS`] against [`Path::BARE`]; the
/// mixed paths split a difference between the publishing and the
/// consuming half.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path {
    /// Who publishes.
    pub publisher: Side,
    /// Who consumes.
    pub consumer: Side,
}

impl Path {
    /// iot-core's `Publisher` -> Mosquitto -> iot-core's `Consumer`.
    pub const OURS: Path = Path {
        publisher: Side::Ours,
        consumer: Side::Ours,
    };
    /// rumqttc -> Mosquitto -> rumqttc, same payload bytes.
    pub const BARE: Path = Path {
        publisher: Side::Bare,
        consumer: Side::Bare,
    };
    /// iot-core's `Publisher` -> Mosquitto -> bare rumqttc subscriber.
    pub const OURS_TO_BARE: Path = Path {
        publisher: Side::Ours,
        consumer: Side::Bare,
    };
    /// Bare rumqttc publisher -> Mosquitto -> iot-core's `Consumer`.
    pub const BARE_TO_OURS: Path = Path {
        publisher: Side::Bare,
        consumer: Side::Ours,
    };

    /// Name for tables.
    pub fn name(self) -> &'static str {
        match (self.publisher, self.consumer) {
            (Side::Ours, Side::Ours) => "iot-core",
            (Side::Bare, Side::Bare) => "bare rumqttc",
            (Side::Ours, Side::Bare) => "iot-core pub -> bare sub",
            (Side::Bare, Side::Ours) => "bare pub -> iot-core sub",
        }
    }
}

/// Name of a QoS for tables.
pub fn qos_name(qos: Qos) -> &'static str {
    match qos {
        Qos::AtMostOnce => "QoS 0",
        Qos::AtLeastOnce => "QoS 1",
    }
}

/// Where and how a pipeline runs.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Broker port on 127.0.0.1.
    pub port: u16,
    /// QoS of publishes and subscription.
    pub qos: Qos,
    /// QoS 1 publishes in flight (iot-core's `max_inflight`, rumqttc's
    /// `inflight`); the request channel holds `inflight + 8`.
    pub inflight: u16,
    /// Frames in ours' store-and-forward queue; `Publisher::send` waits
    /// while it is full.
    pub queue_frames: usize,
    /// The broker's process, to measure its CPU time during the run.
    pub broker_pid: Option<u32>,
    /// Bare only: set `TCP_NODELAY` on the bare clients' sockets, as
    /// iot-core's clients do by default (`MqttConfig::tcp_nodelay`);
    /// rumqttc's own default is off.
    pub bare_tcp_nodelay: bool,
    /// Ours only: `MqttConfig::tcp_nodelay` of both clients (default:
    /// iot-core's default).
    pub ours_tcp_nodelay: bool,
    /// Ours only: when the consumer acknowledges QoS 1 messages
    /// (iot-core's default: on receipt, as rumqttc does).
    pub ack: AckMode,
    /// Ours only: the consumer's read coalescing (iot-core's default).
    pub coalesce: ReadCoalescing,
    /// Ours only: connect with `Transport::Tls` to `port` (a TLS
    /// listener) and trust this CA certificate (PEM); `None`: plain TCP.
    pub tls_ca: Option<PathBuf>,
}

impl Setup {
    /// iot-core's defaults (`max_inflight` 100, 10,000-frame queue).
    pub fn new(port: u16, qos: Qos) -> Self {
        Self {
            port,
            qos,
            inflight: MqttConfig::default().max_inflight,
            queue_frames: QueueConfig::default().max_frames,
            broker_pid: None,
            bare_tcp_nodelay: false,
            ours_tcp_nodelay: MqttConfig::default().tcp_nodelay,
            ack: AckMode::OnReceipt,
            coalesce: ReadCoalescing::default(),
            tls_ca: None,
        }
    }

    /// iot-core's client configuration of this setup: the broker at
    /// `127.0.0.1:port`, plain or TLS.
    pub fn ours_mqtt(&self, client_id: String) -> MqttConfig {
        let config = MqttConfig::new("127.0.0.1", self.port)
            .max_inflight(self.inflight)
            .tcp_nodelay(self.ours_tcp_nodelay)
            .client_id(client_id);
        match &self.tls_ca {
            Some(ca) => config
                .transport(Transport::Tls)
                .tls(TlsConfig::default().ca_file(ca)),
            None => config,
        }
    }

    fn assert_plain(&self) {
        assert!(
            self.tls_ca.is_none(),
            "bare rumqttc is not run over TLS; only iot-core's path is"
        );
    }
}

/// The process-wide clock origin of latency stamps.
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Microseconds since [`epoch`], wrapping after 71 minutes (differences
/// are taken with wrapping arithmetic).
pub fn now_us() -> u32 {
    epoch().elapsed().as_micros() as u32
}

fn unique_tag() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "b{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The reference frame as the pipelines send it.
#[derive(Debug, Clone)]
pub struct Reference {
    /// The readings, aliased.
    pub readings: Vec<Reading<'static>>,
    /// The alias table announced in the birth message.
    pub birth: Vec<AliasEntry>,
    /// Checksum of the readings ([`touch::reading`] folded from
    /// [`touch::SEED`]).
    pub readings_touch: u64,
    /// Index of the reading that carries latency stamps.
    pub stamp_index: usize,
}

impl Reference {
    /// The reference fixture.
    pub fn new() -> Self {
        let fixture = fixtures::reference();
        let readings = fixture.readings(ChannelMode::Aliased);
        let birth = fixture
            .samples
            .iter()
            .map(|s| AliasEntry::new(s.alias, s.name))
            .collect();
        let stamp_index = readings
            .iter()
            .position(|r| {
                r.channel == Channel::Alias(STAMP_ALIAS)
                    && matches!(r.value, Value::Bytes(b) if b.len() == 4)
            })
            .expect("the reference frame has a 4-byte reading with alias 9");
        let readings_touch = readings.iter().fold(touch::SEED, touch::reading);
        Self {
            readings,
            birth,
            readings_touch,
            stamp_index,
        }
    }

    /// The header of the `i`-th frame of a run.
    pub fn header(i: u64) -> FrameHeader<'static> {
        // The publisher stamps its start time (ms) as the session epoch:
        // the bare client sends a frame of the same size.
        FrameHeader::new(DEVICE_ID, SEQ_BASE + i, TIMESTAMP_MS).with_epoch(TIMESTAMP_MS)
    }

    /// The `i`-th frame as iot-core's publisher encodes it.
    pub fn encoded(&self, i: u64) -> Bytes {
        let mut out = Vec::new();
        Encoder::new()
            .frame_to_vec(&Self::header(i), &self.readings, &mut out)
            .expect("the reference frame encodes");
        Bytes::from(out)
    }

    /// Frames `0..n` as iot-core's publisher encodes them, in one buffer
    /// (one `Bytes` view per frame).
    pub fn encoded_run(&self, n: u64) -> Vec<Bytes> {
        let len = self.encoded(0).len();
        let mut buf = BytesMut::with_capacity(len * n as usize);
        (0..n)
            .map(|i| {
                Encoder::new()
                    .frame_to_buf(&Self::header(i), &self.readings, &mut buf)
                    .expect("the reference frame encodes");
                buf.split().freeze()
            })
            .collect()
    }

    /// The readings with `stamp` in the stamp reading.
    pub fn stamped<'a>(&self, stamp: &'a [u8; 4]) -> Vec<Reading<'a>> {
        let mut r = self.readings.clone();
        r[self.stamp_index].value = Value::Bytes(stamp);
        r
    }
}

impl Default for Reference {
    fn default() -> Self {
        Self::new()
    }
}

/// CPU time of this process and of the broker, to measure a window.
#[derive(Debug, Clone, Copy)]
struct CpuMark {
    own: Option<Duration>,
    broker: Option<Duration>,
}

impl CpuMark {
    fn now(broker: Option<u32>) -> Self {
        Self {
            own: cpu_time(std::process::id()),
            broker: broker.and_then(cpu_time),
        }
    }

    /// CPU used since `self`, as a fraction of one core over `wall`.
    fn since(self, later: CpuMark, wall: Duration) -> (Option<f64>, Option<f64>) {
        let share = |a: Option<Duration>, b: Option<Duration>| {
            Some(b?.saturating_sub(a?).as_secs_f64() / wall.as_secs_f64().max(1e-9))
        };
        (share(self.own, later.own), share(self.broker, later.broker))
    }
}

/// Outcome of a [`throughput`] run.
#[derive(Debug, Clone)]
pub struct Throughput {
    /// Which path.
    pub path: Path,
    /// Which QoS.
    pub qos: Qos,
    /// Messages published.
    pub sent: u64,
    /// Messages the consumer received (ours: delivered by `recv`, after
    /// deduplication).
    pub received: u64,
    /// Ours: frames that did not decode to the reference readings, plus
    /// error items. Bare: 1 if the received payload bytes do not add up.
    pub corrupt: u64,
    /// First publish to last receipt.
    pub elapsed: Duration,
    /// First publish to the last publish accepted by the path.
    pub publish_elapsed: Duration,
    /// Ours: the publisher's counters after the run.
    pub publisher: Option<StatsSnapshot>,
    /// Ours: the consumer's counters after the run.
    pub consumer: Option<StatsSnapshot>,
    /// CPU of this process (all threads) during the run, in cores.
    pub client_cpu: Option<f64>,
    /// CPU of the broker during the run, in cores.
    pub broker_cpu: Option<f64>,
    /// Client threads over the run: CPU and context switches.
    pub client_threads: Vec<ThreadUse>,
    /// The broker's threads over the run.
    pub broker_threads: Vec<ThreadUse>,
    /// Payload size.
    pub payload_len: usize,
}

impl Throughput {
    /// Messages received per second.
    pub fn rate(&self) -> f64 {
        self.received as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Messages published but not received.
    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.received)
    }

    /// CPU time of this process (publisher and consumer together) per
    /// message received, microseconds: less sensitive to other load on
    /// the machine than the rate.
    pub fn client_us_per_msg(&self) -> Option<f64> {
        self.per_msg(self.client_cpu)
    }

    /// CPU time of the broker per message received, microseconds.
    pub fn broker_us_per_msg(&self) -> Option<f64> {
        self.per_msg(self.broker_cpu)
    }

    fn per_msg(&self, cores: Option<f64>) -> Option<f64> {
        let cpu = cores? * self.elapsed.as_secs_f64();
        (self.received > 0).then(|| cpu * 1e6 / self.received as f64)
    }
}

/// Outcome of a [`latency`] run.
#[derive(Debug, Clone)]
pub struct Latency {
    /// Which path.
    pub path: Path,
    /// Which QoS.
    pub qos: Qos,
    /// Messages published.
    pub sent: u64,
    /// End-to-end latencies in microseconds, sorted.
    pub samples_us: Vec<u32>,
    /// Ours: frames without a readable stamp, and error items.
    pub corrupt: u64,
    /// Publish rate achieved (messages / time from first to last publish).
    pub achieved_rate: f64,
}

impl Latency {
    /// Messages received.
    pub fn received(&self) -> u64 {
        self.samples_us.len() as u64
    }

    /// Messages published but not received.
    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.received())
    }

    /// The `p`-th percentile (nearest rank), microseconds.
    pub fn percentile(&self, p: f64) -> u32 {
        percentile(&self.samples_us, p)
    }
}

/// The `p`-th percentile (0..=100, nearest rank) of sorted samples; 0 if
/// there are none.
pub fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Waits up to 10 s until a publisher's or consumer's `state` satisfies
/// `done`.
async fn wait_state(
    mut state: watch::Receiver<ConnectionState>,
    what: &str,
    done: impl FnMut(&ConnectionState) -> bool,
) {
    tokio::time::timeout(Duration::from_secs(10), state.wait_for(done))
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .expect("connection state");
}

fn close_timeout() -> Duration {
    Duration::from_secs(2)
}

fn to_rumqttc(qos: Qos) -> rumqttc::QoS {
    match qos {
        Qos::AtMostOnce => rumqttc::QoS::AtMostOnce,
        Qos::AtLeastOnce => rumqttc::QoS::AtLeastOnce,
    }
}

/// rumqttc options as iot-core's `MqttConfig::to_options` builds them.
fn bare_client(client_id: String, setup: &Setup) -> (AsyncClient, EventLoop) {
    setup.assert_plain();
    let defaults = MqttConfig::default();
    let mut o = MqttOptions::new(client_id, "127.0.0.1", setup.port);
    o.set_keep_alive(defaults.keep_alive)
        .set_max_packet_size(defaults.max_packet_size, defaults.max_packet_size)
        .set_inflight(setup.inflight)
        .set_request_channel_capacity(usize::from(setup.inflight) + 8)
        .set_clean_session(false);
    let mut n = NetworkOptions::new();
    n.set_connection_timeout(defaults.connect_timeout.as_secs());
    n.set_tcp_nodelay(setup.bare_tcp_nodelay);
    let cap = o.request_channel_capacity();
    let (client, mut eventloop) = AsyncClient::new(o, cap);
    eventloop.set_network_options(n);
    (client, eventloop)
}

async fn poll_until(eventloop: &mut EventLoop, what: &str, mut done: impl FnMut(&Event) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, eventloop.poll()).await {
            Ok(Ok(event)) if done(&event) => return,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("bare rumqttc error waiting for {what}: {e}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

/// What the application loop of ours does with a frame: decode it
/// (`view`), fold the header and every reading (returns the readings'
/// checksum) and read the latency stamp.
fn touch_frame(frame: &ReceivedFrame, stamp_index: usize) -> (u64, Option<u32>) {
    let view = frame.view();
    black_box(touch::header(
        view.device_id(),
        view.seq(),
        view.timestamp_ms(),
    ));
    let mut acc = touch::SEED;
    let mut stamp = None;
    for (i, r) in view.readings().enumerate() {
        acc = touch::reading(acc, &r);
        if i == stamp_index {
            if let Value::Bytes(b) = r.value {
                stamp = <[u8; 4]>::try_from(b).ok().map(u32::from_le_bytes);
            }
        }
    }
    (acc, stamp)
}

/// The receiving half, subscribed.
enum Receiver {
    Ours(Consumer),
    Bare {
        client: AsyncClient,
        eventloop: Box<EventLoop>,
    },
}

/// One message as the receiving application saw it.
enum Got {
    Frame {
        /// Ours: the readings' checksum.
        readings_touch: Option<u64>,
        /// The latency stamp.
        stamp: Option<u32>,
        /// Payload length.
        len: usize,
    },
    /// Ours: an error item.
    Error,
    /// Nothing within [`IDLE_TIMEOUT`], or the connection ended.
    End,
}

impl Receiver {
    async fn start(side: Side, setup: &Setup, scheme: &TopicScheme, tag: &str) -> Self {
        match side {
            Side::Ours => {
                let consumer = Consumer::start(
                    ConsumerConfig::new(
                        setup.ours_mqtt(format!("{tag}-sub")).topics(scheme.clone()),
                    )
                    .qos(setup.qos)
                    .ack(setup.ack)
                    .coalesce(setup.coalesce)
                    .devices([DEVICE_ID]),
                )
                .expect("consumer config");
                wait_until("the consumer's subscription", || {
                    consumer.stats().snapshot().subscribed >= 1
                })
                .await;
                Receiver::Ours(consumer)
            }
            Side::Bare => {
                let topic = scheme
                    .topic(DEVICE_ID, TopicKind::Telemetry)
                    .expect("topic");
                let (client, mut eventloop) = bare_client(format!("{tag}-sub"), setup);
                client
                    .subscribe(topic, to_rumqttc(setup.qos))
                    .await
                    .expect("queue subscribe");
                poll_until(&mut eventloop, "SUBACK", |e| {
                    matches!(e, Event::Incoming(Packet::SubAck(_)))
                })
                .await;
                Receiver::Bare {
                    client,
                    eventloop: Box::new(eventloop),
                }
            }
        }
    }

    /// The next message. Bare: the stamp is the payload's last 4 bytes,
    /// where the reference frame has its `fault_code` reading.
    async fn next(&mut self, stamp_index: usize) -> Got {
        match self {
            Receiver::Ours(consumer) => {
                match tokio::time::timeout(IDLE_TIMEOUT, consumer.recv()).await {
                    Ok(Some(Ok(frame))) => {
                        let (acc, stamp) = touch_frame(&frame, stamp_index);
                        Got::Frame {
                            readings_touch: Some(acc),
                            stamp,
                            len: frame.payload().len(),
                        }
                    }
                    Ok(Some(Err(e))) => {
                        eprintln!("consumer error item: {e}");
                        Got::Error
                    }
                    Ok(None) | Err(_) => Got::End,
                }
            }
            Receiver::Bare { eventloop, .. } => loop {
                match tokio::time::timeout(IDLE_TIMEOUT, eventloop.poll()).await {
                    Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                        let stamp = p
                            .payload
                            .len()
                            .checked_sub(4)
                            .and_then(|at| <[u8; 4]>::try_from(&p.payload[at..]).ok())
                            .map(u32::from_le_bytes);
                        return Got::Frame {
                            readings_touch: None,
                            stamp,
                            len: p.payload.len(),
                        };
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        eprintln!("bare subscriber: {e}");
                        return Got::End;
                    }
                    Err(_) => return Got::End,
                }
            },
        }
    }

    fn stats(&self) -> Option<StatsSnapshot> {
        match self {
            Receiver::Ours(c) => Some(c.stats().snapshot()),
            Receiver::Bare { .. } => None,
        }
    }

    async fn close(self) {
        match self {
            Receiver::Ours(c) => c.close(close_timeout()).await,
            Receiver::Bare { client, eventloop } => {
                // Its event loop is no longer polled: the DISCONNECT request
                // is never written; dropping the loop closes the socket.
                let _ = client.try_disconnect();
                drop(eventloop);
            }
        }
    }
}

/// The publishing half, connected; cheap to clone into a producer task.
#[derive(Clone)]
enum Sender {
    Ours(Publisher),
    Bare {
        client: AsyncClient,
        topic: String,
        qos: rumqttc::QoS,
    },
}

impl Sender {
    /// Starts the publisher and waits until it is connected. Bare: the
    /// returned task polls its event loop until the connection ends.
    async fn start(
        side: Side,
        setup: &Setup,
        scheme: &TopicScheme,
        tag: &str,
        reference: &Reference,
    ) -> (Self, Option<JoinHandle<()>>) {
        match side {
            Side::Ours => {
                let publisher = Publisher::start(
                    PublisherConfig::new(
                        setup.ours_mqtt(format!("{tag}-pub")).topics(scheme.clone()),
                        DEVICE_ID,
                    )
                    .qos(setup.qos)
                    .queue(QueueConfig {
                        max_frames: setup.queue_frames,
                        max_bytes: 64 << 20,
                        policy: OverflowPolicy::RejectNew,
                    })
                    .birth(reference.birth.clone()),
                )
                .expect("publisher config");
                wait_state(publisher.state(), "the publisher's connection", |s| {
                    s.is_connected()
                })
                .await;
                (Sender::Ours(publisher), None)
            }
            Side::Bare => {
                let topic = scheme
                    .topic(DEVICE_ID, TopicKind::Telemetry)
                    .expect("topic");
                let (client, mut eventloop) = bare_client(format!("{tag}-pub"), setup);
                poll_until(&mut eventloop, "CONNACK", |e| {
                    matches!(e, Event::Incoming(Packet::ConnAck(_)))
                })
                .await;
                // Runs until the connection ends (after `close` sends
                // DISCONNECT, the broker closes it).
                let task = tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
                let sender = Sender::Bare {
                    client,
                    topic,
                    qos: to_rumqttc(setup.qos),
                };
                (sender, Some(task))
            }
        }
    }

    /// Publishes frame `i` (ours: encodes `readings`; bare: sends
    /// `payload`, the same bytes), waiting for room (ours: in its queue;
    /// bare: in rumqttc's request channel).
    async fn send(&self, i: u64, readings: &[Reading<'_>], payload: Bytes) {
        match self {
            Sender::Ours(publisher) => publisher
                .send(&Reference::header(i), readings)
                .await
                .expect("send"),
            Sender::Bare { client, topic, qos } => client
                .publish_bytes(topic, *qos, false, payload)
                .await
                .expect("publish_bytes"),
        }
    }

    fn stats(&self) -> Option<StatsSnapshot> {
        match self {
            Sender::Ours(p) => Some(p.stats().snapshot()),
            Sender::Bare { .. } => None,
        }
    }

    async fn close(self, task: Option<JoinHandle<()>>) {
        match self {
            Sender::Ours(p) => {
                p.close(close_timeout()).await;
            }
            Sender::Bare { client, .. } => {
                let _ = tokio::time::timeout(close_timeout(), client.disconnect()).await;
            }
        }
        if let Some(mut task) = task {
            if tokio::time::timeout(Duration::from_millis(500), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

/// Receiver subscribed, sender connected; for ours -> ours also the
/// birth message received (so the whole path works before the clock
/// starts).
async fn pipeline(
    path: Path,
    setup: &Setup,
    reference: &Reference,
) -> (Receiver, Sender, Option<JoinHandle<()>>) {
    let tag = unique_tag();
    let scheme = TopicScheme::new(format!("bench/{tag}"));
    let receiver = Receiver::start(path.consumer, setup, &scheme, &tag).await;
    let (sender, task) = Sender::start(path.publisher, setup, &scheme, &tag, reference).await;
    if let Receiver::Ours(consumer) = &receiver {
        if path.publisher == Side::Ours {
            wait_until("the birth message at the consumer", || {
                consumer.stats().snapshot().births >= 1
            })
            .await;
        }
    }
    (receiver, sender, task)
}

/// Sends `messages` reference frames through `path` as fast as it
/// accepts them and receives them at the other end (see the module
/// documentation). Needs a Tokio runtime with the I/O and time drivers.
///
/// The run is spawned as a task, so the receiving loop runs on a runtime
/// worker as an application task would (under `block_on` it would run on
/// the calling thread, and every hand-over from iot-core's consumer task
/// would cross threads).
pub async fn throughput(path: Path, setup: &Setup, messages: u64) -> Throughput {
    let setup = setup.clone();
    tokio::spawn(async move { throughput_task(path, &setup, messages).await })
        .await
        .expect("throughput task")
}

async fn throughput_task(path: Path, setup: &Setup, messages: u64) -> Throughput {
    let reference = Reference::new();
    // Bare publishes the exact bytes ours sends, encoded before the clock
    // starts.
    let payloads = match path.publisher {
        Side::Ours => Vec::new(),
        Side::Bare => reference.encoded_run(messages),
    };
    let payload_len = reference.encoded(0).len();
    let expected_bytes = payload_len as u64 * messages;
    let expected_touch = reference.readings_touch;
    let (mut receiver, sender, task) = pipeline(path, setup, &reference).await;

    let threads0 = (
        ThreadsMark::now(std::process::id()),
        setup.broker_pid.map(ThreadsMark::now).unwrap_or_default(),
    );
    let cpu0 = CpuMark::now(setup.broker_pid);
    let start = Instant::now();
    let producer = {
        let sender = sender.clone();
        let readings = reference.readings.clone();
        tokio::spawn(async move {
            let mut payloads = payloads.into_iter();
            for i in 0..messages {
                let payload = payloads.next().unwrap_or_default();
                sender.send(i, &readings, payload).await;
            }
            start.elapsed()
        })
    };
    let (mut received, mut corrupt, mut bytes) = (0u64, 0u64, 0u64);
    let mut last = start;
    while received < messages {
        match receiver.next(usize::MAX).await {
            Got::Frame {
                readings_touch,
                len,
                ..
            } => {
                if readings_touch.is_some_and(|t| t != expected_touch) {
                    corrupt += 1;
                }
                bytes += len as u64;
                received += 1;
                last = Instant::now();
            }
            Got::Error => corrupt += 1,
            Got::End => break,
        }
    }
    let cpu1 = CpuMark::now(setup.broker_pid);
    let threads1 = (
        ThreadsMark::now(std::process::id()),
        setup.broker_pid.map(ThreadsMark::now).unwrap_or_default(),
    );
    let elapsed = last - start;
    let threads_wall = start.elapsed();
    let client_threads = threads0.0.since(&threads1.0, threads_wall);
    let broker_threads = threads0.1.since(&threads1.1, threads_wall);
    let (client_cpu, broker_cpu) = cpu0.since(cpu1, elapsed);
    if received == messages && bytes != expected_bytes {
        corrupt += 1;
    }
    let publish_elapsed = producer.await.expect("producer task");
    let (publisher, consumer) = (sender.stats(), receiver.stats());
    sender.close(task).await;
    receiver.close().await;
    Throughput {
        path,
        qos: setup.qos,
        sent: messages,
        received,
        corrupt,
        elapsed,
        publish_elapsed,
        publisher,
        consumer,
        client_cpu,
        broker_cpu,
        client_threads,
        broker_threads,
        payload_len,
    }
}

/// Calls `send(i)` for `total` messages at `rate` per second, in 1 ms
/// ticks; returns the time from the first to the last call.
async fn paced<F, Fut>(rate: u64, total: u64, mut send: F) -> Duration
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let start = Instant::now();
    let mut sent = 0;
    while sent < total {
        tick.tick().await;
        let due = ((start.elapsed().as_secs_f64() * rate as f64) as u64 + 1).min(total);
        while sent < due {
            send(sent).await;
            sent += 1;
        }
    }
    start.elapsed()
}

/// Publishes `rate` messages per second for `duration` through `path`
/// and measures each one's end-to-end latency (see the module
/// documentation). Spawned as a task, like [`throughput`].
pub async fn latency(path: Path, setup: &Setup, rate: u64, duration: Duration) -> Latency {
    let setup = setup.clone();
    tokio::spawn(async move { latency_task(path, &setup, rate, duration).await })
        .await
        .expect("latency task")
}

async fn latency_task(path: Path, setup: &Setup, rate: u64, duration: Duration) -> Latency {
    let total = (rate as f64 * duration.as_secs_f64()).round() as u64;
    epoch();
    let reference = Reference::new();
    let template = reference.encoded(0);
    // Bare: the frames ours would send (sequence numbers count up, so a
    // deduplicating consumer delivers them), stamped at send time.
    let frames = match path.publisher {
        Side::Ours => Vec::new(),
        Side::Bare => reference.encoded_run(total),
    };
    let len = template.len();
    assert!(
        matches!(reference.readings[reference.stamp_index].value,
            Value::Bytes(b) if reference.stamp_index + 1 == reference.readings.len() && template.ends_with(b)),
        "the stamp reading is the frame's last 4 bytes"
    );
    let stamp_index = reference.stamp_index;
    let (mut receiver, sender, task) = pipeline(path, setup, &reference).await;
    let producer = {
        let sender = sender.clone();
        tokio::spawn(async move {
            paced(rate, total, |i| {
                let (sender, reference, frames) = (&sender, &reference, &frames);
                async move {
                    let stamp = now_us().to_le_bytes();
                    match sender {
                        Sender::Ours(_) => {
                            let readings = reference.stamped(&stamp);
                            sender.send(i, &readings, Bytes::new()).await;
                        }
                        Sender::Bare { .. } => {
                            let mut payload = BytesMut::from(&frames[i as usize][..]);
                            payload[len - 4..].copy_from_slice(&stamp);
                            sender.send(i, &[], payload.freeze()).await;
                        }
                    }
                }
            })
            .await
        })
    };
    let mut samples = Vec::with_capacity(total as usize);
    let mut corrupt = 0;
    while (samples.len() as u64) < total {
        match receiver.next(stamp_index).await {
            Got::Frame {
                stamp: Some(s),
                len: l,
                ..
            } if l == len => samples.push(now_us().wrapping_sub(s)),
            Got::Frame { .. } | Got::Error => corrupt += 1,
            Got::End => break,
        }
    }
    let publish_elapsed = producer.await.expect("producer task");
    sender.close(task).await;
    receiver.close().await;
    samples.sort_unstable();
    Latency {
        path,
        qos: setup.qos,
        sent: total,
        samples_us: samples,
        corrupt,
        achieved_rate: total as f64 / publish_elapsed.as_secs_f64().max(1e-9),
    }
}

/// The reconnect schedule of [`connect_time`] and [`Reconnecting`]:
/// 1 ms between attempts, so the time measured is the connection's, not
/// the backoff's (iot-core's default is full jitter from 100 ms).
fn fast_backoff() -> BackoffConfig {
    BackoffConfig::constant(Duration::from_millis(1))
}

/// A fresh publisher of `setup` (new client id, no birth message,
/// [`fast_backoff`]), not waited for.
fn start_publisher(setup: &Setup) -> Publisher {
    let tag = unique_tag();
    Publisher::start(
        PublisherConfig::new(
            setup
                .ours_mqtt(format!("{tag}-conn"))
                .backoff(fast_backoff())
                .topics(TopicScheme::new(format!("bench/{tag}"))),
            DEVICE_ID,
        )
        .qos(setup.qos),
    )
    .expect("publisher config")
}

/// Time from `Publisher::start` to `wait_connected` returning `Ok` for a
/// fresh publisher (TCP connect, TLS handshake with certificate
/// verification if `setup.tls_ca`, MQTT CONNECT/CONNACK; for TLS also
/// reading the CA file and building the rustls configuration, which
/// iot-core does at every connect). The publisher is closed afterwards.
pub async fn connect_time(setup: &Setup) -> Duration {
    let start = Instant::now();
    let publisher = start_publisher(setup);
    publisher
        .wait_connected(Duration::from_secs(10))
        .await
        .expect("publisher connects within 10 s");
    let elapsed = start.elapsed();
    publisher.close(close_timeout()).await;
    elapsed
}

/// A connected publisher whose reconnection after a broker restart is
/// timed.
pub struct Reconnecting {
    publisher: Publisher,
}

impl Reconnecting {
    /// Starts a fresh publisher (as [`connect_time`] does) and waits until
    /// it is connected.
    pub async fn connect(setup: &Setup) -> Self {
        let publisher = start_publisher(setup);
        publisher
            .wait_connected(Duration::from_secs(10))
            .await
            .expect("publisher connects within 10 s");
        Self { publisher }
    }

    /// Waits until the publisher has noticed that the broker is gone.
    pub async fn wait_disconnected(&self) {
        wait_state(self.publisher.state(), "the broker's death noticed", |s| {
            !s.is_connected()
        })
        .await;
    }

    /// A task that resolves when the publisher is connected again, with
    /// the instant it saw that.
    pub fn reconnected(&self) -> JoinHandle<Instant> {
        let state = self.publisher.state();
        tokio::spawn(async move {
            wait_state(state, "the reconnection", |s| s.is_connected()).await;
            Instant::now()
        })
    }

    /// Closes the publisher.
    pub async fn close(self) {
        self.publisher.close(close_timeout()).await;
    }
}
