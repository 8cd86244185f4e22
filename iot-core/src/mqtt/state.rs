//! Observability: the connection state and the transport's counters.
//!
//! * [`ConnectionState`] is published through a
//!   [`tokio::sync::watch::Receiver`] (`Publisher::state`,
//!   `Consumer::state`), e.g. for a readiness check that fails while a
//!   client is disconnected for longer than some grace period.
//! * [`Stats`] holds atomic counters readable at any time
//!   ([`Stats::snapshot`]).
//! * With the `metrics` feature the same numbers go to the `metrics`
//!   facade (names in the module documentation).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

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
    /// The connection was lost or refused; reconnecting with backoff.
    Disconnected {
        /// When the client was last connected, or when it started
        /// connecting if it never was: how long it has been unavailable.
        since: Instant,
    },
    /// Closed by the application; the connection task has ended.
    Closed,
}

impl ConnectionState {
    /// Whether the client is connected now.
    pub fn is_connected(&self) -> bool {
        matches!(self, ConnectionState::Connected { .. })
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
    pub(crate) births: AtomicU64,
    pub(crate) subscribed: AtomicU64,
    pub(crate) connects: AtomicU64,
    pub(crate) disconnects: AtomicU64,
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
    /// subscriptions.
    pub decode_errors: u64,
    /// Frames suppressed as duplicates.
    pub duplicates: u64,
    /// Frames too far behind the dedup window to be judged; delivered.
    pub stale: u64,
    /// Times a device's sequence restarted (window reset).
    pub seq_resets: u64,
    /// Birth messages applied to alias tables.
    pub births: u64,
    /// Subscriptions the broker confirmed (one per SUBACK whose filters
    /// were all granted; one per connect).
    pub subscribed: u64,
    /// Successful connections (CONNACKs).
    pub connects: u64,
    /// Connections lost or attempts failed.
    pub disconnects: u64,
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
            births: self.births.load(Relaxed),
            subscribed: self.subscribed.load(Relaxed),
            connects: self.connects.load(Relaxed),
            disconnects: self.disconnects.load(Relaxed),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// Stores the queue's size and reports the change to the gauges.
    pub(crate) fn set_queue(&self, depth: usize, bytes: usize) {
        let depth = depth as u64;
        let bytes = bytes as u64;
        let old_depth = self.queue_depth.swap(depth, Relaxed);
        let old_bytes = self.queue_bytes.swap(bytes, Relaxed);
        self.queue_depth_max.fetch_max(depth, Relaxed);
        metrics_impl::queue(old_depth, depth, old_bytes, bytes);
    }
}

/// The role label of the connection gauges.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Role {
    Publisher,
    Consumer,
}

/// Every metric of the MQTT transport, with its HELP text.
#[cfg(feature = "metrics")]
pub(crate) const METRICS: &[(&str, &str)] = &[
    (
        "iot_mqtt_frames_published_total",
        "Frames accepted by Publisher::publish.",
    ),
    (
        "iot_mqtt_frames_sent_total",
        "PUBLISH packets of frames written to the broker, resends included.",
    ),
    (
        "iot_mqtt_frames_resent_total",
        "Frames handed to the client again after a connection loss.",
    ),
    (
        "iot_mqtt_frames_acked_total",
        "Frames acknowledged by the broker (QoS 1) or written (QoS 0).",
    ),
    (
        "iot_mqtt_frames_dropped_total",
        "Frames given up, by reason; nothing is dropped silently.",
    ),
    (
        "iot_mqtt_frames_received_total",
        "Frames delivered by consumers after deduplication.",
    ),
    (
        "iot_mqtt_frames_decode_errors_total",
        "Payloads that failed to decode, reported as error items.",
    ),
    (
        "iot_mqtt_frames_duplicate_total",
        "QoS 1 redeliveries suppressed by (device, sequence).",
    ),
    (
        "iot_mqtt_connected",
        "MQTT clients currently connected, by role.",
    ),
    (
        "iot_mqtt_reconnects_total",
        "Connections lost or connection attempts failed, by role.",
    ),
    (
        "iot_mqtt_queue_depth",
        "Frames queued for the broker, not yet acknowledged.",
    ),
    (
        "iot_mqtt_queue_bytes",
        "Payload bytes queued for the broker, not yet acknowledged.",
    ),
];

