//! Observability: the connection state and the transport's counters.
//!
//! * [`ConnectionState`] is published through a
//!   [`tokio::sync::watch::Receiver`] (`Publisher::state`,
//!   `Consumer::state`), e.g. for a readiness check that fails while a
//!   client is disconnected for longer than some grace period.
//! * [`Stats`] holds atomic counters readable at any time
//!   ([`Stats::snapshot`]).
//! * With the `metrics` feature the same numbers go to the `metrics`
//!   facade (names in the module documentation): `Stats`' event methods
//!   update both.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use super::connect_failure::ConnectFailure;
use super::metrics::{DropReason, Metrics};

/// Where a publisher's or consumer's connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// The first connection attempt is under way; never connected yet.
    Connecting,
    /// Connected: the broker accepted the session (CONNACK).
    Connected {
        /// When the CONNACK arrived.
        since: Instant,
    },
    /// The connection was lost, or the last attempt failed for a network
    /// reason; reconnecting with backoff.
    Disconnected {
        /// When the client was last connected, or when it started
        /// connecting if it never was: how long it has been unavailable.
        since: Instant,
    },
    /// The last attempt was refused: by the broker (credentials,
    /// authorization) or by the TLS handshake (certificates). Retried with
    /// backoff, but this will not pass until a credential, certificate or
    /// broker setting changes. Queued frames are kept.
    Refused {
        /// When the client was last connected, or when it started
        /// connecting if it never was.
        since: Instant,
        /// Why.
        reason: ConnectFailure,
    },
    /// Closed by the application; the connection task has ended.
    Closed,
}

impl ConnectionState {
    /// Whether the client is connected now.
    pub fn is_connected(&self) -> bool {
        matches!(self, ConnectionState::Connected { .. })
    }

    /// The refusal, if the last attempt was refused.
    pub fn refusal(&self) -> Option<ConnectFailure> {
        match self {
            ConnectionState::Refused { reason, .. } => Some(*reason),
            _ => None,
        }
    }
}

/// The transport's counters, updated with relaxed atomics.
///
/// One `Stats` belongs to one publisher or consumer; counters that do not
/// apply to it stay 0.
#[derive(Debug, Default)]
pub struct Stats {
    pub(crate) published: AtomicU64,
    pub(crate) sent: AtomicU64,
    pub(crate) resent: AtomicU64,
    pub(crate) acked: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) closed_unacked: AtomicU64,
    pub(crate) queue_depth: AtomicU64,
    pub(crate) queue_bytes: AtomicU64,
    pub(crate) queue_depth_max: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) decode_errors: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) stale: AtomicU64,
    pub(crate) seq_resets: AtomicU64,
    pub(crate) missing: AtomicU64,
    pub(crate) recovered: AtomicU64,
    pub(crate) dedup_evictions: AtomicU64,
    pub(crate) births: AtomicU64,
    pub(crate) subscribed: AtomicU64,
    pub(crate) connects: AtomicU64,
    pub(crate) disconnects: AtomicU64,
    pub(crate) read_pauses: AtomicU64,
    pub(crate) returned: AtomicU64,
    pub(crate) unacked: AtomicU64,
    pub(crate) connect_failures: AtomicU64,
    /// `1 + index in ConnectFailure::ALL` of the last failure; 0 for none.
    pub(crate) last_connect_failure: AtomicU8,
    /// The same events as metrics (no-ops without a recorder or feature).
    pub(crate) metrics: Metrics,
}

