//! The tower service answering probe and scrape requests.

use std::convert::Infallible;
use std::fmt;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::HeaderValue;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;

use super::response::{method_not_allowed, not_found, with_body};
use super::route::{Route, Routes};
use crate::health::HealthRegistry;
use crate::{HEALTH_CONTENT_TYPE, MetricsSource, PROMETHEUS_CONTENT_TYPE};

/// Serves `{prefix}/health/live`, `/health/ready`, `/health/startup`,
/// `/health` and `/metrics` as a tower [`Service`](tower_service::Service)
/// over `http::Request<B>` for any body `B` (never read).
///
/// Answers synchronously from the registry's cache: a response never waits
/// for a check. `GET` and `HEAD` are served; other methods on these paths
/// get 405 with `Allow: GET, HEAD`, other paths 404, as does `/metrics`
/// without a [`MetricsSource`]. The prefix is
/// [`HealthConfig::path_prefix`](crate::health::HealthConfig::path_prefix).
///
/// ```
/// use std::sync::Arc;
/// use http_body_util::BodyExt;
/// use iot_observe::HEALTH_CONTENT_TYPE;
/// use iot_observe::endpoint::HealthEndpoint;
/// use iot_observe::health::HealthRegistry;
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let registry = HealthRegistry::builder().build().unwrap();
/// let endpoint = HealthEndpoint::new(registry)
///     .with_metrics(Arc::new(|| "# no metrics yet\n".to_owned()));
///
/// let request = http::Request::get("/health/live").body(()).unwrap();
/// let response = endpoint.clone().oneshot(request).await.unwrap();
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.headers()["content-type"], HEALTH_CONTENT_TYPE);
/// let body = response.into_body().collect().await.unwrap().to_bytes();
/// assert_eq!(&body[..], br#"{"status":"pass","checks":{}}"#);
///
/// let request = http::Request::post("/metrics").body(()).unwrap();
/// let response = endpoint.oneshot(request).await.unwrap();
/// assert_eq!(response.status(), 405);
/// # }
/// ```
#[derive(Clone)]
pub struct HealthEndpoint {
    registry: HealthRegistry,
    metrics: Option<Arc<dyn MetricsSource>>,
    routes: Arc<Routes>,
}

impl fmt::Debug for HealthEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthEndpoint")
            .field("prefix", &self.routes.prefix)
            .field("metrics", &self.metrics.is_some())
            .field("registry", &self.registry)
            .finish()
    }
}

impl HealthEndpoint {
    /// An endpoint over `registry`, without `/metrics`.
    pub fn new(registry: HealthRegistry) -> Self {
        let routes = Arc::new(Routes::new(&registry.config().path_prefix));
        Self {
            registry,
            metrics: None,
            routes,
        }
    }

    /// Serves `source` at `{prefix}/metrics`.
    pub fn with_metrics(mut self, source: Arc<dyn MetricsSource>) -> Self {
        self.metrics = Some(source);
        self
    }

    /// The registry answered from.
    pub fn registry(&self) -> &HealthRegistry {
        &self.registry
    }

    /// The normalized prefix (`""` or `"/something"`).
    pub fn prefix(&self) -> &str {
        &self.routes.prefix
    }

    /// Whether `/metrics` is served.
    pub fn has_metrics(&self) -> bool {
        self.metrics.is_some()
    }

    #[cfg(feature = "axum")]
    pub(crate) fn routes(&self) -> &Routes {
        &self.routes
    }

    /// Answers `request` (what [`Service::call`](tower_service::Service::call)
    /// does, without the future).
    pub fn respond<B>(&self, request: &Request<B>) -> Response<Full<Bytes>> {
        let method = request.method();
        let Some(route) = self.routes.resolve(request.uri().path()) else {
            return not_found(method);
        };
        if route == Route::Metrics && self.metrics.is_none() {
            return not_found(method);
        }
        if method != Method::GET && method != Method::HEAD {
            return method_not_allowed(method);
        }
        match route {
            Route::Health(group) => self.health(method, group),
            Route::Metrics => match &self.metrics {
                Some(source) => with_body(
                    method,
                    StatusCode::OK,
                    HeaderValue::from_static(PROMETHEUS_CONTENT_TYPE),
                    source.render(),
                ),
                None => not_found(method),
            },
        }
    }

    fn health(
        &self,
        method: &Method,
        group: Option<crate::health::Group>,
    ) -> Response<Full<Bytes>> {
        let report = match group {
            Some(group) => self.registry.report(group),
            None => self.registry.report_all(),
        };
        let status =
            StatusCode::from_u16(report.http_status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        with_body(
            method,
            status,
            HeaderValue::from_static(HEALTH_CONTENT_TYPE),
            report.to_json(self.registry.config()),
        )
    }
}

impl<B> tower_service::Service<Request<B>> for HealthEndpoint {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Stateless and never busy.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ready(Ok(self.respond(&request)))
    }
}
