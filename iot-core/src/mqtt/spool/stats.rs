//! The spool's counters, and their metrics with the `metrics` feature.
//!
//! | name | type | meaning |
//! | --- | --- | --- |
//! | `iot_mqtt_spool_appended_total` | counter | records appended |
//! | `iot_mqtt_spool_released_total` | counter | records released (acknowledged) |
//! | `iot_mqtt_spool_dropped_total` | counter | unreleased records deleted by the drop-oldest overflow policy |
//! | `iot_mqtt_spool_rejected_total` | counter | appends refused by the reject-new overflow policy |
//! | `iot_mqtt_spool_corrupt_records_total` | counter | records skipped at recovery for a failed checksum |
//! | `iot_mqtt_spool_torn_bytes_total` | counter | bytes truncated at recovery from segment ends that held no valid record |
//! | `iot_mqtt_spool_fsyncs_total` | counter | `fdatasync`/`fsync` calls |
//! | `iot_mqtt_spool_bytes` | gauge | bytes of segment files on disk |
//! | `iot_mqtt_spool_records` | gauge | unreleased records |
//!
//! The gauges are sums over every spool of the process: each reports its
//! own changes, as the publisher's queue gauges do.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A copy of a spool's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpoolStatsSnapshot {
    /// Records appended since open.
    pub appended: u64,
    /// Records released since open.
    pub released: u64,
    /// Unreleased records deleted by the drop-oldest overflow policy.
    pub dropped: u64,
    /// Appends refused by the reject-new overflow policy.
    pub rejected: u64,
    /// Records skipped at recovery because their checksum failed.
    pub corrupt_records: u64,
    /// Bytes truncated at recovery (torn or unreadable segment tails).
    pub torn_bytes: u64,
    /// `fdatasync`/`fsync` calls since open.
    pub fsyncs: u64,
    /// Bytes of segment files on disk now.
    pub bytes: u64,
    /// Unreleased records now.
    pub records: u64,
}

/// The live counters of a spool; read them with [`snapshot`](Self::snapshot).
#[derive(Debug)]
pub struct SpoolStats {
    appended: AtomicU64,
    released: AtomicU64,
    dropped: AtomicU64,
    rejected: AtomicU64,
    corrupt_records: AtomicU64,
    torn_bytes: AtomicU64,
    fsyncs: AtomicU64,
    bytes: AtomicU64,
    records: AtomicU64,
    metrics: Metrics,
}

impl SpoolStats {
    pub(crate) fn new() -> Self {
        let zero = AtomicU64::new;
        Self {
            appended: zero(0),
            released: zero(0),
            dropped: zero(0),
            rejected: zero(0),
            corrupt_records: zero(0),
            torn_bytes: zero(0),
            fsyncs: zero(0),
            bytes: zero(0),
            records: zero(0),
            metrics: Metrics::register(),
        }
    }

    /// The counters now.
    pub fn snapshot(&self) -> SpoolStatsSnapshot {
        SpoolStatsSnapshot {
            appended: self.appended.load(Relaxed),
            released: self.released.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
            corrupt_records: self.corrupt_records.load(Relaxed),
            torn_bytes: self.torn_bytes.load(Relaxed),
            fsyncs: self.fsyncs.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            records: self.records.load(Relaxed),
        }
    }

    pub(crate) fn appended(&self) {
        self.appended.fetch_add(1, Relaxed);
        self.metrics.appended.increment(1);
    }

    pub(crate) fn released(&self) {
        self.released.fetch_add(1, Relaxed);
        self.metrics.released.increment(1);
    }

    pub(crate) fn dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Relaxed);
        self.metrics.dropped.increment(n);
    }

    pub(crate) fn rejected(&self) {
        self.rejected.fetch_add(1, Relaxed);
        self.metrics.rejected.increment(1);
    }

    pub(crate) fn recovered(&self, corrupt_records: u64, torn_bytes: u64) {
        self.corrupt_records.fetch_add(corrupt_records, Relaxed);
        self.torn_bytes.fetch_add(torn_bytes, Relaxed);
        self.metrics.corrupt_records.increment(corrupt_records);
        self.metrics.torn_bytes.increment(torn_bytes);
    }

    pub(crate) fn fsyncs(&self, n: u64) {
        self.fsyncs.fetch_add(n, Relaxed);
        self.metrics.fsyncs.increment(n);
    }

    /// Sets the gauges (called under the spool's lock, so the deltas
    /// reported to the metrics recorder add up).
    pub(crate) fn set_usage(&self, bytes: u64, records: u64) {
        let old_bytes = self.bytes.swap(bytes, Relaxed);
        let old_records = self.records.swap(records, Relaxed);
        self.metrics.usage(old_bytes, bytes, old_records, records);
    }
}

impl Drop for SpoolStats {
    /// A closed spool no longer counts in the process-wide gauges.
    fn drop(&mut self) {
        self.set_usage(0, 0);
    }
}

#[cfg(feature = "metrics")]
use enabled::Metrics;

