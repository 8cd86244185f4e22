//! What a consumer yields: validated frames as zero-copy views over the
//! received payload, or error items.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;

use crate::codec::{AliasTable, FrameLayout, FrameView};

use super::super::error::ReceiveError;
use super::ack::AckHandle;

/// One item of a consumer: a frame, or a message that could not be used.
pub type Received = Result<ReceivedFrame, ReceiveError>;

/// A validated data frame as received: the MQTT payload (`Bytes`, shared
/// with rumqttc's read buffer, never copied) and what was learnt when it
/// was validated.
///
/// [`view`](Self::view) gives the codec's [`FrameView`] over the payload.
///
/// With [`AckMode::Manual`](crate::mqtt::AckMode::Manual) a QoS 1 frame
/// carries its [`AckHandle`]: take it with [`take_ack`](Self::take_ack).
/// Dropping the frame with its handle still in it gives the frame back for
/// redelivery; a clone carries no handle.
pub struct ReceivedFrame {
    pub(super) topic: String,
    pub(super) device: Range<usize>,
    pub(super) payload: Bytes,
    /// Where the readings lie, and the header's sequence number and
    /// timestamp, as validated at receipt.
    pub(super) layout: FrameLayout,
    pub(super) aliases: Option<Arc<AliasTable>>,
    pub(super) redelivered: bool,
    pub(super) ack: Option<AckHandle>,
}

impl Clone for ReceivedFrame {
    /// A copy of the frame without its acknowledgement, which stays with
    /// the original.
    fn clone(&self) -> Self {
        Self {
            topic: self.topic.clone(),
            device: self.device.clone(),
            payload: self.payload.clone(),
            layout: self.layout,
            aliases: self.aliases.clone(),
            redelivered: self.redelivered,
            ack: None,
        }
    }
}

impl std::fmt::Debug for ReceivedFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceivedFrame")
            .field("topic", &self.topic)
            .field("seq", &self.seq())
            .field("timestamp_ms", &self.timestamp_ms())
            .field("len", &self.payload.len())
            .field("redelivered", &self.redelivered)
            .field("ack", &self.ack.is_some())
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

    /// The sender's session epoch (`0`: a sender without epochs); see
    /// `docs/wire-format.md`.
    pub fn epoch(&self) -> u64 {
        self.layout.epoch()
    }

    /// The encoded frame: the MQTT payload itself.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// The encoded frame, e.g. to forward it without re-encoding. Gives
    /// back an acknowledgement still in the frame (take it first with
    /// [`take_ack`](Self::take_ack)).
    pub fn into_payload(self) -> Bytes {
        self.payload
    }

    /// The frame's acknowledgement, with
    /// [`AckMode::Manual`](crate::mqtt::AckMode::Manual) and QoS 1 (once:
    /// later calls return `None`).
    pub fn take_ack(&mut self) -> Option<AckHandle> {
        self.ack.take()
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
