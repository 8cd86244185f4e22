//! [`PrometheusExporter`]: the recorder, its upkeep task and rendering.

use std::fmt;
use std::sync::Arc;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use tokio::runtime::Handle;
use tokio::task::AbortHandle;

use super::config::PrometheusConfig;
use super::error::ExporterError;
use super::upkeep;
use crate::MetricsSource;
use crate::metrics_layer::catalog::{DEFAULT_PREFIX, describe_all};

/// Renders the metrics of a Prometheus recorder whose upkeep task is
/// always running. Cheap to clone.
///
/// Histograms render as histograms with the configured buckets (never as
/// summaries), every iot-observe metric has HELP text, and the global
/// labels from [`PrometheusConfig`] are on every series. Serve
/// [`render`](Self::render) with
/// [`PROMETHEUS_CONTENT_TYPE`](crate::PROMETHEUS_CONTENT_TYPE).
///
/// ```
/// use iot_observe::prometheus::{PrometheusConfig, PrometheusExporter};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), iot_observe::prometheus::ExporterError> {
/// let exporter = PrometheusExporter::install(PrometheusConfig::default().service("gateway"))?;
/// metrics::counter!("frames_decoded_total").increment(3);
/// assert!(exporter.render().contains(r#"frames_decoded_total{service="gateway"} 3"#));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PrometheusExporter {
    inner: Arc<Inner>,
}

struct Inner {
    handle: PrometheusHandle,
    /// Set for [`PrometheusExporter::build`]: the upkeep task stops with
    /// the last clone.
    upkeep: Option<AbortHandle>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = &self.upkeep {
            task.abort();
        }
    }
}

impl PrometheusExporter {
    /// Builds the recorder, installs it as the global `metrics` recorder
    /// and spawns the upkeep task on the current tokio runtime.
    ///
    /// The global recorder lives for the rest of the process, so the upkeep
    /// task runs until the runtime shuts down, even after every exporter
    /// clone is dropped.
    ///
    /// # Errors
    ///
    /// [`ExporterError::RecorderAlreadySet`] if a global recorder is
    /// installed already, [`ExporterError::NoRuntime`] outside a tokio
    /// runtime, or a configuration error from
    /// [`PrometheusConfig::validate`]. On error nothing is installed.
    pub fn install(config: PrometheusConfig) -> Result<Self, ExporterError> {
        let runtime = Handle::try_current().map_err(|_| ExporterError::NoRuntime)?;
        let recorder = recorder(&config)?;
        let handle = recorder.handle();
        ::metrics::set_global_recorder(recorder).map_err(|_| ExporterError::RecorderAlreadySet)?;
        upkeep::spawn(&runtime, handle.clone(), config.upkeep_interval);
        Ok(Self::new(handle, None))
    }

    /// Builds the exporter and its recorder without installing anything
    /// globally: use the recorder with `metrics::with_local_recorder` (for
    /// tests) or install it yourself, e.g. inside a fan-out recorder.
    ///
    /// The upkeep task runs on the current tokio runtime until the last
    /// exporter clone is dropped.
    ///
    /// ```
    /// use iot_observe::prometheus::{PrometheusConfig, PrometheusExporter};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), iot_observe::prometheus::ExporterError> {
    /// let (exporter, recorder) = PrometheusExporter::build(PrometheusConfig::default())?;
    /// metrics::with_local_recorder(&recorder, || {
    ///     metrics::histogram!("decode_duration_seconds").record(0.003);
    /// });
    /// let text = exporter.render();
    /// assert!(text.contains("# TYPE decode_duration_seconds histogram"));
    /// assert!(text.contains(r#"decode_duration_seconds_bucket{le="0.005"} 1"#));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ExporterError::NoRuntime`] outside a tokio runtime, or a
    /// configuration error from [`PrometheusConfig::validate`].
    pub fn build(config: PrometheusConfig) -> Result<(Self, PrometheusRecorder), ExporterError> {
        let runtime = Handle::try_current().map_err(|_| ExporterError::NoRuntime)?;
        let recorder = recorder(&config)?;
        let handle = recorder.handle();
        let task = upkeep::spawn(&runtime, handle.clone(), config.upkeep_interval);
        Ok((Self::new(handle, Some(task.abort_handle())), recorder))
    }

    fn new(handle: PrometheusHandle, upkeep: Option<AbortHandle>) -> Self {
        Self {
            inner: Arc::new(Inner { handle, upkeep }),
        }
    }

    /// The current metrics in the Prometheus text exposition format
    /// (version 0.0.4).
    pub fn render(&self) -> String {
        self.inner.handle.render()
    }

    /// Drains histogram samples now (the upkeep task does this
    /// periodically).
    pub fn run_upkeep(&self) {
        self.inner.handle.run_upkeep();
    }

    /// The underlying handle of metrics-exporter-prometheus.
    pub fn handle(&self) -> &PrometheusHandle {
        &self.inner.handle
    }
}

impl MetricsSource for PrometheusExporter {
    fn render(&self) -> String {
        PrometheusExporter::render(self)
    }
}

impl fmt::Debug for PrometheusExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusExporter")
            .field("global", &self.inner.upkeep.is_none())
            .finish_non_exhaustive()
    }
}

/// A recorder with explicit buckets, the global labels, and HELP text for
/// every iot-observe metric.
fn recorder(config: &PrometheusConfig) -> Result<PrometheusRecorder, ExporterError> {
    config.validate()?;
    let invalid = |metric: Option<&str>| ExporterError::InvalidBuckets {
        metric: metric.map(str::to_owned),
        reason: "empty",
    };
    let mut builder = PrometheusBuilder::new()
        .set_buckets(&config.buckets)
        .map_err(|_| invalid(None))?;
    for o in &config.bucket_overrides {
        builder = builder
            .set_buckets_for_metric(o.matcher.to_exporter(), &o.buckets)
            .map_err(|_| invalid(Some(&format!("{:?}", o.matcher))))?;
    }
    for (name, value) in config.global_labels() {
        builder = builder.add_global_label(name, value);
    }
    let recorder = builder.build_recorder();
    describe_all(&recorder, DEFAULT_PREFIX);
    Ok(recorder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn upkeep_stops_with_the_last_clone() {
        let (exporter, _recorder) = PrometheusExporter::build(PrometheusConfig::default()).unwrap();
        let task = exporter.inner.upkeep.clone().unwrap();
        let clone = exporter.clone();
        drop(exporter);
        tokio::task::yield_now().await;
        assert!(!task.is_finished());
        drop(clone);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(task.is_finished());
    }

    #[test]
    fn build_outside_a_runtime_is_an_error() {
        let err = PrometheusExporter::build(PrometheusConfig::default()).unwrap_err();
        assert_eq!(err, ExporterError::NoRuntime);
    }
}