#[cfg(feature = "metrics")]
pub(crate) mod metrics_impl {
    use super::Role;

    /// Registers HELP text and units with the current recorder. Cheap and
    /// idempotent; called whenever a publisher or consumer starts, so the
    /// text reaches whichever recorder the application installed first.
    pub(crate) fn describe() {
        for &(name, help) in super::METRICS {
            if name.ends_with("_total") {
                metrics::describe_counter!(name, metrics::Unit::Count, help);
            } else if name.ends_with("_bytes") {
                metrics::describe_gauge!(name, metrics::Unit::Bytes, help);
            } else {
                metrics::describe_gauge!(name, metrics::Unit::Count, help);
            }
        }
    }

    /// Describes the metrics and registers the series a publisher or a
    /// consumer reports at zero, so dashboards and alerts (rates of decode
    /// errors, drops) see `0` from the start instead of no data.
    pub(crate) fn register(r: Role) {
        describe();
        metrics::counter!("iot_mqtt_reconnects_total", "role" => role(r)).increment(0);
        metrics::gauge!("iot_mqtt_connected", "role" => role(r)).increment(0.0);
        match r {
            Role::Publisher => {
                for name in [
                    "iot_mqtt_frames_published_total",
                    "iot_mqtt_frames_sent_total",
                    "iot_mqtt_frames_resent_total",
                    "iot_mqtt_frames_acked_total",
                ] {
                    metrics::counter!(name).increment(0);
                }
                for reason in ["queue_full", "rejected", "too_large", "closed"] {
                    metrics::counter!("iot_mqtt_frames_dropped_total", "reason" => reason)
                        .increment(0);
                }
                metrics::gauge!("iot_mqtt_queue_depth").increment(0.0);
                metrics::gauge!("iot_mqtt_queue_bytes").increment(0.0);
            }
            Role::Consumer => {
                for name in [
                    "iot_mqtt_frames_received_total",
                    "iot_mqtt_frames_decode_errors_total",
                    "iot_mqtt_frames_duplicate_total",
                ] {
                    metrics::counter!(name).increment(0);
                }
            }
        }
    }

    fn role(r: Role) -> &'static str {
        match r {
            Role::Publisher => "publisher",
            Role::Consumer => "consumer",
        }
    }

    pub(crate) fn published(n: u64) {
        metrics::counter!("iot_mqtt_frames_published_total").increment(n);
    }
    pub(crate) fn sent(n: u64) {
        metrics::counter!("iot_mqtt_frames_sent_total").increment(n);
    }
    pub(crate) fn resent(n: u64) {
        metrics::counter!("iot_mqtt_frames_resent_total").increment(n);
    }
    pub(crate) fn acked(n: u64) {
        metrics::counter!("iot_mqtt_frames_acked_total").increment(n);
    }
    pub(crate) fn dropped(reason: &'static str, n: u64) {
        metrics::counter!("iot_mqtt_frames_dropped_total", "reason" => reason).increment(n);
    }
    pub(crate) fn received(n: u64) {
        metrics::counter!("iot_mqtt_frames_received_total").increment(n);
    }
    pub(crate) fn decode_error() {
        metrics::counter!("iot_mqtt_frames_decode_errors_total").increment(1);
    }
    pub(crate) fn duplicate() {
        metrics::counter!("iot_mqtt_frames_duplicate_total").increment(1);
    }
    pub(crate) fn connected(r: Role, up: bool) {
        let g = metrics::gauge!("iot_mqtt_connected", "role" => role(r));
        if up {
            g.increment(1.0);
        } else {
            g.decrement(1.0);
        }
    }
    pub(crate) fn reconnect(r: Role) {
        metrics::counter!("iot_mqtt_reconnects_total", "role" => role(r)).increment(1);
    }
    pub(crate) fn queue(old_depth: u64, depth: u64, old_bytes: u64, bytes: u64) {
        if old_depth != depth {
            metrics::gauge!("iot_mqtt_queue_depth").increment(depth as f64 - old_depth as f64);
        }
        if old_bytes != bytes {
            metrics::gauge!("iot_mqtt_queue_bytes").increment(bytes as f64 - old_bytes as f64);
        }
    }
}

