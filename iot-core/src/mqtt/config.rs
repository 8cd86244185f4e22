//! Configuration of the connection, the publisher and the consumer.
//!
//! Every struct has `Default` (or a constructor for the one required
//! value), public fields, builder methods for the common ones and a
//! `validate()` that names the offending field. With the `serde` feature
//! (on with `mqtt`) they deserialize from configuration files; durations are
//! written as `"250ms"`, `"5s"` or integer milliseconds.

use std::fmt;
use std::time::Duration;

use iot_resilience::backoff::BackoffConfig;

use crate::codec::Limits;
use crate::device::validate_device_id;

use super::error::ConfigError;
use super::topics::{TopicScheme, shared_filter};
use super::transport::{Connector, TlsConfig, Transport, parse_broker_url};

/// Delivery guarantee of MQTT publishes and subscriptions.
///
/// QoS 2 is not offered: the consumer suppresses duplicates itself, which
/// QoS 1 plus deduplication makes cheaper than QoS 2's four-packet handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Qos {
    /// QoS 0, fire and forget: nothing is acknowledged, so frames leave the
    /// publisher's queue once written to the socket and can be lost.
    AtMostOnce,
    /// QoS 1 (the default): frames stay queued until the broker's PUBACK.
    #[default]
    AtLeastOnce,
}

impl Qos {
    pub(crate) fn to_rumqttc(self) -> rumqttc::QoS {
        match self {
            Qos::AtMostOnce => rumqttc::QoS::AtMostOnce,
            Qos::AtLeastOnce => rumqttc::QoS::AtLeastOnce,
        }
    }
}

/// User name and password for the broker. `Debug` does not show the password.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The connection to the broker; shared by publisher and consumer.
///
/// Durations are strings in [the iot-rs duration format](iot_duration)
/// (`"250ms"`, `"1.5s"`, `"1m30s"`) or integer milliseconds.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct MqttConfig {
    /// Broker host name or address. Default `127.0.0.1`.
    pub host: String,
    /// Broker TCP port. Default 1883.
    pub port: u16,
    /// TCP (default), TLS, WebSockets or WebSockets over TLS; set with
    /// the host and port by [`broker_url`](Self::broker_url).
    pub transport: Transport,
    /// TLS settings, used by the `tls` and `wss` transports.
    pub tls: TlsConfig,
    /// The HTTP path of the `ws` and `wss` transports. Default `/mqtt`.
    pub ws_path: String,
    /// MQTT client id. Must be non-empty, stable across restarts and unique
    /// per broker: the persistent session is keyed by it. Publishers
    /// default to `iot-pub-<device_id>`.
    pub client_id: String,
    /// Optional user name and password.
    pub credentials: Option<Credentials>,
    /// Keep-alive interval; 0 disables pings, otherwise at least 1 s.
    /// Default 30 s.
    #[cfg_attr(feature = "serde", serde(with = "iot_duration::serde"))]
    pub keep_alive: Duration,
    /// Time allowed to connect (TCP and CONNACK) and to flush a write; whole
    /// seconds, at least 1. Default 5 s.
    #[cfg_attr(feature = "serde", serde(with = "iot_duration::serde"))]
    pub connect_timeout: Duration,
    /// Largest MQTT packet, in bytes, in both directions (rumqttc's own
    /// default is 10 KiB). A frame whose PUBLISH would be larger is
    /// rejected by `publish`; an incoming packet larger than this makes
    /// rumqttc drop the connection. Default 256 KiB.
    pub max_packet_size: usize,
    /// Most QoS 1 publishes awaiting PUBACK at once (rumqttc's `inflight`,
    /// and the publisher's hand-off window). Default 100.
    pub max_inflight: u16,
    /// Connect with `clean_session = false` so the broker keeps
    /// subscriptions and queued messages while the client is away.
    /// Default `true`; turning it off gives up the consumer's guarantees.
    pub persistent_session: bool,
    /// Disable Nagle's algorithm on the socket (`TCP_NODELAY`). Default
    /// `true` (rumqttc's own default is off): with Nagle, a QoS 0 frame
    /// written while an earlier one is unacknowledged waits for the
    /// broker's delayed ACK, up to about 40 ms on Linux. Measured at
    /// 10,000 msg/s QoS 0 through Mosquitto: p90 0.4 to 0.5 ms with this
    /// on, 13 to 27 ms off; throughput differs by less than the run-to-run
    /// spread (`docs/benchmarks.md`).
    pub tcp_nodelay: bool,
    /// Reconnect schedule. Default full jitter from 100 ms, capped at 10 s.
    /// Must not set `max_retries`: the transport never gives up.
    pub backoff: BackoffConfig,
    /// The topic scheme.
    pub topics: TopicScheme,
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 1883,
            transport: Transport::Tcp,
            tls: TlsConfig::default(),
            ws_path: "/mqtt".into(),
            client_id: String::new(),
            credentials: None,
            keep_alive: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            max_packet_size: 256 * 1024,
            max_inflight: 100,
            persistent_session: true,
            tcp_nodelay: true,
            backoff: BackoffConfig::full_jitter(
                Duration::from_millis(100),
                Duration::from_secs(10),
            ),
            topics: TopicScheme::default(),
        }
    }
}