/// A copy of [`Stats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Frames accepted by `publish` into the queue.
    pub published: u64,
    /// PUBLISH packets of frames written to the socket, resends included.
    pub sent: u64,
    /// Frames handed to rumqttc again after a connection loss.
    pub resent: u64,
    /// Frames acknowledged by the broker (QoS 1) or written (QoS 0).
    pub acked: u64,
    /// Frames dropped from a full queue (drop-oldest policy).
    pub dropped: u64,
    /// Frames refused by `publish` (queue full with reject-new, or too large).
    pub rejected: u64,
    /// Frames still queued, unacknowledged, when the publisher was closed.
    pub closed_unacked: u64,
    /// Frames queued now.
    pub queue_depth: u64,
    /// Payload bytes queued now.
    pub queue_bytes: u64,
    /// The largest queue depth seen.
    pub queue_depth_max: u64,
    /// Frames delivered to the application (after deduplication).
    pub received: u64,
    /// Error items: undecodable payloads, unexpected topics, refused
    /// subscriptions (not the `FramesMissing` reports).
    pub decode_errors: u64,
    /// Frames suppressed as duplicates.
    pub duplicates: u64,
    /// Frames the ledger could not judge (behind its window, before the
    /// first frame seen of their epoch, or of an older epoch); delivered.
    pub stale: u64,
    /// New session epochs seen (a device restarted).
    pub seq_resets: u64,
    /// Frames reported missing (`ReceiveError::FramesMissing`), including
    /// those that turned up later (`recovered`): the frames missing now
    /// are `missing - recovered`.
    pub missing: u64,
    /// Frames that filled a gap after it was reported; delivered.
    pub recovered: u64,
    /// Devices the ledger forgot to make room for another
    /// (`dedup.max_devices`): losses and duplicates of such a device before
    /// its next frame cannot be detected.
    pub dedup_evictions: u64,
    /// Birth messages applied to alias tables.
    pub births: u64,
    /// Subscriptions the broker confirmed (one per SUBACK whose filters
    /// were all granted; one per connect).
    pub subscribed: u64,
    /// Successful connections (CONNACKs).
    pub connects: u64,
    /// Connections lost or attempts failed.
    pub disconnects: u64,
    /// Consumer: pauses before reading again, taken while the broker sent
    /// one message per wake-up ([`ReadCoalescing`](super::ReadCoalescing)).
    pub read_pauses: u64,
    /// Connection attempts that failed (refused, or the network's fault);
    /// by reason in `iot_mqtt_connect_failures_total`.
    pub connect_failures: u64,
    /// Consumer with [`AckMode::Manual`](super::AckMode::Manual): frames the
    /// application gave back (a dropped or `nack`ed handle) for the broker
    /// to redeliver.
    pub returned: u64,
    /// Consumer with [`AckMode::Manual`](super::AckMode::Manual): QoS 1
    /// messages of the current connection not acknowledged to the broker
    /// yet (at most `max_unacked`).
    pub unacked: u64,
    /// Why the most recent failed attempt failed; `None` if none has.
    pub last_connect_failure: Option<ConnectFailure>,
}

