//! Metrics about the checks themselves, through the `metrics` facade.
//!
//! Recorded with the macros on every run rather than with handles held
//! from registration: a check runs once per interval, so the macro cost
//! does not matter, and a handle taken before the application installs its
//! recorder would stay a no-op forever.

use std::sync::Once;
use std::time::Duration;

use super::Status;

/// Histogram `{check}`: how long each check run took, in seconds
/// (including runs that timed out or panicked).
pub const HEALTH_CHECK_DURATION_SECONDS: &str = "health_check_duration_seconds";
/// Gauge `{check, status}`: 1 for the status of the latest run, 0 for the
/// other two (the Prometheus "enum" pattern, like
/// `resilience_circuit_breaker_state`).
pub const HEALTH_CHECK_STATUS: &str = "health_check_status";
/// Counter `{check, status}`: check runs by outcome (`status="fail"` counts
/// failures, including timeouts and panics).
pub const HEALTH_CHECK_RUNS_TOTAL: &str = "health_check_runs_total";

/// Registers the HELP text and units of the health metrics with the
/// installed recorder. Runs once per process; the registry calls it before
/// its first refresh, and an exporter may call it earlier.
pub fn describe_metrics() {
    static DESCRIBED: Once = Once::new();
    DESCRIBED.call_once(|| {
        ::metrics::describe_histogram!(
            HEALTH_CHECK_DURATION_SECONDS,
            ::metrics::Unit::Seconds,
            "Duration of health check runs, including timed-out and panicked runs."
        );
        ::metrics::describe_gauge!(
            HEALTH_CHECK_STATUS,
            "Status of the latest health check run: 1 for the reported status, 0 for the others."
        );
        ::metrics::describe_counter!(
            HEALTH_CHECK_RUNS_TOTAL,
            "Health check runs by resulting status."
        );
    });
}

/// Records one completed run.
pub(crate) fn record_run(check: &str, status: Status, duration: Duration) {
    ::metrics::histogram!(HEALTH_CHECK_DURATION_SECONDS, "check" => check.to_owned())
        .record(duration.as_secs_f64());
    ::metrics::counter!(
        HEALTH_CHECK_RUNS_TOTAL,
        "check" => check.to_owned(),
        "status" => status.as_str()
    )
    .increment(1);
    for candidate in Status::ALL {
        let value = if candidate == status { 1.0 } else { 0.0 };
        ::metrics::gauge!(
            HEALTH_CHECK_STATUS,
            "check" => check.to_owned(),
            "status" => candidate.as_str()
        )
        .set(value);
    }
}