/// MQTT's largest packet: 1 type byte, 4 length bytes, 268,435,455 bytes.
const MQTT_MAX_PACKET: usize = 1 + 4 + 268_435_455;

impl MqttConfig {
    /// A configuration for the broker at `host:port`, otherwise default.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            ..Self::default()
        }
    }

    /// Sets [`transport`](Self::transport), [`host`](Self::host),
    /// [`port`](Self::port) and, for WebSockets, [`ws_path`](Self::ws_path)
    /// from `mqtt://host[:port]`, `mqtts://...` (default port 8883),
    /// `ws://host[:port][/path]` or `wss://...` (default port 443, path
    /// `/mqtt`). Credentials in the URL are refused: URLs get logged.
    ///
    /// ```
    /// use iot_core::mqtt::{MqttConfig, Transport};
    ///
    /// let c = MqttConfig::default().broker_url("mqtts://broker.example.com")?;
    /// assert_eq!((c.transport, c.host.as_str(), c.port), (Transport::Tls, "broker.example.com", 8883));
    /// # Ok::<(), iot_core::mqtt::ConfigError>(())
    /// ```
    pub fn broker_url(mut self, url: &str) -> Result<Self, ConfigError> {
        let u = parse_broker_url(url)?;
        self.transport = u.transport;
        self.host = u.host;
        self.port = u.port;
        if let Some(path) = u.ws_path {
            self.ws_path = path;
        }
        Ok(self)
    }

    /// The broker as a URL (`mqtts://host:8883`), without credentials: for
    /// logs and status lines.
    pub fn url(&self) -> String {
        let host = self.url_host();
        let path = if self.transport.uses_websocket() {
            self.ws_path.as_str()
        } else {
            ""
        };
        format!("{}://{host}:{}{path}", self.transport.scheme(), self.port)
    }

    /// The host as a URL writes it: an IPv6 address in brackets.
    fn url_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// The URL rumqttc's WebSocket transports connect to.
    pub(crate) fn ws_url(&self) -> String {
        let scheme = if self.transport.uses_tls() {
            "wss"
        } else {
            "ws"
        };
        let host = self.url_host();
        format!("{scheme}://{host}:{}{}", self.port, self.ws_path)
    }

    /// Sets [`transport`](Self::transport).
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// Sets [`tls`](Self::tls) (and nothing else: pair it with a `tls` or
    /// `wss` [`transport`](Self::transport), e.g. through
    /// [`broker_url`](Self::broker_url)).
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// Sets [`client_id`](Self::client_id).
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = id.into();
        self
    }

    /// Sets [`topics`](Self::topics).
    pub fn topics(mut self, topics: TopicScheme) -> Self {
        self.topics = topics;
        self
    }

    /// Sets [`backoff`](Self::backoff).
    pub fn backoff(mut self, backoff: BackoffConfig) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets [`max_packet_size`](Self::max_packet_size).
    pub fn max_packet_size(mut self, bytes: usize) -> Self {
        self.max_packet_size = bytes;
        self
    }

    /// Sets [`max_inflight`](Self::max_inflight).
    pub fn max_inflight(mut self, n: u16) -> Self {
        self.max_inflight = n;
        self
    }

    /// Sets [`tcp_nodelay`](Self::tcp_nodelay).
    pub fn tcp_nodelay(mut self, on: bool) -> Self {
        self.tcp_nodelay = on;
        self
    }

    /// Sets [`keep_alive`](Self::keep_alive).
    pub fn keep_alive(mut self, d: Duration) -> Self {
        self.keep_alive = d;
        self
    }

    /// Sets [`credentials`](Self::credentials).
    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some(Credentials {
            username: username.into(),
            password: password.into(),
        });
        self
    }

    /// Checks every field; the error names it as `mqtt.<field>`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.host.is_empty() {
            return Err(ConfigError::new("mqtt.host", "must not be empty"));
        }
        if let Some(c) = self
            .host
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || "/@".contains(*c))
        {
            return Err(ConfigError::new(
                "mqtt.host",
                format!("{:?} contains {c:?}", self.host),
            ));
        }
        if !self.transport.is_available() {
            return Err(ConfigError::new(
                "mqtt.transport",
                format!(
                    "{} needs the \"{}\" feature of iot-core, which this build lacks",
                    self.transport,
                    self.transport.feature()
                ),
            ));
        }
        if self.transport.uses_websocket() && !self.ws_path.starts_with('/') {
            return Err(ConfigError::new(
                "mqtt.ws_path",
                format!("{:?} must start with '/'", self.ws_path),
            ));
        }
        if self.transport.uses_tls() {
            self.tls
                .validate()
                .map_err(|(field, message)| ConfigError::new(field, message))?;
        }
        if self.client_id.is_empty() {
            return Err(ConfigError::new(
                "mqtt.client_id",
                "must not be empty (persistent sessions are keyed by it)",
            ));
        }
        if self.client_id.len() > u16::MAX as usize {
            return Err(ConfigError::new(
                "mqtt.client_id",
                format!("{} bytes exceed MQTT's 65535", self.client_id.len()),
            ));
        }
        let ka = self.keep_alive;
        if !ka.is_zero()
            && (ka < Duration::from_secs(1)
                || ka.subsec_nanos() != 0
                || ka.as_secs() > u64::from(u16::MAX))
        {
            return Err(ConfigError::new(
                "mqtt.keep_alive",
                format!("{ka:?} is not 0 or a whole number of seconds in 1..=65535"),
            ));
        }
        let ct = self.connect_timeout;
        if ct < Duration::from_secs(1) || ct.subsec_nanos() != 0 {
            return Err(ConfigError::new(
                "mqtt.connect_timeout",
                format!("{ct:?} is not a whole number of seconds >= 1"),
            ));
        }
        if !(128..=MQTT_MAX_PACKET).contains(&self.max_packet_size) {
            return Err(ConfigError::new(
                "mqtt.max_packet_size",
                format!(
                    "{} is outside 128..={MQTT_MAX_PACKET}",
                    self.max_packet_size
                ),
            ));
        }
        if self.max_inflight == 0 {
            return Err(ConfigError::new("mqtt.max_inflight", "must be at least 1"));
        }
        self.backoff
            .validate()
            .map_err(|e| ConfigError::new(format!("mqtt.{}", e.field), e.message.clone()))?;
        if self.backoff.max_retries.is_some() {
            return Err(ConfigError::new(
                "mqtt.backoff.max_retries",
                "must be unset: the transport reconnects forever",
            ));
        }
        self.topics
            .validate()
            .map_err(|e| ConfigError::new("mqtt.topics", e.to_string()))
    }

    /// rumqttc options for this configuration, and the connector that
    /// builds its transport (TLS files read once here, to fail early).
    pub(crate) fn to_options(
        &self,
    ) -> Result<(rumqttc::MqttOptions, rumqttc::NetworkOptions, Connector), ConfigError> {
        let (connector, transport) = Connector::new(self)?;
        let mut o = rumqttc::MqttOptions::new(
            self.client_id.clone(),
            connector.broker_addr(&self.host),
            self.port,
        );
        o.set_transport(transport);
        o.set_keep_alive(self.keep_alive)
            .set_max_packet_size(self.max_packet_size, self.max_packet_size)
            .set_inflight(self.max_inflight)
            // The publisher writes its publishes past the request channel
            // (`publisher::writer`); for the consumer's acknowledgements
            // (`AckMode::OnRecv`, retried when it is full) the window plus
            // a little slack for subscribe and disconnect requests.
            .set_request_channel_capacity(usize::from(self.max_inflight) + 8)
            .set_clean_session(!self.persistent_session);
        if let Some(c) = &self.credentials {
            o.set_credentials(c.username.clone(), c.password.clone());
        }
        let mut n = rumqttc::NetworkOptions::new();
        n.set_connection_timeout(self.connect_timeout.as_secs());
        n.set_tcp_nodelay(self.tcp_nodelay);
        Ok((o, n, connector))
    }
}

