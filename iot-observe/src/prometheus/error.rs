//! [`ExporterError`], why building or installing the exporter failed.

/// Building or installing a [`PrometheusExporter`](super::PrometheusExporter)
/// failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ExporterError {
    /// A global `metrics` recorder is already installed (by an earlier
    /// `install`, or another library). The existing one stays in place.
    #[error("a global metrics recorder is already installed")]
    RecorderAlreadySet,
    /// There is no current tokio runtime to run the upkeep task on.
    #[error("no tokio runtime: build or install the exporter from within a runtime")]
    NoRuntime,
    /// A bucket list is empty, not finite or not strictly increasing.
    #[error("invalid histogram buckets{}: {reason}", for_metric(.metric))]
    InvalidBuckets {
        /// The matcher of the override, `None` for the default buckets.
        metric: Option<String>,
        /// What is wrong.
        reason: &'static str,
    },
    /// A global label name is not `[a-zA-Z_][a-zA-Z0-9_]*` or starts with
    /// the reserved `__`.
    #[error("invalid label name {0:?}: use [a-zA-Z_][a-zA-Z0-9_]*, not starting with __")]
    InvalidLabelName(String),
    /// The upkeep interval is zero.
    #[error("the upkeep interval must be positive")]
    ZeroUpkeepInterval,
}

fn for_metric(metric: &Option<String>) -> String {
    metric
        .as_ref()
        .map(|m| format!(" for {m:?}"))
        .unwrap_or_default()
}
