//! The catalog of every metric iot-observe exports: names, kinds, units,
//! labels and HELP text, in one place so the exporter, the layer, the health
//! checks and `docs/metrics.md` agree.

use ::metrics::{KeyName, Recorder, SharedString, Unit};

use crate::health::{HEALTH_CHECK_DURATION_SECONDS, HEALTH_CHECK_RUNS_TOTAL, HEALTH_CHECK_STATUS};

/// The kind of a metric, as Prometheus types it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// A monotonically increasing count; the name ends in `_total`.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Observations counted into buckets (`_bucket`, `_sum`, `_count`).
    Histogram,
}

impl MetricKind {
    /// The Prometheus `# TYPE` name: `counter`, `gauge` or `histogram`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// One metric definition.
///
/// For the [`LAYER_METRICS`] `name` is the part after the prefix
/// (`requests_total` is exported as `<prefix>_requests_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    /// The metric name (or name suffix for layer metrics).
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// The unit, always a base unit.
    pub unit: Option<Unit>,
    /// The label names, a bounded set.
    pub labels: &'static [&'static str],
    /// The `# HELP` text.
    pub help: &'static str,
}

impl MetricDef {
    /// Registers the HELP text and unit of this metric, exported as `name`,
    /// with `recorder`.
    pub fn describe(&self, recorder: &dyn Recorder, name: impl Into<KeyName>) {
        let (name, unit) = (name.into(), self.unit);
        let help = SharedString::const_str(self.help);
        match self.kind {
            MetricKind::Counter => recorder.describe_counter(name, unit, help),
            MetricKind::Gauge => recorder.describe_gauge(name, unit, help),
            MetricKind::Histogram => recorder.describe_histogram(name, unit, help),
        }
    }
}

/// The default prefix of the [`MetricsLayer`](super::MetricsLayer) metrics.
pub const DEFAULT_PREFIX: &str = "iot";

/// Label: the operation name given to the layer (a bounded set).
pub const LABEL_OPERATION: &str = "operation";
/// Label: `success` or `error`, see [`Outcome`](super::Outcome).
pub const LABEL_OUTCOME: &str = "outcome";
/// Label: the route template axum matched (`/devices/{id}`), or
/// `unmatched`; HTTP mode only.
pub const LABEL_ROUTE: &str = "route";
/// Label: the request method (`GET`, ..., `OTHER`); HTTP mode only.
pub const LABEL_METHOD: &str = "method";
/// Label: the response status class, `1xx` to `5xx`, or `error` when the
/// service returned an error instead of a response; HTTP mode only.
pub const LABEL_STATUS_CLASS: &str = "status_class";
/// Label: the name of a health check.
pub const LABEL_CHECK: &str = "check";
/// Label: the health status of one run, `pass`, `warn` or `fail`.
pub const LABEL_STATUS: &str = "status";

/// Suffix of the request counter: `<prefix>_requests_total`.
pub const REQUESTS_TOTAL: &str = "requests_total";
/// Suffix of the latency histogram: `<prefix>_request_duration_seconds`.
pub const REQUEST_DURATION_SECONDS: &str = "request_duration_seconds";
/// Suffix of the in-flight gauge: `<prefix>_requests_in_flight`.
pub const REQUESTS_IN_FLIGHT: &str = "requests_in_flight";

/// Suffix of the HTTP request counter: `<prefix>_http_requests_total`.
pub const HTTP_REQUESTS_TOTAL: &str = "http_requests_total";
/// Suffix of the HTTP latency histogram:
/// `<prefix>_http_request_duration_seconds`.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "http_request_duration_seconds";
/// Suffix of the HTTP in-flight gauge: `<prefix>_http_requests_in_flight`.
pub const HTTP_REQUESTS_IN_FLIGHT: &str = "http_requests_in_flight";