/// What the publisher does when its queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum OverflowPolicy {
    /// Drop the oldest queued frames to make room (counted in
    /// [`dropped`](super::StatsSnapshot::dropped)). The default: fresh
    /// telemetry is usually worth more than old.
    #[default]
    DropOldest,
    /// Refuse the new frame with [`PublishError::QueueFull`](super::PublishError::QueueFull)
    /// (counted in [`rejected`](super::StatsSnapshot::rejected)).
    RejectNew,
}

/// Bounds of the publisher's store-and-forward queue.
///
/// A frame stays queued from `publish` until the broker acknowledges it
/// (QoS 1) or it was written to the socket (QoS 0). Both limits hold at
/// all times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct QueueConfig {
    /// Most frames queued. Default 10,000.
    pub max_frames: usize,
    /// Most payload bytes queued. Default 16 MiB.
    pub max_bytes: usize,
    /// What happens when a new frame does not fit.
    pub policy: OverflowPolicy,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            max_frames: 10_000,
            max_bytes: 16 * 1024 * 1024,
            policy: OverflowPolicy::DropOldest,
        }
    }
}

impl QueueConfig {
    /// Checks the limits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_frames == 0 {
            return Err(ConfigError::new("queue.max_frames", "must be at least 1"));
        }
        if self.max_bytes == 0 {
            return Err(ConfigError::new("queue.max_bytes", "must be at least 1"));
        }
        Ok(())
    }
}

