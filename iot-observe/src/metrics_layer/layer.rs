//! [`MetricsLayer`] and its builder.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::catalog::DEFAULT_PREFIX;
use super::classify::DefaultClassifier;
use super::handles::{RequestMetrics, Shared};
use super::service::MetricsService;

/// A tower layer recording `<prefix>_requests_total`,
/// `<prefix>_request_duration_seconds` and `<prefix>_requests_in_flight`
/// for one operation.
///
/// The handles are registered with the recorder that is current when the
/// layer is built, so install the exporter first: a layer built before any
/// recorder is installed records nothing.
///
/// ```
/// use iot_observe::metrics_layer::MetricsLayer;
/// use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), std::convert::Infallible> {
/// let mut svc = ServiceBuilder::new()
///     .layer(MetricsLayer::new("publish"))
///     .service(service_fn(|n: u32| async move { Ok::<_, std::convert::Infallible>(n + 1) }));
/// assert_eq!(svc.ready().await?.call(41).await?, 42);
/// # Ok(())
/// # }
/// ```
pub struct MetricsLayer<C = DefaultClassifier> {
    operation: Cow<'static, str>,
    shared: Arc<Shared<C>>,
}

impl MetricsLayer {
    /// A layer for `operation` with the default prefix `iot` and
    /// [`DefaultClassifier`].
    ///
    /// `operation` becomes a label value: use a fixed name or route
    /// template, never an id taken from the request.
    pub fn new(operation: impl Into<Cow<'static, str>>) -> Self {
        Self::builder(operation).build()
    }

    /// The HTTP mode: a layer labelling requests by matched route template,
    /// method and status class instead of a fixed operation, with the
    /// default prefix `iot`; see [`HttpMetricsLayer`](super::HttpMetricsLayer).
    #[cfg(feature = "axum")]
    #[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
    pub fn http() -> super::HttpMetricsLayer {
        super::HttpMetricsLayer::new()
    }

    /// A builder for a layer for `operation`.
    pub fn builder(operation: impl Into<Cow<'static, str>>) -> MetricsLayerBuilder {
        MetricsLayerBuilder {
            operation: operation.into(),
            prefix: Cow::Borrowed(DEFAULT_PREFIX),
            classifier: DefaultClassifier,
        }
    }
}

impl<C> MetricsLayer<C> {
    /// The `operation` label value.
    pub fn operation(&self) -> &str {
        &self.operation
    }
}

impl<C> Clone for MetricsLayer<C> {
    fn clone(&self) -> Self {
        Self {
            operation: self.operation.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<C> fmt::Debug for MetricsLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsLayer")
            .field("operation", &self.operation)
            .finish_non_exhaustive()
    }
}

impl<S, C> Layer<S> for MetricsLayer<C> {
    type Service = MetricsService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService::new(inner, Arc::clone(&self.shared))
    }
}

/// Configures a [`MetricsLayer`]: prefix and classifier.
#[derive(Debug, Clone)]
pub struct MetricsLayerBuilder<C = DefaultClassifier> {
    operation: Cow<'static, str>,
    prefix: Cow<'static, str>,
    classifier: C,
}

impl<C> MetricsLayerBuilder<C> {
    /// The metric name prefix (default `iot`): metrics are named
    /// `<prefix>_requests_total` and so on; an empty prefix means none.
    /// Use `[a-z_][a-z0-9_]*`; other characters are replaced by `_` on
    /// exposition.
    pub fn prefix(mut self, prefix: impl Into<Cow<'static, str>>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How a result maps to `outcome="success"` or `outcome="error"`, e.g.
    /// [`ServerErrorsAsFailures`](super::ServerErrorsAsFailures) or a
    /// closure `|r: &Result<Resp, E>| -> Outcome`.
    pub fn classifier<C2>(self, classifier: C2) -> MetricsLayerBuilder<C2> {
        MetricsLayerBuilder {
            operation: self.operation,
            prefix: self.prefix,
            classifier,
        }
    }

    /// Describes the metrics and registers their handles with the current
    /// recorder (global, or local inside `metrics::with_local_recorder`).
    pub fn build(self) -> MetricsLayer<C> {
        let metrics = RequestMetrics::register(&self.prefix, self.operation.clone());
        MetricsLayer {
            operation: self.operation,
            shared: Arc::new(Shared {
                metrics,
                classifier: self.classifier,
            }),
        }
    }
}
