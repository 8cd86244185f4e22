//! MQTT transport over [rumqttc](https://docs.rs/rumqttc/0.25) (feature
//! `mqtt`): publish and consume telemetry frames, losing nothing silently.
//!
//! * [`TopicScheme`] — `<prefix>/<device_id>/telemetry|status|birth|cmd`,
//!   building, parsing and subscription filters, `$share/<group>/...`.
//! * [`Publisher`] encodes frames with the [codec](crate::codec), keeps
//!   them in a bounded store-and-forward queue until the broker's PUBACK,
//!   re-sends the unacknowledged ones after every reconnect, announces
//!   presence (retained `online`, Last Will `offline`) and the alias table
//!   (birth) on every connect, reconnects with capped exponential backoff
//!   and full jitter ([`iot_resilience::backoff`]).
//! * [`Consumer`] subscribes (optionally as a shared-subscription group),
//!   validates each payload once and yields [`ReceivedFrame`]s, zero-copy
//!   views over the received `Bytes`; malformed messages become
//!   [`ReceiveError`] items naming the topic; a per-device ledger by
//!   `(device, epoch, seq)` suppresses QoS 1 duplicates and reports gaps
//!   as [`ReceiveError::FramesMissing`] ([`SequenceLedger`] is the same
//!   accounting as a value of its own); birth messages keep
//!   per-device alias tables; [`ReadCoalescing`] keeps a busy stream from
//!   waking it once per message.
//! * Observability: [`ConnectionState`] through a `watch` receiver,
//!   [`Stats`] counters, and metrics with the `metrics` feature (names
//!   [below](self#observability)).
//!
//! The delivery design, configuration reference, the Mosquitto settings
//! consumers rely on and the known limits are in `docs/mqtt.md`.
//!
//! # Delivery guarantee
//!
//! With QoS 1 (the default), persistent sessions on both sides and a broker
//! that keeps sessions across restarts (Mosquitto `persistence true`),
//! every frame that [`Publisher::publish`] accepted reaches each subscribed
//! consumer exactly once, as seen through [`Consumer::recv`], unless it is
//! counted: dropped by the publisher's full queue
//! ([`StatsSnapshot::dropped`]), still queued at
//! [`Publisher::close`] ([`StatsSnapshot::closed_unacked`]), or refused up
//! front ([`PublishError`]). Members of a shared-subscription group do
//! not share deduplication windows: a frame a publisher had to re-send may
//! reach two members.
//!
//! # Observability
//!
//! With the `metrics` feature each publisher and consumer registers its
//! series with the recorder installed when it starts (install the exporter
//! first) and keeps the handles: an event costs an atomic add. Every series
//! exists from the start, at 0.
//!
//! | name | type | labels | meaning |
//! | --- | --- | --- | --- |
//! | `iot_mqtt_frames_published_total` | counter | | frames accepted by `Publisher::publish` |
//! | `iot_mqtt_frames_sent_total` | counter | | PUBLISH packets of frames written to the socket, resends included |
//! | `iot_mqtt_frames_resent_total` | counter | | frames handed to rumqttc again after a reconnect |
//! | `iot_mqtt_frames_acked_total` | counter | | frames acknowledged by the broker (QoS 1) or written (QoS 0) |
//! | `iot_mqtt_frames_dropped_total` | counter | `reason` | `queue_full` (drop oldest), `rejected` (reject new), `too_large`, `closed` |
//! | `iot_mqtt_queue_depth` | gauge | | frames in publishers' queues |
//! | `iot_mqtt_queue_bytes` | gauge | | payload bytes in publishers' queues |
//! | `iot_mqtt_frames_received_total` | counter | | frames delivered by consumers (after deduplication) |
//! | `iot_mqtt_frames_decode_errors_total` | counter | | error items (undecodable payloads, unexpected topics, refused subscriptions) |
//! | `iot_mqtt_frames_duplicate_total` | counter | | frames suppressed as duplicates |
//! | `iot_mqtt_frames_missing_total` | counter | | frames the consumers' ledgers found missing, each gap reported as [`ReceiveError::FramesMissing`] |
//! | `iot_mqtt_frames_recovered_total` | counter | | frames that arrived after they had been reported missing |
//! | `iot_mqtt_dedup_evictions_total` | counter | | devices a ledger forgot to make room for another (`dedup.max_devices`) |
//! | `iot_mqtt_read_pauses_total` | counter | | consumers' read-coalescing pauses ([`ReadCoalescing`]) |
//! | `iot_mqtt_connected` | gauge | `role` | clients connected now (`publisher`, `consumer`) |
//! | `iot_mqtt_reconnects_total` | counter | `role` | connections lost or attempts failed |
//! | `iot_mqtt_connect_failures_total` | counter | `role`, `reason` | failed connection attempts by [`ConnectFailure`] (`bad_credentials`, `unknown_ca`, `unreachable`, ...) |

mod coalesce;
mod config;
mod connect_failure;
mod connection;
mod consumer;
mod error;
mod ledger;
mod lru;
mod metrics;
mod oversize;
mod publisher;
mod queue;
#[cfg(feature = "spool")]
#[cfg_attr(docsrs, doc(cfg(feature = "spool")))]
pub mod spool;
mod state;
mod topics;
mod transport;
mod wait;

pub use config::{
    AckMode, AliasEntry, ConsumerConfig, Credentials, DedupConfig, MqttConfig, OverflowPolicy,
    PublisherConfig, Qos, QueueConfig, ReadCoalescing,
};
pub use connect_failure::ConnectFailure;
pub use consumer::{AckHandle, Consumer, Received, ReceivedFrame};
pub use error::{ConfigError, PublishError, ReceiveError, TopicError};
/// Reconnect schedules, re-exported from [`iot_resilience::backoff`] for
/// [`MqttConfig::backoff`].
pub use iot_resilience::backoff::{BackoffConfig, BackoffStrategy};
pub use ledger::{LedgerTotals, Observation, SequenceLedger};
pub use publisher::Publisher;
pub use state::{ConnectionState, Stats, StatsSnapshot};
pub use topics::{
    MAX_TOPIC_LEN, ParsedTopic, TopicKind, TopicScheme, shared_filter, validate_filter,
};
pub use transport::{TlsConfig, TlsError, Transport};
pub use wait::WaitError;
