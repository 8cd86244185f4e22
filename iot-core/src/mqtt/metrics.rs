//! The transport's metrics through the `metrics` facade (feature
//! `metrics`): names, HELP text, and handles registered once per publisher
//! or consumer, so an event costs an atomic add on a held handle rather
//! than a key lookup in the recorder.
//!
//! Handles bind to the recorder installed when the publisher or consumer
//! starts: install the exporter first. Without the feature every call is a
//! no-op and nothing is linked.

use super::connect_failure::ConnectFailure;
use super::state::Role;

/// Why frames were given up: the `reason` label of
/// `iot_mqtt_frames_dropped_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropReason {
    /// Drop-oldest made room for newer frames.
    QueueFull,
    /// Reject-new refused a frame.
    Rejected,
    /// Larger than `max_packet_size` or the queue's byte bound.
    TooLarge,
    /// Still queued when the publisher stopped.
    Closed,
}

impl DropReason {
    #[cfg(feature = "metrics")]
    const ALL: [DropReason; 4] = [
        DropReason::QueueFull,
        DropReason::Rejected,
        DropReason::TooLarge,
        DropReason::Closed,
    ];

    /// The label value.
    #[cfg(feature = "metrics")]
    fn label(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::Rejected => "rejected",
            DropReason::TooLarge => "too_large",
            DropReason::Closed => "closed",
        }
    }
}

impl Role {
    /// The `role` label value.
    #[cfg(feature = "metrics")]
    fn label(self) -> &'static str {
        match self {
            Role::Publisher => "publisher",
            Role::Consumer => "consumer",
        }
    }
}