/// One entry of the alias table a publisher announces in its birth message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct AliasEntry {
    /// The alias data frames use.
    pub alias: u32,
    /// The channel name.
    pub name: String,
    /// The unit, if any.
    #[cfg_attr(feature = "serde", serde(default))]
    pub unit: Option<String>,
}

impl AliasEntry {
    /// An entry without unit.
    pub fn new(alias: u32, name: impl Into<String>) -> Self {
        Self {
            alias,
            name: name.into(),
            unit: None,
        }
    }

    /// Sets the unit.
    pub fn with_unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = Some(unit.into());
        self
    }
}

/// Configuration of a [`Publisher`](super::Publisher): one device's
/// connection.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct PublisherConfig {
    /// The connection. An empty `client_id` becomes `iot-pub-<device_id>`.
    pub mqtt: MqttConfig,
    /// The device this publisher speaks for; every frame must carry it.
    pub device_id: String,
    /// QoS of data frames. Default QoS 1. Status and birth are always QoS 1.
    pub qos: Qos,
    /// The store-and-forward queue.
    pub queue: QueueConfig,
    /// Append a CRC-32 trailer to every frame.
    pub checksum: bool,
    /// The alias table published (retained) on the birth topic after every
    /// connect; empty publishes no birth. Can be replaced at run time with
    /// [`Publisher::set_birth`](super::Publisher::set_birth).
    pub birth: Vec<AliasEntry>,
    /// The session epoch written into every frame and birth (header field,
    /// `docs/wire-format.md`), so consumers tell a restart of the device's
    /// sequence from lost frames. `None` (the default) takes the time the
    /// publisher starts, in milliseconds since the Unix epoch: it grows
    /// from one process to the next as long as the clock does. Set it from
    /// a counter the device persists where the clock cannot be trusted.
    /// `Some(0)` sends no epoch.
    pub epoch: Option<u64>,
    /// A crash-safe on-disk spool behind the queue (feature `spool`):
    /// every accepted frame is appended to it before it is queued, released
    /// when the broker acknowledges it (or the queue drops it), and frames
    /// never released are published again by the next publisher opened on
    /// the same directory. `None` (the default): frames live in memory only.
    #[cfg(feature = "spool")]
    #[cfg_attr(docsrs, doc(cfg(feature = "spool")))]
    pub spool: Option<super::spool::SpoolConfig>,
}

impl Default for PublisherConfig {
    fn default() -> Self {
        Self {
            mqtt: MqttConfig::default(),
            device_id: String::new(),
            qos: Qos::AtLeastOnce,
            queue: QueueConfig::default(),
            checksum: false,
            birth: Vec::new(),
            epoch: None,
            #[cfg(feature = "spool")]
            spool: None,
        }
    }
}

impl PublisherConfig {
    /// A publisher of `device_id` through `mqtt`.
    pub fn new(mqtt: MqttConfig, device_id: impl Into<String>) -> Self {
        Self {
            mqtt,
            device_id: device_id.into(),
            ..Self::default()
        }
    }

    /// Sets [`qos`](Self::qos).
    pub fn qos(mut self, qos: Qos) -> Self {
        self.qos = qos;
        self
    }

    /// Sets [`queue`](Self::queue).
    pub fn queue(mut self, queue: QueueConfig) -> Self {
        self.queue = queue;
        self
    }

    /// Sets [`birth`](Self::birth).
    pub fn birth(mut self, entries: Vec<AliasEntry>) -> Self {
        self.birth = entries;
        self
    }

    /// Sets [`checksum`](Self::checksum).
    pub fn checksum(mut self, on: bool) -> Self {
        self.checksum = on;
        self
    }

    /// Sets [`epoch`](Self::epoch).
    pub fn epoch(mut self, epoch: u64) -> Self {
        self.epoch = Some(epoch);
        self
    }