impl Stats {
    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            published: self.published.load(Relaxed),
            sent: self.sent.load(Relaxed),
            resent: self.resent.load(Relaxed),
            acked: self.acked.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
            closed_unacked: self.closed_unacked.load(Relaxed),
            queue_depth: self.queue_depth.load(Relaxed),
            queue_bytes: self.queue_bytes.load(Relaxed),
            queue_depth_max: self.queue_depth_max.load(Relaxed),
            received: self.received.load(Relaxed),
            decode_errors: self.decode_errors.load(Relaxed),
            duplicates: self.duplicates.load(Relaxed),
            stale: self.stale.load(Relaxed),
            seq_resets: self.seq_resets.load(Relaxed),
            missing: self.missing.load(Relaxed),
            recovered: self.recovered.load(Relaxed),
            dedup_evictions: self.dedup_evictions.load(Relaxed),
            births: self.births.load(Relaxed),
            subscribed: self.subscribed.load(Relaxed),
            connects: self.connects.load(Relaxed),
            disconnects: self.disconnects.load(Relaxed),
            read_pauses: self.read_pauses.load(Relaxed),
            connect_failures: self.connect_failures.load(Relaxed),
            returned: self.returned.load(Relaxed),
            unacked: self.unacked.load(Relaxed),
            last_connect_failure: match self.last_connect_failure.load(Relaxed) {
                0 => None,
                i => ConnectFailure::ALL.get(usize::from(i) - 1).copied(),
            },
        }
    }

    /// Counters registered as metrics of `role` with the current recorder.
    pub(crate) fn new(role: Role) -> Self {
        Self {
            metrics: Metrics::register(role),
            ..Self::default()
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// `publish` accepted a frame.
    pub(crate) fn published(&self) {
        Self::add(&self.published, 1);
        self.metrics.published(1);
    }

    /// A frame's PUBLISH was written; at QoS 0 that also completes it.
    pub(crate) fn sent(&self, completes: bool) {
        Self::add(&self.sent, 1);
        self.metrics.sent(1);
        if completes {
            self.acked();
        }
    }

    /// The broker acknowledged a frame (or, QoS 0, it was written).
    pub(crate) fn acked(&self) {
        Self::add(&self.acked, 1);
        self.metrics.acked(1);
    }

    /// Frames handed to rumqttc again after a connection loss.
    pub(crate) fn resent(&self, n: u64) {
        Self::add(&self.resent, n);
        self.metrics.resent(n);
    }

    /// Frames given up: counted in the snapshot field of `reason` and
    /// under its label.
    pub(crate) fn dropped(&self, reason: DropReason, n: u64) {
        let counter = match reason {
            DropReason::QueueFull => &self.dropped,
            DropReason::Rejected | DropReason::TooLarge => &self.rejected,
            DropReason::Closed => &self.closed_unacked,
        };
        Self::add(counter, n);
        self.metrics.dropped(reason, n);
    }

    /// A frame went to the application.
    pub(crate) fn received(&self) {
        Self::add(&self.received, 1);
        self.metrics.received(1);
    }

    /// An error item went to the application.
    pub(crate) fn decode_error(&self) {
        Self::add(&self.decode_errors, 1);
        self.metrics.decode_error();
    }

    /// A duplicate was suppressed.
    pub(crate) fn duplicate(&self) {
        Self::add(&self.duplicates, 1);
        self.metrics.duplicate();
    }

    /// The ledger found `n` frames missing.
    pub(crate) fn missing(&self, n: u64) {
        Self::add(&self.missing, n);
        self.metrics.missing(n);
    }

    /// The application gave `n` frames back for redelivery.
    pub(crate) fn returned(&self, n: u64) {
        Self::add(&self.returned, n);
        self.metrics.returned(n);
    }

    /// Messages not acknowledged to the broker yet, now.
    pub(crate) fn set_unacked(&self, n: u64) {
        let old = self.unacked.swap(n, Relaxed);
        self.metrics.unacked(old, n);
    }

    /// A frame filled a gap reported before.
    pub(crate) fn recovered(&self) {
        Self::add(&self.recovered, 1);
        self.metrics.recovered();
    }

    /// The ledger forgot `n` devices.
    pub(crate) fn dedup_evicted(&self, n: u64) {
        Self::add(&self.dedup_evictions, n);
        self.metrics.dedup_evicted(n);
    }

    /// A connection attempt failed.
    pub(crate) fn connect_failure(&self, reason: ConnectFailure) {
        Self::add(&self.connect_failures, 1);
        let index = ConnectFailure::ALL.iter().position(|r| *r == reason);
        // `ALL` has fewer than 255 entries.
        let code = index.map_or(0, |i| u8::try_from(i + 1).unwrap_or(0));
        self.last_connect_failure.store(code, Relaxed);
        self.metrics.connect_failure(reason);
    }

    pub(crate) fn read_pause(&self) {
        Self::add(&self.read_pauses, 1);
        self.metrics.read_pause();
    }

    /// Stores the queue's size and reports the change to the gauges.
    pub(crate) fn set_queue(&self, depth: usize, bytes: usize) {
        let depth = depth as u64;
        let bytes = bytes as u64;
        let old_depth = self.queue_depth.swap(depth, Relaxed);
        let old_bytes = self.queue_bytes.swap(bytes, Relaxed);
        self.queue_depth_max.fetch_max(depth, Relaxed);
        self.metrics.queue(old_depth, depth, old_bytes, bytes);
    }
}

/// The role label of the connection gauges.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Role {
    Publisher,
    Consumer,
}