/// Every metric of the MQTT transport, with its HELP text.
#[cfg(feature = "metrics")]
const METRICS: &[(&str, &str)] = &[
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
        "iot_mqtt_frames_missing_total",
        "Frames the consumer's ledger found missing (gaps in a device's sequence), reported as error items.",
    ),
    (
        "iot_mqtt_frames_recovered_total",
        "Frames that arrived after the ledger had reported them missing.",
    ),
    (
        "iot_mqtt_dedup_evictions_total",
        "Devices the consumer's ledger forgot to make room for another (dedup.max_devices).",
    ),
    (
        "iot_mqtt_frames_returned_total",
        "Frames a consumer's application gave back unacknowledged (AckMode::Manual), for the broker to redeliver.",
    ),
    (
        "iot_mqtt_consumer_unacked",
        "QoS 1 messages consumers hold unacknowledged to the broker (AckMode::Manual).",
    ),
    (
        "iot_mqtt_read_pauses_total",
        "Consumer read-coalescing pauses (the broker sent one message per wake-up).",
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
        "iot_mqtt_connect_failures_total",
        "Connection attempts that failed, by role and reason (refusals and network faults).",
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

#[cfg(not(feature = "metrics"))]
pub(crate) use disabled::Metrics;
#[cfg(feature = "metrics")]
pub(crate) use enabled::Metrics;

#[cfg(feature = "metrics")]
mod enabled {
    use metrics::{Counter, Gauge};

    use super::{ConnectFailure, DropReason, METRICS, Role};

    /// The handles of one publisher or consumer; the series of the other
    /// role are no-ops, so they are not created.
    #[derive(Debug, Clone)]
    pub(crate) struct Metrics {
        published: Counter,
        sent: Counter,
        resent: Counter,
        acked: Counter,
        /// By `DropReason as usize`.
        dropped: [Counter; 4],
        received: Counter,
        decode_errors: Counter,
        duplicates: Counter,
        missing: Counter,
        recovered: Counter,
        dedup_evictions: Counter,
        returned: Counter,
        unacked: Gauge,
        read_pauses: Counter,
        connected: Gauge,
        reconnects: Counter,
        /// By the index of the reason in `ConnectFailure::ALL`.
        connect_failures: [Counter; ConnectFailure::ALL.len()],
        queue_depth: Gauge,
        queue_bytes: Gauge,
    }

    impl Default for Metrics {
        fn default() -> Self {
            Self {
                published: Counter::noop(),
                sent: Counter::noop(),
                resent: Counter::noop(),
                acked: Counter::noop(),
                dropped: std::array::from_fn(|_| Counter::noop()),
                received: Counter::noop(),
                decode_errors: Counter::noop(),
                duplicates: Counter::noop(),
                missing: Counter::noop(),
                recovered: Counter::noop(),
                dedup_evictions: Counter::noop(),
                returned: Counter::noop(),
                unacked: Gauge::noop(),
                read_pauses: Counter::noop(),
                connected: Gauge::noop(),
                reconnects: Counter::noop(),
                connect_failures: std::array::from_fn(|_| Counter::noop()),
                queue_depth: Gauge::noop(),
                queue_bytes: Gauge::noop(),
            }
        }
    }

    /// Registers HELP text and units with the current recorder; cheap and
    /// idempotent.
    pub(super) fn describe() {
        for &(name, help) in METRICS {
            if name.ends_with("_total") {
                metrics::describe_counter!(name, metrics::Unit::Count, help);
            } else if name.ends_with("_bytes") {
                metrics::describe_gauge!(name, metrics::Unit::Bytes, help);
            } else {
                metrics::describe_gauge!(name, metrics::Unit::Count, help);
            }
        }
    }

    /// A counter registered at 0, so dashboards and alerts (rates of
    /// decode errors, drops) see `0` from the start instead of no data.
    fn counter(handle: Counter) -> Counter {
        handle.increment(0);
        handle
    }

    fn gauge(handle: Gauge) -> Gauge {
        handle.increment(0.0);
        handle
    }

    impl Metrics {
        /// Describes the metrics and registers the series of `role` with
        /// the current recorder.
        pub(crate) fn register(role: Role) -> Self {
            describe();
            let label = role.label();
            let mut m = Self {
                connected: gauge(metrics::gauge!("iot_mqtt_connected", "role" => label)),
                reconnects: counter(
                    metrics::counter!("iot_mqtt_reconnects_total", "role" => label),
                ),
                connect_failures: ConnectFailure::ALL.map(|r| {
                    counter(metrics::counter!(
                        "iot_mqtt_connect_failures_total",
                        "role" => label,
                        "reason" => r.as_str()
                    ))
                }),
                ..Self::default()
            };
            match role {
                Role::Publisher => {
                    m.published = counter(metrics::counter!("iot_mqtt_frames_published_total"));
                    m.sent = counter(metrics::counter!("iot_mqtt_frames_sent_total"));
                    m.resent = counter(metrics::counter!("iot_mqtt_frames_resent_total"));
                    m.acked = counter(metrics::counter!("iot_mqtt_frames_acked_total"));
                    m.dropped = DropReason::ALL.map(|r| {
                        counter(metrics::counter!("iot_mqtt_frames_dropped_total", "reason" => r.label()))
                    });
                    m.queue_depth = gauge(metrics::gauge!("iot_mqtt_queue_depth"));
                    m.queue_bytes = gauge(metrics::gauge!("iot_mqtt_queue_bytes"));
                }
                Role::Consumer => {
                    m.received = counter(metrics::counter!("iot_mqtt_frames_received_total"));
                    m.decode_errors =
                        counter(metrics::counter!("iot_mqtt_frames_decode_errors_total"));
                    m.duplicates = counter(metrics::counter!("iot_mqtt_frames_duplicate_total"));
                    m.missing = counter(metrics::counter!("iot_mqtt_frames_missing_total"));
                    m.recovered = counter(metrics::counter!("iot_mqtt_frames_recovered_total"));
                    m.dedup_evictions =
                        counter(metrics::counter!("iot_mqtt_dedup_evictions_total"));
                    m.read_pauses = counter(metrics::counter!("iot_mqtt_read_pauses_total"));
                    m.returned = counter(metrics::counter!("iot_mqtt_frames_returned_total"));
                    m.unacked = gauge(metrics::gauge!("iot_mqtt_consumer_unacked"));
                }
            }
            m
        }

        pub(crate) fn published(&self, n: u64) {
            self.published.increment(n);
        }
        pub(crate) fn sent(&self, n: u64) {
            self.sent.increment(n);
        }
        pub(crate) fn resent(&self, n: u64) {
            self.resent.increment(n);
        }
        pub(crate) fn acked(&self, n: u64) {
            self.acked.increment(n);
        }
        pub(crate) fn dropped(&self, reason: DropReason, n: u64) {
            self.dropped[reason as usize].increment(n);
        }
        pub(crate) fn received(&self, n: u64) {
            self.received.increment(n);
        }
        pub(crate) fn decode_error(&self) {
            self.decode_errors.increment(1);
        }
        pub(crate) fn duplicate(&self) {
            self.duplicates.increment(1);
        }
        pub(crate) fn missing(&self, n: u64) {
            self.missing.increment(n);
        }
        pub(crate) fn recovered(&self) {
            self.recovered.increment(1);
        }
        pub(crate) fn dedup_evicted(&self, n: u64) {
            self.dedup_evictions.increment(n);
        }
        pub(crate) fn read_pause(&self) {
            self.read_pauses.increment(1);
        }
        pub(crate) fn returned(&self, n: u64) {
            self.returned.increment(n);
        }
        /// A sum over all consumers: each reports its own changes.
        pub(crate) fn unacked(&self, old: u64, now: u64) {
            if old != now {
                self.unacked.increment(now as f64 - old as f64);
            }
        }
        pub(crate) fn connected(&self, up: bool) {
            if up {
                self.connected.increment(1.0);
            } else {
                self.connected.decrement(1.0);
            }
        }
        pub(crate) fn reconnect(&self) {
            self.reconnects.increment(1);
        }
        pub(crate) fn connect_failure(&self, reason: ConnectFailure) {
            if let Some(i) = ConnectFailure::ALL.iter().position(|r| *r == reason) {
                self.connect_failures[i].increment(1);
            }
        }
        /// The queue gauges are sums over all publishers: each reports its
        /// own changes.
        pub(crate) fn queue(&self, old_depth: u64, depth: u64, old_bytes: u64, bytes: u64) {
            if old_depth != depth {
                self.queue_depth.increment(depth as f64 - old_depth as f64);
            }
            if old_bytes != bytes {
                self.queue_bytes.increment(bytes as f64 - old_bytes as f64);
            }
        }
    }
}

#[cfg(not(feature = "metrics"))]
#[allow(clippy::missing_const_for_fn, clippy::unused_self)]
mod disabled {
    use super::{ConnectFailure, DropReason, Role};

    /// Without the `metrics` feature: nothing.
    #[derive(Debug, Clone, Default)]
    pub(crate) struct Metrics;

    impl Metrics {
        pub(crate) fn register(_: Role) -> Self {
            Self
        }
        pub(crate) fn published(&self, _: u64) {}
        pub(crate) fn sent(&self, _: u64) {}
        pub(crate) fn resent(&self, _: u64) {}
        pub(crate) fn acked(&self, _: u64) {}
        pub(crate) fn dropped(&self, _: DropReason, _: u64) {}
        pub(crate) fn received(&self, _: u64) {}
        pub(crate) fn decode_error(&self) {}
        pub(crate) fn duplicate(&self) {}
        pub(crate) fn missing(&self, _: u64) {}
        pub(crate) fn recovered(&self) {}
        pub(crate) fn dedup_evicted(&self, _: u64) {}
        pub(crate) fn read_pause(&self) {}
        pub(crate) fn returned(&self, _: u64) {}
        pub(crate) fn unacked(&self, _: u64, _: u64) {}
        pub(crate) fn connected(&self, _: bool) {}
        pub(crate) fn reconnect(&self) {}
        pub(crate) fn connect_failure(&self, _: ConnectFailure) {}
        pub(crate) fn queue(&self, _: u64, _: u64, _: u64, _: u64) {}
    }
}

#[cfg(all(test, feature = "metrics"))]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    use metrics::{
        Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
    };

    use super::{DropReason, Metrics, Role};

    #[derive(Default)]
    struct Recorded {
        described: Mutex<BTreeSet<String>>,
        /// `name{label=value}` of every registered series.
        registered: Mutex<BTreeSet<String>>,
    }

    impl Recorded {
        fn register(&self, key: &Key) {
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            self.registered.lock().unwrap().insert(format!(
                "{}{{{}}}",
                key.name(),
                labels.join(",")
            ));
        }
    }

    impl Recorded {
        fn describe(&self, key: &KeyName) {
            self.described
                .lock()
                .unwrap()
                .insert(key.as_str().to_owned());
        }
    }

    impl Recorder for Recorded {
        fn describe_counter(&self, key: KeyName, _: Option<Unit>, help: SharedString) {
            assert!(!help.is_empty());
            self.describe(&key);
        }
        fn describe_gauge(&self, key: KeyName, _: Option<Unit>, help: SharedString) {
            assert!(!help.is_empty());
            self.describe(&key);
        }
        fn describe_histogram(&self, key: KeyName, _: Option<Unit>, _: SharedString) {
            self.describe(&key);
        }
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            self.register(key);
            Counter::noop()
        }
        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
            self.register(key);
            Gauge::noop()
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    /// Every metric name this module registers has HELP text: the names are
    /// read from the source, so a new metric without a description fails.
    #[test]
    fn every_metric_is_described() {
        let recorder = Recorded::default();
        metrics::with_local_recorder(&recorder, super::enabled::describe);
        let described = recorder.described.into_inner().unwrap();
        let source = include_str!("metrics.rs");
        let named: BTreeSet<String> = source
            .split('"')
            .filter(|s| {
                s.starts_with("iot_mqtt_")
                    && s.len() > 9
                    && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            })
            .map(str::to_owned)
            .collect();
        assert_eq!(named.len(), 19, "{named:?}");
        assert_eq!(described, named);
    }

    /// A publisher and a consumer together register every series at start
    /// (each drop reason, each role), so a rate is 0, not "no data", before
    /// the first event.
    #[test]
    fn every_series_is_registered_at_start() {
        let recorder = Recorded::default();
        metrics::with_local_recorder(&recorder, || {
            Metrics::register(Role::Publisher);
            Metrics::register(Role::Consumer);
        });
        let registered = recorder.registered.into_inner().unwrap();
        let mut expected: BTreeSet<String> = [
            "iot_mqtt_frames_published_total{}",
            "iot_mqtt_frames_sent_total{}",
            "iot_mqtt_frames_resent_total{}",
            "iot_mqtt_frames_acked_total{}",
            "iot_mqtt_queue_depth{}",
            "iot_mqtt_queue_bytes{}",
            "iot_mqtt_frames_received_total{}",
            "iot_mqtt_frames_decode_errors_total{}",
            "iot_mqtt_frames_duplicate_total{}",
            "iot_mqtt_frames_missing_total{}",
            "iot_mqtt_frames_recovered_total{}",
            "iot_mqtt_dedup_evictions_total{}",
            "iot_mqtt_read_pauses_total{}",
            "iot_mqtt_frames_returned_total{}",
            "iot_mqtt_consumer_unacked{}",
            "iot_mqtt_connected{role=publisher}",
            "iot_mqtt_connected{role=consumer}",
            "iot_mqtt_reconnects_total{role=publisher}",
            "iot_mqtt_reconnects_total{role=consumer}",
        ]
        .map(str::to_owned)
        .into();
        for r in DropReason::ALL {
            expected.insert(format!(
                "iot_mqtt_frames_dropped_total{{reason={}}}",
                r.label()
            ));
        }
        for role in ["publisher", "consumer"] {
            for r in super::ConnectFailure::ALL {
                expected.insert(format!(
                    "iot_mqtt_connect_failures_total{{role={role},reason={r}}}"
                ));
            }
        }
        assert_eq!(registered, expected);
    }
}