    /// Sets [`spool`](Self::spool).
    #[cfg(feature = "spool")]
    #[cfg_attr(docsrs, doc(cfg(feature = "spool")))]
    pub fn spool(mut self, spool: super::spool::SpoolConfig) -> Self {
        self.spool = Some(spool);
        self
    }

    /// The configuration with the default client id filled in.
    pub(crate) fn resolved(&self) -> Self {
        let mut c = self.clone();
        if c.mqtt.client_id.is_empty() {
            c.mqtt.client_id = format!("iot-pub-{}", c.device_id);
        }
        c
    }

    /// Checks every field (after filling in the default client id).
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_device_id(&self.device_id)
            .map_err(|e| ConfigError::new("device_id", format!("{:?}: {e}", self.device_id)))?;
        self.resolved().mqtt.validate()?;
        self.queue.validate()?;
        let mut aliases: Vec<u32> = self.birth.iter().map(|e| e.alias).collect();
        aliases.sort_unstable();
        if let Some(w) = aliases.windows(2).find(|w| w[0] == w[1]) {
            return Err(ConfigError::new(
                "birth",
                format!("alias {} appears more than once", w[0]),
            ));
        }
        Ok(())
    }
}

/// The [`Consumer`](super::Consumer)'s per-device ledger: duplicate
/// suppression and loss accounting by `(device, epoch, seq)`.
///
/// Per device the consumer keeps the highest sequence number seen in the
/// device's current session epoch and the ranges below it that never
/// arrived (gaps, each reported once as [`ReceiveError::FramesMissing`](super::ReceiveError::FramesMissing)).
/// A device with no gaps costs a fixed amount of memory whatever the
/// window (`docs/mqtt.md`, "Ledger"), so `max_devices` is the knob that
/// sizes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[non_exhaustive]
pub struct DedupConfig {
    /// How far behind the highest sequence number seen a frame is still
    /// judged exactly (duplicate, or a late frame filling a gap). Older
    /// gaps are given up (they stay counted missing) and older frames are
    /// delivered as stale. Must exceed how far a redelivered frame can lag:
    /// at least twice the publishers' `max_inflight` plus the broker's
    /// `max_inflight_messages`. Default 4096.
    pub window: u64,
    /// Gaps remembered per device epoch; beyond this the lowest is given
    /// up. Each costs 16 bytes. Default 64.
    pub max_gaps: usize,
    /// Devices tracked at once; beyond this the least recently seen device
    /// is forgotten (CLOCK approximation of LRU) and the eviction counted
    /// ([`StatsSnapshot::dedup_evictions`](super::StatsSnapshot::dedup_evictions)).
    /// Default 100,000.
    pub max_devices: usize,
    /// Whether gaps are reported as missing frames. `None` (the default):
    /// yes, unless the consumer is a member of a shared-subscription group,
    /// which sees only its share of each device's frames (every frame sent
    /// to another member would look missing). Set `Some(true)` for the only
    /// member of a group; run a [`SequenceLedger`](super::SequenceLedger)
    /// over the members' union to account for a group of several.
    pub report_gaps: Option<bool>,
}

impl Default for DedupConfig {
    fn default() -> Self {
        Self {
            window: 4096,
            max_gaps: 64,
            max_devices: 100_000,
            report_gaps: None,
        }
    }
}

impl DedupConfig {
    /// Sets [`window`](Self::window).
    pub fn window(mut self, window: u64) -> Self {
        self.window = window;
        self
    }

    /// Sets [`max_gaps`](Self::max_gaps).
    pub fn max_gaps(mut self, max_gaps: usize) -> Self {
        self.max_gaps = max_gaps;
        self
    }

    /// Sets [`max_devices`](Self::max_devices).
    pub fn max_devices(mut self, max_devices: usize) -> Self {
        self.max_devices = max_devices;
        self
    }

    /// Sets [`report_gaps`](Self::report_gaps).
    pub fn report_gaps(mut self, on: bool) -> Self {
        self.report_gaps = Some(on);
        self
    }
}