#[cfg(not(feature = "metrics"))]
use disabled::Metrics;

#[cfg(feature = "metrics")]
mod enabled {
    use metrics::{Counter, Gauge};

    /// Every metric of the spool, with its HELP text.
    const METRICS: &[(&str, &str)] = &[
        (
            "iot_mqtt_spool_appended_total",
            "Records appended to publisher spools.",
        ),
        (
            "iot_mqtt_spool_released_total",
            "Spooled records released after the broker's acknowledgement.",
        ),
        (
            "iot_mqtt_spool_dropped_total",
            "Unreleased spooled records deleted to make room (drop-oldest).",
        ),
        (
            "iot_mqtt_spool_rejected_total",
            "Appends refused by a full spool (reject-new).",
        ),
        (
            "iot_mqtt_spool_corrupt_records_total",
            "Spooled records skipped at recovery for a failed checksum.",
        ),
        (
            "iot_mqtt_spool_torn_bytes_total",
            "Bytes truncated at recovery from torn or unreadable segment ends.",
        ),
        (
            "iot_mqtt_spool_fsyncs_total",
            "fdatasync/fsync calls of publisher spools.",
        ),
        (
            "iot_mqtt_spool_bytes",
            "Bytes of spool segment files on disk.",
        ),
        (
            "iot_mqtt_spool_records",
            "Unreleased records in publisher spools.",
        ),
    ];

    /// The metric handles of one spool.
    #[derive(Debug)]
    pub(super) struct Metrics {
        pub(super) appended: Counter,
        pub(super) released: Counter,
        pub(super) dropped: Counter,
        pub(super) rejected: Counter,
        pub(super) corrupt_records: Counter,
        pub(super) torn_bytes: Counter,
        pub(super) fsyncs: Counter,
        bytes: Gauge,
        records: Gauge,
    }

    impl Default for Metrics {
        fn default() -> Self {
            Self {
                appended: Counter::noop(),
                released: Counter::noop(),
                dropped: Counter::noop(),
                rejected: Counter::noop(),
                corrupt_records: Counter::noop(),
                torn_bytes: Counter::noop(),
                fsyncs: Counter::noop(),
                bytes: Gauge::noop(),
                records: Gauge::noop(),
            }
        }
    }

    /// A counter registered at 0, so a rate reads 0 rather than "no data".
    fn counter(name: &'static str) -> Counter {
        let c = metrics::counter!(name);
        c.increment(0);
        c
    }

    fn gauge(name: &'static str) -> Gauge {
        let g = metrics::gauge!(name);
        g.increment(0.0);
        g
    }

    impl Metrics {
        /// Describes the metrics and registers the series with the current
        /// recorder.
        pub(super) fn register() -> Self {
            for &(name, help) in METRICS {
                if name.ends_with("_total") {
                    metrics::describe_counter!(name, metrics::Unit::Count, help);
                } else if name.ends_with("_bytes") {
                    metrics::describe_gauge!(name, metrics::Unit::Bytes, help);
                } else {
                    metrics::describe_gauge!(name, metrics::Unit::Count, help);
                }
            }
            Self {
                appended: counter("iot_mqtt_spool_appended_total"),
                released: counter("iot_mqtt_spool_released_total"),
                dropped: counter("iot_mqtt_spool_dropped_total"),
                rejected: counter("iot_mqtt_spool_rejected_total"),
                corrupt_records: counter("iot_mqtt_spool_corrupt_records_total"),
                torn_bytes: counter("iot_mqtt_spool_torn_bytes_total"),
                fsyncs: counter("iot_mqtt_spool_fsyncs_total"),
                bytes: gauge("iot_mqtt_spool_bytes"),
                records: gauge("iot_mqtt_spool_records"),
            }
        }

        pub(super) fn usage(&self, old_bytes: u64, bytes: u64, old_records: u64, records: u64) {
            shift(&self.bytes, old_bytes, bytes);
            shift(&self.records, old_records, records);
        }
    }

    /// Moves a process-wide gauge by this spool's change.
    fn shift(gauge: &Gauge, old: u64, new: u64) {
        if old != new {
            gauge.increment(new as f64 - old as f64);
        }
    }
}

#[cfg(not(feature = "metrics"))]
mod disabled {
    /// Without the `metrics` feature: counters that count nothing.
    #[derive(Debug, Default)]
    pub(super) struct Metrics {
        pub(super) appended: Noop,
        pub(super) released: Noop,
        pub(super) dropped: Noop,
        pub(super) rejected: Noop,
        pub(super) corrupt_records: Noop,
        pub(super) torn_bytes: Noop,
        pub(super) fsyncs: Noop,
    }

    #[derive(Debug, Default)]
    pub(super) struct Noop;

    impl Noop {
        pub(super) fn increment(&self, _: u64) {}
    }

    impl Metrics {
        pub(super) fn register() -> Self {
            Self::default()
        }
        pub(super) fn usage(&self, _: u64, _: u64, _: u64, _: u64) {}
    }
}
