//! [`HttpMetricsLayer`]: the HTTP mode of the metrics layer, with `route`,
//! `method` and `status_class` labels (feature `axum`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::task::{Context, Poll, ready};

use ::metrics::{Counter, Gauge, Histogram};
use axum::extract::MatchedPath;
use http::{Method, Request, Response};
use pin_project_lite::pin_project;
use quanta::Instant;
use tower_layer::Layer;
use tower_service::Service;

use super::catalog::{
    DEFAULT_PREFIX, HTTP_LAYER_METRICS, HTTP_REQUEST_DURATION_SECONDS, HTTP_REQUESTS_IN_FLIGHT,
    HTTP_REQUESTS_TOTAL, LABEL_METHOD, LABEL_ROUTE, LABEL_STATUS_CLASS, prefixed,
};

/// The `route` value of requests no route matched (404s from the router's
/// fallback, scans for random paths): one series, however many paths.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The `method` values: the standard methods by name, anything else
/// `OTHER`.
const METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "OTHER",
];

/// The `status_class` values; `error` is a call that ended in an error
/// instead of a response.
const STATUS_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "error"];

fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::HEAD => 1,
        Method::POST => 2,
        Method::PUT => 3,
        Method::DELETE => 4,
        Method::PATCH => 5,
        Method::OPTIONS => 6,
        Method::CONNECT => 7,
        Method::TRACE => 8,
        _ => 9,
    }
}

/// `1xx` to `5xx` (codes 600 to 999, which no standard defines, as `5xx`).
fn status_index(status: http::StatusCode) -> usize {
    match status.as_u16() / 100 {
        1 => 0,
        2 => 1,
        3 => 2,
        4 => 3,
        _ => 4,
    }
}

const ERROR_INDEX: usize = 5;

/// A tower layer for HTTP services recording
/// `<prefix>_http_requests_total`, `<prefix>_http_request_duration_seconds`
/// (both by `route`, `method` and `status_class`) and
/// `<prefix>_http_requests_in_flight` (by `route` and `method`), the
/// labels axum-prometheus uses.
///
/// * `route` is the route template axum matched (its
///   [`MatchedPath`], such as `/devices/{id}`), never the raw path, so a
///   million devices make one series. Requests no route matched share the
///   value [`UNMATCHED_ROUTE`].
/// * `method` is the request method, `OTHER` for non-standard ones.
/// * `status_class` is `1xx` to `5xx`, or `error` when the inner service
///   returned an error instead of a response.
///
/// Add it with [`Router::layer`](axum::Router::layer), which wraps every
/// route after axum has matched it (a layer around the whole router runs
/// before matching and would see every request as unmatched). Series are
/// registered when a route, method and class is first seen, with the
/// recorder current then (install the exporter first); later requests
/// only look the route up under a read lock and touch atomics.
///
/// For services that are not HTTP routes, [`MetricsLayer`](super::MetricsLayer)
/// records one fixed `operation` label.
///
/// ```
/// use axum::{Router, routing::get};
/// use iot_observe::metrics_layer::MetricsLayer;
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let app: Router = Router::new()
///     .route("/devices/{id}", get(|| async { "a device" }))
///     .layer(MetricsLayer::http()); // iot_http_requests_total{route="/devices/{id}",..}
/// let request = http::Request::get("/devices/d-42").body(axum::body::Body::empty()).unwrap();
/// assert_eq!(app.oneshot(request).await.unwrap().status(), 200);
/// # }
/// ```
#[derive(Clone)]
pub struct HttpMetricsLayer {
    shared: Arc<HttpShared>,
}

impl HttpMetricsLayer {
    /// A layer with the default prefix `iot`.
    pub fn new() -> Self {
        Self::with_prefix(DEFAULT_PREFIX)
    }

    /// A layer whose metrics are named `<prefix>_http_requests_total` and so
    /// on (an empty prefix means none). Describes them with the current
    /// recorder.
    pub fn with_prefix(prefix: impl Into<Cow<'static, str>>) -> Self {
        let prefix = prefix.into();
        ::metrics::with_recorder(|recorder| {
            for def in &HTTP_LAYER_METRICS {
                def.describe(recorder, prefixed(&prefix, def.name));
            }
        });
        // Calibrates the TSC clock now rather than on the first request.
        let _ = Instant::now();
        Self {
            shared: Arc::new(HttpShared {
                total: prefixed(&prefix, HTTP_REQUESTS_TOTAL),
                seconds: prefixed(&prefix, HTTP_REQUEST_DURATION_SECONDS),
                in_flight: prefixed(&prefix, HTTP_REQUESTS_IN_FLIGHT),
                routes: RwLock::new(HashMap::new()),
            }),
        }
    }
}