/// When a [`Consumer`](super::Consumer) acknowledges a QoS 1 message to
/// the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum AckMode {
    /// As soon as it is read from the socket (rumqttc's default): the
    /// fastest, but up to `channel_capacity` items waiting for `recv` are
    /// lost if the process dies before the application takes them.
    #[default]
    OnReceipt,
    /// When the application takes the item from `recv`/`try_recv` (or the
    /// consumer skips the message: duplicates, births), in the order the
    /// messages arrived. Nothing buffered is lost when the process dies:
    /// the broker redelivers it to the session. Costs a write to the socket
    /// per message; the broker's `max_inflight_messages` then also bounds
    /// how many messages wait in the consumer.
    OnRecv,
    /// When the application says the frame is durable: each frame carries
    /// an [`AckHandle`](super::AckHandle) (take it with
    /// [`ReceivedFrame::take_ack`](super::ReceivedFrame::take_ack)); the
    /// broker gets the PUBACK once the handle is acknowledged and every
    /// message that arrived before it is too (PUBACKs leave in arrival
    /// order, MQTT 3.1.1 section 4.6; handles may be acknowledged in any
    /// order). A handle dropped or
    /// [`nack`](super::AckHandle::nack)ed gives the frame back: the
    /// consumer reconnects so that the broker redelivers it, and delivers
    /// the redelivery again instead of suppressing it as a duplicate. At
    /// most [`ConsumerConfig::max_unacked`] messages wait unacknowledged;
    /// then the consumer stops reading (back-pressure). See `docs/mqtt.md`,
    /// "Acknowledge after commit".
    Manual,
}

/// Read coalescing of a [`Consumer`](super::Consumer): while the broker
/// keeps waking it for one or two messages at a time, more than
/// `max_thin_reads` times within one `window`, it pauses until the window
/// ends before reading again.
///
/// Through a broker that leaves Nagle's algorithm on (Mosquitto's
/// default), a consumer that reads every message the moment it arrives
/// keeps the broker sending one TCP segment per message, and every segment
/// wakes the consumer's thread. Pausing once lets messages gather; the
/// broker then sends them in large segments and the consumer reads many
/// per wake-up. Measured through Mosquitto on a 2-core VM at QoS 0 with a
/// 2-worker runtime: client CPU per message 7.5 µs instead of 14.7 and
/// throughput 0.96x bare rumqttc instead of 0.75x; QoS 1 is a little
/// faster too, also with Mosquitto's default of 20 messages in flight
/// (`docs/benchmarks.md`, "Read coalescing").
///
/// The cost is latency under load: a message that arrives during a pause
/// waits for its end, at most `window` plus Tokio's 1 ms timer tick. Only
/// wake-ups that read one or two PUBLISH packets count (writing an
/// acknowledgement or a ping does not), so a stream is paused only when
/// more than `max_thin_reads` of them fall into one window: with the
/// default, a stream spread evenly below 16,000 messages a second never is,
/// a burst of more than 16 separate messages within a millisecond may be.
/// [`off`](Self::off) reads every message at once. With `serde`, `window`
/// is a string in [the iot-rs duration format](iot_duration) or integer
/// milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct ReadCoalescing {
    /// The window over which thin wake-ups are counted, and the longest
    /// pause; zero turns coalescing off. Default 1 ms.
    #[cfg_attr(feature = "serde", serde(with = "iot_duration::serde"))]
    pub window: Duration,
    /// Thin wake-ups (those that read one or two PUBLISH packets) allowed
    /// per window before the consumer pauses. Default 16, about 16,000 a
    /// second.
    pub max_thin_reads: u32,
}

impl Default for ReadCoalescing {
    fn default() -> Self {
        Self {
            window: Duration::from_millis(1),
            max_thin_reads: 16,
        }
    }
}

impl ReadCoalescing {
    /// No coalescing: every message is read as soon as it arrives.
    pub fn off() -> Self {
        Self {
            window: Duration::ZERO,
            ..Self::default()
        }
    }

    /// Whether it ever pauses.
    pub fn is_enabled(&self) -> bool {
        !self.window.is_zero()
    }
}