/// The metrics of [`MetricsLayer`](super::MetricsLayer), names without the
/// prefix.
pub const LAYER_METRICS: [MetricDef; 3] = [
    MetricDef {
        name: REQUESTS_TOTAL,
        kind: MetricKind::Counter,
        unit: Some(Unit::Count),
        labels: &[LABEL_OPERATION, LABEL_OUTCOME],
        help: "Requests completed, by operation and outcome (success or error).",
    },
    MetricDef {
        name: REQUEST_DURATION_SECONDS,
        kind: MetricKind::Histogram,
        unit: Some(Unit::Seconds),
        labels: &[LABEL_OPERATION, LABEL_OUTCOME],
        help: "Request latency in seconds, from call to response, by operation and outcome.",
    },
    MetricDef {
        name: REQUESTS_IN_FLIGHT,
        kind: MetricKind::Gauge,
        unit: Some(Unit::Count),
        labels: &[LABEL_OPERATION],
        help: "Requests started and not yet completed or cancelled, by operation.",
    },
];

/// The metrics of the HTTP mode of the layer (`HttpMetricsLayer`, feature
/// `axum`), names without the prefix.
pub const HTTP_LAYER_METRICS: [MetricDef; 3] = [
    MetricDef {
        name: HTTP_REQUESTS_TOTAL,
        kind: MetricKind::Counter,
        unit: Some(Unit::Count),
        labels: &[LABEL_ROUTE, LABEL_METHOD, LABEL_STATUS_CLASS],
        help: "HTTP requests completed, by route template, method and status class.",
    },
    MetricDef {
        name: HTTP_REQUEST_DURATION_SECONDS,
        kind: MetricKind::Histogram,
        unit: Some(Unit::Seconds),
        labels: &[LABEL_ROUTE, LABEL_METHOD, LABEL_STATUS_CLASS],
        help: "HTTP request latency in seconds, from call to response, by route template, method and status class.",
    },
    MetricDef {
        name: HTTP_REQUESTS_IN_FLIGHT,
        kind: MetricKind::Gauge,
        unit: Some(Unit::Count),
        labels: &[LABEL_ROUTE, LABEL_METHOD],
        help: "HTTP requests started and not yet completed or cancelled, by route template and method.",
    },
];

/// The metrics of the health checks, recorded by
/// [`HealthRegistry`](crate::health::HealthRegistry) on every run. The HELP
/// text matches [`describe_metrics`](crate::health::describe_metrics).
pub const HEALTH_METRICS: [MetricDef; 3] = [
    MetricDef {
        name: HEALTH_CHECK_DURATION_SECONDS,
        kind: MetricKind::Histogram,
        unit: Some(Unit::Seconds),
        labels: &[LABEL_CHECK],
        help: "Duration of health check runs, including timed-out and panicked runs.",
    },
    MetricDef {
        name: HEALTH_CHECK_STATUS,
        kind: MetricKind::Gauge,
        unit: None,
        labels: &[LABEL_CHECK, LABEL_STATUS],
        help: "Status of the latest health check run: 1 for the reported status, 0 for the others.",
    },
    MetricDef {
        name: HEALTH_CHECK_RUNS_TOTAL,
        kind: MetricKind::Counter,
        unit: None,
        labels: &[LABEL_CHECK, LABEL_STATUS],
        help: "Health check runs by resulting status.",
    },
];

/// `<prefix>_<suffix>`, the exported name of a layer metric; just
/// `<suffix>` when `prefix` is empty.
pub fn prefixed(prefix: &str, suffix: &str) -> String {
    if prefix.is_empty() {
        return suffix.to_owned();
    }
    let mut name = String::with_capacity(prefix.len() + 1 + suffix.len());
    name.push_str(prefix);
    name.push('_');
    name.push_str(suffix);
    name
}

/// Registers HELP text for the layer metrics (both modes) with `prefix`
/// and every health metric with `recorder`.
///
/// `prometheus::PrometheusExporter` (feature `prometheus`) calls this with
/// the default prefix; [`MetricsLayer`](super::MetricsLayer) describes
/// its own metrics with the current recorder when it is built.
pub fn describe_all(recorder: &dyn Recorder, prefix: &str) {
    for def in LAYER_METRICS.iter().chain(&HTTP_LAYER_METRICS) {
        def.describe(recorder, prefixed(prefix, def.name));
    }
    for def in &HEALTH_METRICS {
        def.describe(recorder, def.name);
    }
}
