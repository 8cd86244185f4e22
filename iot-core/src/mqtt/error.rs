//! Typed errors of the MQTT transport.

use std::borrow::Cow;

use crate::codec::{DecodeError, EncodeError};
use crate::device::DeviceIdError;

/// A topic, topic scheme or subscription filter is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// A configured part of the scheme, a share group or a filter breaks a
    /// topic rule.
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        /// Which part (`prefix`, `telemetry level`, `share group`, `filter`).
        what: &'static str,
        /// The offending value.
        value: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// The device-id level is not a valid device id.
    #[error("invalid device id {id:?} in topic: {source}")]
    InvalidDeviceId {
        /// The level found.
        id: String,
        /// Why it is invalid.
        source: DeviceIdError,
    },
    /// The topic does not start with the scheme's prefix.
    #[error("topic {topic:?} is outside the prefix {prefix:?}")]
    OutsidePrefix {
        /// The topic.
        topic: String,
        /// The scheme's prefix.
        prefix: String,
    },
    /// The topic does not have exactly two levels after the prefix.
    #[error("topic {topic:?} is not <prefix>/<device_id>/<kind>")]
    WrongShape {
        /// The topic.
        topic: String,
    },
    /// The last level names no kind of the scheme.
    #[error("topic {topic:?} ends in unknown level {level:?}")]
    UnknownKind {
        /// The topic.
        topic: String,
        /// Its last level.
        level: String,
    },
    /// Longer than MQTT's 65,535 bytes.
    #[error("topic of {len} bytes exceeds MQTT's limit of {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// A configuration value is out of range or inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MQTT configuration: {field}: {message}")]
pub struct ConfigError {
    /// The field, as a path (`mqtt.max_packet_size`, `queue.max_frames`).
    pub field: Cow<'static, str>,
    /// What is wrong, with the offending value.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(field: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<TopicError> for ConfigError {
    fn from(e: TopicError) -> Self {
        ConfigError::new("topics", e.to_string())
    }
}

/// [`Publisher::publish`](super::Publisher::publish) did not accept a frame.
///
/// [`PublishError::QueueFull`] and [`PublishError::FrameTooLarge`] are
/// counted in [`StatsSnapshot::rejected`](super::StatsSnapshot::rejected)
/// (and `iot_mqtt_frames_dropped_total{reason="rejected" | "too_large"}`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The store-and-forward queue is full and the policy is
    /// [`OverflowPolicy::RejectNew`](super::OverflowPolicy::RejectNew).
    #[error(
        "store-and-forward queue full ({frames} frames, {bytes} bytes queued; limits {max_frames} frames, {max_bytes} bytes)"
    )]
    QueueFull {
        /// Frames queued.
        frames: usize,
        /// Payload bytes queued.
        bytes: usize,
        /// The frame limit.
        max_frames: usize,
        /// The byte limit.
        max_bytes: usize,
    },
    /// The encoded frame can never be sent: its MQTT packet would exceed
    /// the configured maximum packet size, or the frame alone exceeds the
    /// queue's byte limit.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes ({limit})")]
    FrameTooLarge {
        /// Encoded frame length.
        len: usize,
        /// The largest frame accepted.
        max: usize,
        /// Which limit: `max_packet_size` or `queue.max_bytes`.
        limit: &'static str,
    },
    /// The frame could not be encoded.
    #[error("encoding failed: {0}")]
    Encode(#[from] EncodeError),
    /// The header names another device than the publisher's.
    #[error("frame of device {found:?} given to the publisher of {expected:?}")]
    DeviceMismatch {
        /// The publisher's device id.
        expected: String,
        /// The header's device id.
        found: String,
    },
    /// The publisher was closed.
    #[error("publisher is closed")]
    Closed,
    /// The spool could not store the frame (a disk error, or full with the
    /// spool's reject-new policy); nothing was queued.
    #[error("spool: {reason}")]
    Spool {
        /// What the spool reported.
        reason: String,
    },
}

/// An error item of a [`Consumer`](super::Consumer): one message could not
/// be used, or (`FramesMissing`) frames of a device never arrived. The
/// consumer goes on with the next message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// The payload is not a valid data frame (or birth message on a birth
    /// topic): garbage, truncated, oversized, corrupted.
    #[error("undecodable payload on {topic:?} ({len} bytes): {error}")]
    Decode {
        /// The topic it arrived on.
        topic: String,
        /// Payload length.
        len: usize,
        /// What the decoder found.
        error: DecodeError,
    },
    /// The topic does not fit the scheme.
    #[error("unexpected topic: {0}")]
    Topic(#[from] TopicError),
    /// The frame's device id differs from the topic's.
    #[error("frame of device {frame_device:?} arrived on {topic:?}")]
    DeviceMismatch {
        /// The topic.
        topic: String,
        /// The device id in the frame.
        frame_device: String,
    },
    /// A birth message repeats an alias; the device's previous table stays.
    #[error("birth message on {topic:?} repeats alias {alias}")]
    DuplicateAlias {
        /// The topic.
        topic: String,
        /// The repeated alias.
        alias: u32,
    },
    /// Frames `first..=last` of `device`'s session `epoch` never arrived:
    /// the ledger saw frame `last + 1` without them (a broker that lost
    /// acknowledged messages, a dropped share-group member's queue, frames
    /// dropped on the way). Reported once per gap, before the frame that
    /// revealed it; a missing frame that turns up later is delivered and
    /// counted in [`StatsSnapshot::recovered`](super::StatsSnapshot::recovered).
    #[error("frames {first}..={last} of {device:?} (epoch {epoch}) are missing")]
    FramesMissing {
        /// The device.
        device: String,
        /// The device's session epoch (`0`: a sender without epochs).
        epoch: u64,
        /// The first missing sequence number.
        first: u64,
        /// The last missing sequence number.
        last: u64,
    },
    /// The broker refused a subscription.
    #[error("broker refused the subscription to {filter:?}")]
    SubscriptionRefused {
        /// The filter.
        filter: String,
    },
    /// The broker sent a packet larger than
    /// [`MqttConfig::max_packet_size`](super::MqttConfig::max_packet_size).
    ///
    /// Reported twice for a QoS 1 message: first when rumqttc resets the
    /// connection at it, before its topic is known (`topic` is `None`);
    /// then, when the broker redelivers it and it fits
    /// [`ConsumerConfig::oversize_skip_limit`](super::ConsumerConfig::oversize_skip_limit),
    /// when it is read, acknowledged and skipped (`topic` is `Some`). A
    /// QoS 0 message is gone after the reset and reported once.
    #[error(
        "incoming packet of {size} bytes exceeds max_packet_size{}",
        match topic {
            Some(t) => format!(" on {t:?}; skipped"),
            None => "; connection reset".to_owned(),
        }
    )]
    PacketTooLarge {
        /// The packet's remaining length (what `max_packet_size` bounds).
        size: usize,
        /// The topic, once the packet was read.
        topic: Option<String>,
    },
}

impl ReceiveError {
    /// How many frames this item reports missing: `last - first + 1` for
    /// [`FramesMissing`](Self::FramesMissing), else 0.
    pub fn missing_frames(&self) -> u64 {
        match self {
            Self::FramesMissing { first, last, .. } => last - first + 1,
            _ => 0,
        }
    }
}
