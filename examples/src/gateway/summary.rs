//! The numbers of a run: printed as a table, written as JSON.

use serde_json::{Value, json};

use super::console::{micros, thousands};

/// Latency percentiles, microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Percentiles {
    /// Values recorded.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

impl Percentiles {
    /// Reads a histogram.
    pub fn of(h: &crate::latency::Histogram) -> Self {
        Self {
            count: h.count(),
            p50: h.quantile(0.5),
            p90: h.quantile(0.9),
            p99: h.quantile(0.99),
            p999: h.quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        }
    }

    fn json(&self) -> Value {
        json!({
            "count": self.count, "p50_us": self.p50, "p90_us": self.p90, "p99_us": self.p99,
            "p999_us": self.p999, "max_us": self.max, "mean_us": (self.mean * 10.0).round() / 10.0,
        })
    }
}

/// Everything a run measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Where frames were stored.
    pub sink: String,
    /// Whether frames were acknowledged after their commit (SQLite,
    /// PostgreSQL).
    pub durable: bool,
    /// Published by this fleet, never received by the gateway.
    pub lost_in_transport: u64,
    /// Received from this fleet, not stored (rate limited, refused, failed).
    pub not_stored_own: u64,
    /// Distinct frames of this fleet the database gained during the run
    /// (durable sinks; `None` if it could not be read).
    pub db_frames: Option<u64>,
    /// Rows in the table at the end (durable sinks).
    pub db_rows: Option<u64>,
    /// Rows inserted by this run.
    pub rows_inserted: u64,
    /// Rows written again and found stored (a retried batch, a redelivery).
    pub rows_duplicate: u64,
    /// Readings the schema cannot hold, set aside and counted.
    pub readings_rejected: u64,
    /// Readings stored under `#<alias>`: their device's birth never came.
    pub readings_unresolved: u64,
    /// Batch writes that failed and were written again.
    pub write_failures: u64,
    /// Batches committed.
    pub batches: u64,
    /// Frames not committed at the stop: unacknowledged, so the broker
    /// keeps them for the next run under the same client id.
    pub held_at_exit: u64,
    /// Frames whose write was still running at the stop deadline: stored
    /// or not (the database's count says), unacknowledged either way.
    pub in_doubt_at_exit: u64,
    /// Seconds the fleet published.
    pub run_seconds: f64,
    /// Simulated devices.
    pub devices: usize,
    /// Frames per second per device.
    pub rate: f64,
    /// Frames accepted by the simulated devices' publishers.
    pub published: u64,
    /// Frames the publishers refused (queue full, too large).
    pub publish_refused: u64,
    /// Frames the publishers dropped from a full queue.
    pub publish_dropped: u64,
    /// Frames the publishers sent again after a reconnect.
    pub resent: u64,
    /// Frames still unacknowledged when the publishers closed.
    pub unacked_at_close: u64,
    /// Frames delivered by the consumer after deduplication.
    pub received: u64,
    /// ... of which from this process's simulated fleet.
    pub received_own: u64,
    /// Duplicates the consumer suppressed.
    pub duplicates: u64,
    /// Published by this fleet and not stored: counted in the database for
    /// durable sinks, else never received plus received and not stored.
    pub lost: u64,
    /// The consumer's ledger: frames reported missing (gaps in a device's
    /// sequence) and not recovered since.
    pub ledger_missing: u64,
    /// ... frames that arrived after they had been reported missing.
    pub ledger_recovered: u64,
    /// Frames of this fleet above the highest frame received of their
    /// device at the end: still on their way, or lost with nothing after
    /// them to reveal the gap.
    pub in_flight: u64,
    /// Undecodable messages.
    pub decode_errors: u64,
    /// Frames stored by the sink.
    pub stored: u64,
    /// Frames shed by the per-device rate limit.
    pub rate_limited: u64,
    /// Frames refused by the open breaker.
    pub breaker_rejected: u64,
    /// Frames that failed after retrying.
    pub failed: u64,
    /// Retries refused by the budget.
    pub budget_exhausted: u64,
    /// Retries made.
    pub retries: u64,
    /// Sink attempts that timed out.
    pub timeouts: u64,
    /// Sink failures injected.
    pub injected_failures: u64,
    /// Devices online at the end.
    pub devices_online: usize,
    /// Devices seen.
    pub devices_seen: usize,
    /// Device send -> gateway receipt.
    pub receive_latency: Percentiles,
    /// Device send -> stored by the sink.
    pub stored_latency: Percentiles,
    /// The breaker's state at the end.
    pub breaker_state: String,
    /// Times the breaker opened.
    pub breaker_opened: u64,
    /// Consumer reconnects.
    pub consumer_reconnects: u64,
    /// CPU seconds used by the process.
    pub cpu_seconds: f64,
    /// Peak resident set, KiB.
    pub peak_rss_kib: u64,
    /// Resident set at the end, KiB.
    pub rss_kib: u64,
}