/// Configuration of a [`Consumer`](super::Consumer).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct ConsumerConfig {
    /// The connection. `client_id` is required and must be stable: with a
    /// persistent session the broker queues frames for it while it is away.
    pub mqtt: MqttConfig,
    /// Devices to receive; empty (the default) subscribes to all with `+`.
    pub devices: Vec<String>,
    /// Join this shared-subscription group for telemetry
    /// (`$share/<group>/...`): the broker splits frames among the group's
    /// members. Birth topics are always subscribed unshared, so every
    /// member knows every alias table.
    pub share_group: Option<String>,
    /// QoS of the subscriptions. Default QoS 1.
    pub qos: Qos,
    /// Decoder limits for frames and births.
    pub limits: Limits,
    /// Duplicate suppression.
    pub dedup: DedupConfig,
    /// Alias tables kept for [`Consumer::aliases`](super::Consumer::aliases)
    /// (one per device, least recently used forgotten). Default 10,000.
    /// Each device tracked for deduplication also keeps its current table
    /// (shared, not copied), so at most `max_alias_tables +
    /// dedup.max_devices` tables are alive.
    pub max_alias_tables: usize,
    /// Items buffered between the connection task and `recv`. When full,
    /// the task stops reading from the broker (back-pressure). Default 1024.
    pub channel_capacity: usize,
    /// Largest packet the consumer reads once in order to skip it, when the
    /// broker sends one over [`MqttConfig::max_packet_size`]; 0 never does.
    /// Default 16 MiB.
    ///
    /// rumqttc resets the connection at such a packet before its topic is
    /// known, and the broker redelivers a QoS 1 message on reconnect, so
    /// without this a single oversized message would stop the consumer for
    /// good. With it, the next connection accepts packets up to the reported
    /// size; the message is read, acknowledged and reported as an error
    /// item with its topic (see `docs/mqtt.md`).
    pub oversize_skip_limit: usize,
    /// When QoS 1 messages are acknowledged. Default
    /// [`AckMode::OnReceipt`].
    pub ack: AckMode,
    /// With [`AckMode::Manual`]: QoS 1 messages of the current connection
    /// the consumer holds unacknowledged at most; at the limit it stops
    /// reading until the oldest is acknowledged. Default 4096. The
    /// broker's own limit on unacknowledged messages per client (Mosquitto's
    /// `max_inflight_messages`, default 20) caps it too, and with it the
    /// frames an application can commit per batch: raise it on the broker.
    pub max_unacked: usize,
    /// Pausing before reading again while the broker sends one message per
    /// wake-up. Default on: a pause lasts until the current 1 ms window
    /// ends (plus up to Tokio's 1 ms timer tick).
    pub coalesce: ReadCoalescing,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self {
            mqtt: MqttConfig::default(),
            devices: Vec::new(),
            share_group: None,
            qos: Qos::AtLeastOnce,
            limits: Limits::default(),
            dedup: DedupConfig::default(),
            max_alias_tables: 10_000,
            channel_capacity: 1024,
            oversize_skip_limit: 16 << 20,
            ack: AckMode::OnReceipt,
            max_unacked: 4096,
            coalesce: ReadCoalescing::default(),
        }
    }
}

impl ConsumerConfig {
    /// A consumer of all devices through `mqtt`.
    pub fn new(mqtt: MqttConfig) -> Self {
        Self {
            mqtt,
            ..Self::default()
        }
    }

    /// Sets [`share_group`](Self::share_group).
    pub fn share_group(mut self, group: impl Into<String>) -> Self {
        self.share_group = Some(group.into());
        self
    }

    /// Sets [`devices`](Self::devices).
    pub fn devices<I, S>(mut self, devices: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.devices = devices.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`qos`](Self::qos).
    pub fn qos(mut self, qos: Qos) -> Self {
        self.qos = qos;
        self
    }

    /// Sets [`limits`](Self::limits).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets [`dedup`](Self::dedup).
    pub fn dedup(mut self, dedup: DedupConfig) -> Self {
        self.dedup = dedup;
        self
    }

    /// Sets [`channel_capacity`](Self::channel_capacity).
    pub fn channel_capacity(mut self, items: usize) -> Self {
        self.channel_capacity = items;
        self
    }

    /// Sets [`ack`](Self::ack).
    pub fn ack(mut self, ack: AckMode) -> Self {
        self.ack = ack;
        self
    }

    /// Sets [`max_unacked`](Self::max_unacked).
    pub fn max_unacked(mut self, messages: usize) -> Self {
        self.max_unacked = messages;
        self
    }

    /// Sets [`coalesce`](Self::coalesce).
    pub fn coalesce(mut self, coalesce: ReadCoalescing) -> Self {
        self.coalesce = coalesce;
        self
    }

