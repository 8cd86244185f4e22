//! Getting past a packet larger than `max_packet_size`.
//!
//! rumqttc checks a packet's remaining length before it reads the topic,
//! and fails the connection when it exceeds the limit. The broker then
//! redelivers a QoS 1 message first thing on the next connection, which
//! fails again: one oversized message would stop a consumer for good. So
//! after such a reset the next connection is made with the limit raised to
//! the reported size (up to `oversize_skip_limit`); the message is read,
//! acknowledged and reported as an error item with its topic.
//! Later connections use the configured limit again. Memory stays bounded
//! by `oversize_skip_limit`.

use rumqttc::{MqttOptions, Publish, QoS};

/// The consumer's limit and how far it may be raised to skip a packet.
#[derive(Debug)]
pub(crate) struct OversizeSkip {
    max_packet: usize,
    skip_limit: usize,
    raised: bool,
}

/// What a reset at an oversized packet leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reset {
    /// The next connection reads packets up to the size reported.
    WillSkip,
    /// Over `oversize_skip_limit` (or skipping disabled): a QoS 1 message
    /// will fail the next connection too.
    TooLargeToSkip,
}

impl OversizeSkip {
    pub(crate) fn new(max_packet: usize, skip_limit: usize) -> Self {
        Self {
            max_packet,
            skip_limit,
            raised: false,
        }
    }

    /// rumqttc reset the connection at a packet of remaining length `size`.
    pub(crate) fn on_reset(&mut self, size: usize, options: &mut MqttOptions) -> Reset {
        if size > self.skip_limit {
            return Reset::TooLargeToSkip;
        }
        options.set_max_packet_size(size.max(self.max_packet), self.max_packet);
        self.raised = true;
        Reset::WillSkip
    }

    /// Connected. This connection keeps the limit it was made with; later
    /// ones get the configured limit again.
    pub(crate) fn on_connack(&mut self, options: &mut MqttOptions) {
        if std::mem::take(&mut self.raised) {
            options.set_max_packet_size(self.max_packet, self.max_packet);
        }
    }

    /// The remaining length of `publish` when it exceeds `max_packet_size`
    /// (possible only on a connection made with a raised limit).
    pub(crate) fn oversized(&self, publish: &Publish) -> Option<usize> {
        let pkid = if publish.qos == QoS::AtMostOnce { 0 } else { 2 };
        let size = 2 + publish.topic.len() + pkid + publish.payload.len();
        (size > self.max_packet).then_some(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raises_once_then_restores() {
        let mut options = MqttOptions::new("c", "127.0.0.1", 1883);
        options.set_max_packet_size(1000, 1000);
        let mut skip = OversizeSkip::new(1000, 5000);
        assert_eq!(skip.on_reset(6000, &mut options), Reset::TooLargeToSkip);
        assert_eq!(options.max_packet_size(), 1000);
        assert_eq!(skip.on_reset(4000, &mut options), Reset::WillSkip);
        assert_eq!(options.max_packet_size(), 4000);
        skip.on_connack(&mut options);
        assert_eq!(options.max_packet_size(), 1000);
        skip.on_connack(&mut options);
        assert_eq!(options.max_packet_size(), 1000);
    }

    #[test]
    fn disabled_never_raises() {
        let mut options = MqttOptions::new("c", "127.0.0.1", 1883);
        let mut skip = OversizeSkip::new(1000, 0);
        assert_eq!(skip.on_reset(1001, &mut options), Reset::TooLargeToSkip);
    }

    #[test]
    fn oversized_uses_the_remaining_length() {
        let skip = OversizeSkip::new(100, 1000);
        // 2 + 5 (topic) + 2 (packet id) + 91 = 100: fits exactly.
        let at = Publish::new("a/b/c", QoS::AtLeastOnce, vec![0u8; 91]);
        assert_eq!(skip.oversized(&at), None);
        let over = Publish::new("a/b/c", QoS::AtLeastOnce, vec![0u8; 92]);
        assert_eq!(skip.oversized(&over), Some(101));
        let qos0 = Publish::new("a/b/c", QoS::AtMostOnce, vec![0u8; 93]);
        assert_eq!(skip.oversized(&qos0), None);
    }
}