impl Summary {
    /// Frames received per second of publishing.
    pub fn frames_per_second(&self) -> f64 {
        if self.run_seconds > 0.0 {
            self.received as f64 / self.run_seconds
        } else {
            0.0
        }
    }

    /// The summary as JSON (for `--summary-json`).
    pub fn to_json(&self) -> Value {
        let mut value = json!({
            "run_seconds": (self.run_seconds * 1000.0).round() / 1000.0,
            "devices": self.devices,
            "rate_per_device": self.rate,
            "frames_per_second": self.frames_per_second().round(),
            "published": self.published,
            "publish_refused": self.publish_refused,
            "publish_dropped": self.publish_dropped,
            "resent": self.resent,
            "unacked_at_close": self.unacked_at_close,
            "received": self.received,
            "received_own": self.received_own,
            "duplicates": self.duplicates,
            "lost": self.lost,
            "ledger_missing": self.ledger_missing,
            "ledger_recovered": self.ledger_recovered,
            "in_flight": self.in_flight,
            "decode_errors": self.decode_errors,
            "stored": self.stored,
            "rate_limited": self.rate_limited,
            "breaker_rejected": self.breaker_rejected,
            "failed": self.failed,
            "budget_exhausted": self.budget_exhausted,
            "retries": self.retries,
            "timeouts": self.timeouts,
            "injected_failures": self.injected_failures,
            "devices_online": self.devices_online,
            "devices_seen": self.devices_seen,
            "receive_latency": self.receive_latency.json(),
            "stored_latency": self.stored_latency.json(),
            "breaker_state": self.breaker_state,
            "breaker_opened": self.breaker_opened,
            "consumer_reconnects": self.consumer_reconnects,
            "cpu_seconds": (self.cpu_seconds * 100.0).round() / 100.0,
            "peak_rss_kib": self.peak_rss_kib,
            "rss_kib": self.rss_kib,
        });
        // A second object: one `json!` of every field exceeds the macro's
        // recursion limit.
        let storage = json!({
            "sink": self.sink,
            "durable": self.durable,
            "lost_in_transport": self.lost_in_transport,
            "not_stored_own": self.not_stored_own,
            "db_frames": self.db_frames,
            "db_rows": self.db_rows,
            "rows_inserted": self.rows_inserted,
            "rows_duplicate": self.rows_duplicate,
            "readings_rejected": self.readings_rejected,
            "readings_unresolved": self.readings_unresolved,
            "write_failures": self.write_failures,
            "batches": self.batches,
            "held_at_exit": self.held_at_exit,
            "in_doubt_at_exit": self.in_doubt_at_exit,
        });
        if let (Some(all), Value::Object(more)) = (value.as_object_mut(), storage) {
            all.extend(more);
        }
        value
    }