    /// Sets [`oversize_skip_limit`](Self::oversize_skip_limit).
    pub fn oversize_skip_limit(mut self, bytes: usize) -> Self {
        self.oversize_skip_limit = bytes;
        self
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.mqtt.validate()?;
        for d in &self.devices {
            validate_device_id(d)
                .map_err(|e| ConfigError::new("devices", format!("{d:?}: {e}")))?;
        }
        if let Some(g) = &self.share_group {
            shared_filter(g, "x").map_err(|e| ConfigError::new("share_group", e.to_string()))?;
        }
        if self.dedup.window == 0 {
            return Err(ConfigError::new("dedup.window", "must be at least 1"));
        }
        if self.dedup.max_gaps == 0 || self.dedup.max_gaps > 1 << 16 {
            return Err(ConfigError::new(
                "dedup.max_gaps",
                format!("{} is outside 1..=65536", self.dedup.max_gaps),
            ));
        }
        if self.dedup.max_devices == 0 {
            return Err(ConfigError::new("dedup.max_devices", "must be at least 1"));
        }
        if self.max_alias_tables == 0 {
            return Err(ConfigError::new("max_alias_tables", "must be at least 1"));
        }
        if self.channel_capacity == 0 {
            return Err(ConfigError::new("channel_capacity", "must be at least 1"));
        }
        // Packet ids are 16-bit: a connection cannot have more unacknowledged.
        if self.max_unacked == 0 || self.max_unacked > usize::from(u16::MAX) {
            return Err(ConfigError::new(
                "max_unacked",
                format!("{} is outside 1..=65535", self.max_unacked),
            ));
        }
        if self.coalesce.window > Duration::from_millis(100) {
            return Err(ConfigError::new(
                "coalesce.window",
                format!(
                    "{:?} exceeds 100 ms (every paused message waits up to this long)",
                    self.coalesce.window
                ),
            ));
        }
        let skip = self.oversize_skip_limit;
        if skip != 0 && !(self.mqtt.max_packet_size..=MQTT_MAX_PACKET).contains(&skip) {
            return Err(ConfigError::new(
                "oversize_skip_limit",
                format!(
                    "{skip} is neither 0 nor within mqtt.max_packet_size..={MQTT_MAX_PACKET} ({}..={MQTT_MAX_PACKET})",
                    self.mqtt.max_packet_size
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        MqttConfig::default().client_id("c").validate().unwrap();
        PublisherConfig::new(MqttConfig::default(), "dev-1")
            .validate()
            .unwrap();
        ConsumerConfig::new(MqttConfig::default().client_id("gw"))
            .share_group("g")
            .validate()
            .unwrap();
    }

    #[test]
    fn errors_name_the_field() {
        let base = MqttConfig::default().client_id("c");
        let cases: Vec<(MqttConfig, &str)> = vec![
            (MqttConfig::default(), "mqtt.client_id"),
            (base.clone().max_packet_size(10), "mqtt.max_packet_size"),
            (base.clone().max_inflight(0), "mqtt.max_inflight"),
            (
                base.clone().keep_alive(Duration::from_millis(1500)),
                "mqtt.keep_alive",
            ),
            (
                base.clone()
                    .backoff(BackoffConfig::default().max_retries(Some(3))),
                "mqtt.backoff.max_retries",
            ),
            (
                base.clone()
                    .backoff(BackoffConfig::default().base(Duration::ZERO)),
                "mqtt.backoff.base",
            ),
            (base.clone().topics(TopicScheme::new("a/+")), "mqtt.topics"),
        ];
        for (c, field) in cases {
            assert_eq!(c.validate().unwrap_err().field, field);
        }
        let p = PublisherConfig::new(base.clone(), "bad id");
        assert_eq!(p.validate().unwrap_err().field, "device_id");
        let p = PublisherConfig::new(base.clone(), "d")
            .birth(vec![AliasEntry::new(1, "a"), AliasEntry::new(1, "b")]);
        assert_eq!(p.validate().unwrap_err().field, "birth");
        let c = ConsumerConfig::new(base.clone()).share_group("a/b");
        assert_eq!(c.validate().unwrap_err().field, "share_group");
        let c = ConsumerConfig::new(base.clone().max_packet_size(4096)).oversize_skip_limit(4095);
        assert_eq!(c.validate().unwrap_err().field, "oversize_skip_limit");
        ConsumerConfig::new(base.clone().max_packet_size(4096))
            .oversize_skip_limit(0)
            .validate()
            .unwrap();
        ConsumerConfig::new(base.max_packet_size(4096))
            .oversize_skip_limit(4096)
            .validate()
            .unwrap();
    }

    #[test]
    fn publisher_client_id_defaults_to_device() {
        let p = PublisherConfig::new(MqttConfig::default(), "dev-9").resolved();
        assert_eq!(p.mqtt.client_id, "iot-pub-dev-9");
    }

    #[test]
    fn credentials_are_redacted() {
        let c = MqttConfig::default().credentials("u", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[cfg(feature = "serde")]
    #[test]
    fn deserializes_with_durations() {
        let c: ConsumerConfig = serde_json::from_str(
            r#"{"mqtt": {"client_id": "gw", "keep_alive": "10s",
                "backoff": {"base": "50ms", "cap": "2s"}},
               "share_group": "g", "dedup": {"window": 128}, "ack": "on_recv"}"#,
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.mqtt.keep_alive, Duration::from_secs(10));
        assert_eq!(c.mqtt.backoff.cap, Duration::from_secs(2));
        assert_eq!(c.dedup.window, 128);
        assert_eq!(c.ack, AckMode::OnRecv);
    }
}