#[cfg(not(feature = "metrics"))]
#[allow(clippy::missing_const_for_fn)]
pub(crate) mod metrics_impl {
    use super::Role;

    pub(crate) fn register(_: Role) {}
    pub(crate) fn published(_: u64) {}
    pub(crate) fn sent(_: u64) {}
    pub(crate) fn resent(_: u64) {}
    pub(crate) fn acked(_: u64) {}
    pub(crate) fn dropped(_: &'static str, _: u64) {}
    pub(crate) fn received(_: u64) {}
    pub(crate) fn decode_error() {}
    pub(crate) fn duplicate() {}
    pub(crate) fn connected(_: Role, _: bool) {}
    pub(crate) fn reconnect(_: Role) {}
    pub(crate) fn queue(_: u64, _: u64, _: u64, _: u64) {}
}

#[cfg(all(test, feature = "metrics"))]
mod metrics_tests {
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    use metrics::{
        Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
    };

    #[derive(Default)]
    struct Described(Mutex<BTreeSet<String>>, Mutex<BTreeSet<String>>);

    impl Recorder for Described {
        fn describe_counter(&self, key: KeyName, _: Option<Unit>, help: SharedString) {
            assert!(!help.is_empty());
            self.0.lock().unwrap().insert(key.as_str().to_owned());
        }
        fn describe_gauge(&self, key: KeyName, _: Option<Unit>, help: SharedString) {
            assert!(!help.is_empty());
            self.0.lock().unwrap().insert(key.as_str().to_owned());
        }
        fn describe_histogram(&self, key: KeyName, _: Option<Unit>, _: SharedString) {
            self.0.lock().unwrap().insert(key.as_str().to_owned());
        }
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            self.1.lock().unwrap().insert(key.name().to_owned());
            Counter::noop()
        }
        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
            self.1.lock().unwrap().insert(key.name().to_owned());
            Gauge::noop()
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    /// Every metric name this module records has HELP text: the names are
    /// read from the source, so a new metric without a description fails.
    #[test]
    fn every_recorded_metric_is_described() {
        let recorder = Described::default();
        metrics::with_local_recorder(&recorder, super::metrics_impl::describe);
        let described = recorder.0.into_inner().unwrap();
        let source = include_str!("state.rs");
        let recorded: BTreeSet<String> = source
            .split('"')
            .filter(|s| s.starts_with("iot_mqtt_") && s.len() > 9 && !s.contains(' '))
            .map(str::to_owned)
            .collect();
        assert_eq!(recorded.len(), 12, "{recorded:?}");
        assert_eq!(described, recorded);
    }

    /// A publisher and a consumer together register every series at start,
    /// so a decode-error rate is 0, not "no data", before the first error.
    #[test]
    fn every_metric_is_registered_at_start() {
        let recorder = Described::default();
        metrics::with_local_recorder(&recorder, || {
            super::metrics_impl::register(super::Role::Publisher);
            super::metrics_impl::register(super::Role::Consumer);
        });
        let described = recorder.0.into_inner().unwrap();
        let registered = recorder.1.into_inner().unwrap();
        assert_eq!(registered, described);
    }
}