    /// The summary as an aligned table.
    pub fn table(&self) -> String {
        let t = thousands;
        let rows: Vec<(&str, String, String)> = vec![
            (
                "frames published",
                t(self.published),
                format!(
                    "{} devices x {}/s for {:.1} s",
                    self.devices, self.rate, self.run_seconds
                ),
            ),
            (
                "frames received",
                t(self.received),
                format!(
                    "{}/s, after dropping {} duplicates",
                    t(self.frames_per_second().round() as u64),
                    t(self.duplicates)
                ),
            ),
            (
                "lost",
                t(self.lost),
                if self.durable {
                    format!(
                        "published by this fleet, not in the database ({} never received, {} not stored, {} held at the broker{})",
                        t(self.lost_in_transport),
                        t(self.not_stored_own),
                        t(self.held_at_exit + self.in_doubt_at_exit),
                        if self.in_doubt_at_exit > 0 {
                            format!(
                                ", {} of them written as the stop deadline passed, stored or not",
                                t(self.in_doubt_at_exit)
                            )
                        } else {
                            String::new()
                        }
                    )
                } else {
                    format!(
                        "published by this fleet, not stored ({} never received, {} received and not stored)",
                        t(self.lost_in_transport),
                        t(self.not_stored_own)
                    )
                },
            ),
            (
                "ledger: missing",
                t(self.ledger_missing),
                format!(
                    "gaps the consumer reported ({} recovered late); {} in flight at the end",
                    t(self.ledger_recovered),
                    t(self.in_flight)
                ),
            ),
            ("decode errors", t(self.decode_errors), String::new()),
            ("stored by the sink", t(self.stored), self.sink.clone()),
            (
                "database",
                self.db_rows
                    .map_or_else(|| "-".into(), |r| format!("{} rows", t(r))),
                if self.durable {
                    format!(
                        "{} frames of this fleet added; {} rows inserted, {} already there, {} readings rejected, {} under unresolved aliases; {} batches, {} failed writes retried",
                        self.db_frames.map_or_else(|| "?".into(), t),
                        t(self.rows_inserted),
                        t(self.rows_duplicate),
                        t(self.readings_rejected),
                        t(self.readings_unresolved),
                        t(self.batches),
                        t(self.write_failures)
                    )
                } else {
                    "none: the sink is not durable".into()
                },
            ),
            (
                "rate limited",
                t(self.rate_limited),
                "per-device limit (noisy devices)".into(),
            ),
            (
                "breaker rejected",
                t(self.breaker_rejected),
                format!(
                    "opened {} times, now {}",
                    self.breaker_opened, self.breaker_state
                ),
            ),
            (
                "failed after retries",
                t(self.failed),
                format!("{} refused by the retry budget", t(self.budget_exhausted)),
            ),
            (
                "retries",
                t(self.retries),
                format!(
                    "{} timeouts, {} injected failures",
                    t(self.timeouts),
                    t(self.injected_failures)
                ),
            ),
            (
                "devices online",
                format!("{}/{}", self.devices_online, self.devices_seen),
                String::new(),
            ),
            (
                "latency to gateway",
                format!("p50 {}", micros(self.receive_latency.p50)),
                format!(
                    "p90 {}  p99 {}  max {}",
                    micros(self.receive_latency.p90),
                    micros(self.receive_latency.p99),
                    micros(self.receive_latency.max)
                ),
            ),
            (
                "latency to sink",
                format!("p50 {}", micros(self.stored_latency.p50)),
                format!(
                    "p90 {}  p99 {}  max {}",
                    micros(self.stored_latency.p90),
                    micros(self.stored_latency.p99),
                    micros(self.stored_latency.max)
                ),
            ),
            (
                "process",
                format!("{:.1} s CPU", self.cpu_seconds),
                format!("peak RSS {:.1} MiB", self.peak_rss_kib as f64 / 1024.0),
            ),
        ];
        let mut out = String::from("summary\n");
        for (name, value, note) in rows {
            let line = format!("  {name:<22}{value:>14}   {note}");
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}
