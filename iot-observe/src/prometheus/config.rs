//! [`PrometheusConfig`]: global labels, histogram buckets, upkeep interval.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::ExporterError;
use crate::metrics_layer::catalog::{
    LABEL_CHECK, LABEL_METHOD, LABEL_OPERATION, LABEL_OUTCOME, LABEL_ROUTE, LABEL_STATUS,
    LABEL_STATUS_CLASS,
};

/// Default histogram buckets in seconds, 0.5 ms to 10 s: request latencies
/// and health check durations.
pub const DEFAULT_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Default interval of the upkeep task: 5 s.
pub const DEFAULT_UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Label names a global label may not use: the ones histograms and summaries
/// need, and the ones iot-observe metrics carry (a metric's own label would
/// silently replace the global one).
pub const RESERVED_LABELS: [&str; 9] = [
    "le",
    "quantile",
    LABEL_OPERATION,
    LABEL_OUTCOME,
    LABEL_CHECK,
    LABEL_STATUS,
    LABEL_ROUTE,
    LABEL_METHOD,
    LABEL_STATUS_CLASS,
];

/// Configuration of a [`PrometheusExporter`](super::PrometheusExporter).
///
/// Every field has a default; with serde, JSON looks like
/// `{"service": "gateway", "instance": "pod-1", "labels": {"region": "eu"},
/// "buckets": [0.01, 0.1, 1], "bucket_overrides": [{"matcher": {"prefix":
/// "health_"}, "buckets": [0.001, 0.01]}], "upkeep_interval": "5s"}`.
/// Durations are strings in [the iot-rs duration format](iot_duration)
/// (`"250ms"`, `"1.5s"`, `"1m30s"`) or integer milliseconds.
///
/// ```
/// use iot_observe::prometheus::{MetricMatcher, PrometheusConfig};
///
/// let config = PrometheusConfig::default()
///     .service("gateway")
///     .instance("pod-1")
///     .label("region", "eu-west")
///     .buckets_for(MetricMatcher::Prefix("health_".into()), [0.001, 0.01, 0.1]);
/// assert!(config.validate().is_ok());
/// let labels: Vec<_> = config.global_labels().collect();
/// assert_eq!(labels, [("service", "gateway"), ("instance", "pod-1"), ("region", "eu-west")]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Global label `service` on every metric. Default: none.
    pub service: Option<String>,
    /// Global label `instance` on every metric. Default: none. Prometheus
    /// sets its own `instance` target label on scrape and renames this one
    /// `exported_instance` unless the scrape job has `honor_labels: true`.
    pub instance: Option<String>,
    /// More global labels. `service` and `instance` here are overridden by
    /// the fields of the same name when those are set.
    pub labels: BTreeMap<String, String>,
    /// Histogram bucket upper bounds, strictly increasing, in the metric's
    /// base unit. Default: [`DEFAULT_BUCKETS`] (seconds).
    pub buckets: Vec<f64>,
    /// Buckets for the histograms whose name matches.
    pub bucket_overrides: Vec<BucketOverride>,
    /// How often the upkeep task drains histogram samples. Default:
    /// [`DEFAULT_UPKEEP_INTERVAL`].
    #[serde(with = "iot_duration::serde")]
    pub upkeep_interval: Duration,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        Self {
            service: None,
            instance: None,
            labels: BTreeMap::new(),
            buckets: DEFAULT_BUCKETS.to_vec(),
            bucket_overrides: Vec::new(),
            upkeep_interval: DEFAULT_UPKEEP_INTERVAL,
        }
    }
}

/// Histogram buckets for the metrics a matcher selects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketOverride {
    /// Which histograms.
    pub matcher: MetricMatcher,
    /// Their bucket upper bounds, strictly increasing.
    pub buckets: Vec<f64>,
}

/// Selects metrics by name. When several match, a full match wins over a
/// prefix, a prefix over a suffix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricMatcher {
    /// The whole name.
    Full(String),
    /// The start of the name.
    Prefix(String),
    /// The end of the name.
    Suffix(String),
}

impl MetricMatcher {
    pub(crate) fn to_exporter(&self) -> metrics_exporter_prometheus::Matcher {
        use metrics_exporter_prometheus::Matcher;
        match self {
            Self::Full(s) => Matcher::Full(s.clone()),
            Self::Prefix(s) => Matcher::Prefix(s.clone()),
            Self::Suffix(s) => Matcher::Suffix(s.clone()),
        }
    }

    fn pattern(&self) -> &str {
        match self {
            Self::Full(s) | Self::Prefix(s) | Self::Suffix(s) => s,
        }
    }
}

impl PrometheusConfig {
    /// Sets the `service` label.
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.service = Some(service.into());
        self
    }

    /// Sets the `instance` label.
    pub fn instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    /// Adds a global label.
    pub fn label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(name.into(), value.into());
        self
    }

    /// Sets the default histogram buckets.
    pub fn buckets(mut self, buckets: impl Into<Vec<f64>>) -> Self {
        self.buckets = buckets.into();
        self
    }

    /// Sets the buckets of the histograms `matcher` selects.
    pub fn buckets_for(mut self, matcher: MetricMatcher, buckets: impl Into<Vec<f64>>) -> Self {
        let buckets = buckets.into();
        self.bucket_overrides
            .push(BucketOverride { matcher, buckets });
        self
    }

    /// Sets the upkeep interval.
    pub fn upkeep_interval(mut self, interval: Duration) -> Self {
        self.upkeep_interval = interval;
        self
    }

    /// The global labels in exposition order: `service`, `instance`, then
    /// [`labels`](Self::labels) by name.
    pub fn global_labels(&self) -> impl Iterator<Item = (&str, &str)> {
        let fixed = [("service", &self.service), ("instance", &self.instance)];
        let overridden = move |name: &str| fixed.iter().any(|(n, v)| *n == name && v.is_some());
        fixed
            .into_iter()
            .filter_map(|(name, value)| Some((name, value.as_deref()?)))
            .chain(
                self.labels
                    .iter()
                    .filter(move |(name, _)| !overridden(name))
                    .map(|(name, value)| (name.as_str(), value.as_str())),
            )
    }

    /// Checks label names, buckets and the upkeep interval.
    pub fn validate(&self) -> Result<(), ExporterError> {
        for (name, _) in self.global_labels() {
            if !is_label_name(name) || RESERVED_LABELS.contains(&name) {
                return Err(ExporterError::InvalidLabelName(name.to_owned()));
            }
        }
        check_buckets(&self.buckets).map_err(|reason| ExporterError::InvalidBuckets {
            metric: None,
            reason,
        })?;
        for o in &self.bucket_overrides {
            check_buckets(&o.buckets).map_err(|reason| ExporterError::InvalidBuckets {
                metric: Some(o.matcher.pattern().to_owned()),
                reason,
            })?;
        }
        if self.upkeep_interval.is_zero() {
            return Err(ExporterError::ZeroUpkeepInterval);
        }
        Ok(())
    }
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

fn check_buckets(buckets: &[f64]) -> Result<(), &'static str> {
    if buckets.is_empty() {
        return Err("empty");
    }
    if buckets.iter().any(|b| !b.is_finite()) {
        return Err("not finite (+Inf is implicit)");
    }
    if buckets.windows(2).any(|w| w[0] >= w[1]) {
        return Err("not strictly increasing");
    }
    Ok(())
}