impl Default for HttpMetricsLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for HttpMetricsLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpMetricsLayer")
            .field("requests_total", &self.shared.total)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for HttpMetricsLayer {
    type Service = HttpMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetricsService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The names, and the series of every route seen so far.
struct HttpShared {
    total: String,
    seconds: String,
    in_flight: String,
    routes: RwLock<HashMap<Box<str>, Arc<RouteSeries>>>,
}

impl HttpShared {
    /// The series of `route`, created on first sight.
    fn route(&self, route: &str) -> Arc<RouteSeries> {
        let found = self
            .routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(route)
            .cloned();
        if let Some(series) = found {
            return series;
        }
        let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            routes
                .entry(route.into())
                .or_insert_with(|| Arc::new(RouteSeries::new(route))),
        )
    }
}

/// One route's handles, per method and status class, registered on first
/// use so only combinations that occur are exported.
struct RouteSeries {
    route: String,
    methods: [OnceLock<MethodSeries>; METHODS.len()],
}

struct MethodSeries {
    in_flight: Gauge,
    classes: [OnceLock<(Counter, Histogram)>; STATUS_CLASSES.len()],
}

impl RouteSeries {
    fn new(route: &str) -> Self {
        Self {
            route: route.to_owned(),
            methods: Default::default(),
        }
    }

    fn method(&self, shared: &HttpShared, method: usize) -> &MethodSeries {
        self.methods[method].get_or_init(|| MethodSeries {
            in_flight: ::metrics::gauge!(
                shared.in_flight.clone(),
                LABEL_ROUTE => self.route.clone(),
                LABEL_METHOD => METHODS[method]
            ),
            classes: Default::default(),
        })
    }

    fn record(&self, shared: &HttpShared, method: usize, class: usize, seconds: f64) {
        let (counter, histogram) = self.method(shared, method).classes[class].get_or_init(|| {
            let labels = [
                (LABEL_ROUTE, self.route.clone()),
                (LABEL_METHOD, METHODS[method].to_owned()),
                (LABEL_STATUS_CLASS, STATUS_CLASSES[class].to_owned()),
            ];
            (
                ::metrics::counter!(shared.total.clone(), &labels),
                ::metrics::histogram!(shared.seconds.clone(), &labels),
            )
        });
        counter.increment(1);
        histogram.record(seconds);
    }
}

/// The service [`HttpMetricsLayer`] wraps around an HTTP service.
pub struct HttpMetricsService<S> {
    inner: S,
    shared: Arc<HttpShared>,
}

impl<S: Clone> Clone for HttpMetricsService<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for HttpMetricsService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpMetricsService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, B, RespBody> Service<Request<B>> for HttpMetricsService<S>
where
    S: Service<Request<B>, Response = Response<RespBody>>,
{
    type Response = Response<RespBody>;
    type Error = S::Error;
    type Future = HttpResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
        let series = self.shared.route(route);
        let method = method_index(request.method());
        series.method(&self.shared, method).in_flight.increment(1.0);
        let in_flight = HttpInFlight {
            shared: Arc::clone(&self.shared),
            series,
            method,
            start: Instant::now(),
        };
        HttpResponseFuture {
            inner: self.inner.call(request),
            in_flight: Some(in_flight),
        }
    }
}

/// One request in flight: the gauge goes down on drop, completed or
/// cancelled.
struct HttpInFlight {
    shared: Arc<HttpShared>,
    series: Arc<RouteSeries>,
    method: usize,
    start: Instant,
}

impl HttpInFlight {
    fn finish(self, class: usize) {
        let seconds = self.start.elapsed().as_secs_f64();
        self.series
            .record(&self.shared, self.method, class, seconds);
    }
}

impl Drop for HttpInFlight {
    fn drop(&mut self) {
        self.series
            .method(&self.shared, self.method)
            .in_flight
            .decrement(1.0);
    }
}

pin_project! {
    /// Completes with the inner service's result after recording it; a
    /// cancelled request is neither counted nor timed.
    pub struct HttpResponseFuture<F> {
        #[pin]
        inner: F,
        in_flight: Option<HttpInFlight>,
    }
}

impl<F> fmt::Debug for HttpResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponseFuture")
            .field("in_flight", &self.in_flight.is_some())
            .finish_non_exhaustive()
    }
}

impl<F, RespBody, E> Future for HttpResponseFuture<F>
where
    F: Future<Output = Result<Response<RespBody>, E>>,
{
    type Output = Result<Response<RespBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Some(in_flight) = this.in_flight.take() {
            let class = match &result {
                Ok(response) => status_index(response.status()),
                Err(_) => ERROR_INDEX,
            };
            in_flight.finish(class);
        }
        Poll::Ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        let class = |code| STATUS_CLASSES[status_index(http::StatusCode::from_u16(code).unwrap())];
        assert_eq!(class(101), "1xx");
        assert_eq!(class(204), "2xx");
        assert_eq!(class(308), "3xx");
        assert_eq!(class(404), "4xx");
        assert_eq!(class(503), "5xx");
        assert_eq!(class(999), "5xx");
    }

    #[test]
    fn methods_are_a_bounded_set() {
        assert_eq!(METHODS[method_index(&Method::PATCH)], "PATCH");
        let custom = Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(METHODS[method_index(&custom)], "OTHER");
    }
}
