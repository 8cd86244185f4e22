//! [axum](https://docs.rs/axum) 0.8 integration (feature `axum`).
//!
//! * Every error of this crate implements
//!   [`IntoResponse`], so a handler can
//!   return it and a stack's error becomes an HTTP response:
//!
//!   | error | status | `Retry-After` |
//!   | --- | --- | --- |
//!   | [`RateLimitError::Rejected`] | 429 Too Many Requests | yes: the wait until a permit, in whole seconds rounded up |
//!   | [`RateLimitError::InsufficientCapacity`] | 429 Too Many Requests | no (the request can never be admitted) |
//!   | [`CircuitBreakerError::Open`] | 503 Service Unavailable | when the remaining open time is known (state `open`; not `half_open` or `forced_open`) |
//!   | [`BulkheadError::Full`] | 503 Service Unavailable | no |
//!   | [`TimeoutError::Elapsed`] | 504 Gateway Timeout | no |
//!   | [`RetryError::Failed`] | the last inner error's response | as the inner error's |
//!   | [`FallbackError::Fallback`] | the fallback error's response | as the fallback error's |
//!   | `NotReady` of every layer | 500 Internal Server Error | no |
//!   | `Inner(e)` of every layer | `e.into_response()` | as `e`'s |
//!
//!   **Inner errors** are turned into responses by their own
//!   `IntoResponse`: the implementations are generic over
//!   `E: IntoResponse`. Inside a [`Router`](::axum::Router) the inner
//!   error is `Infallible` (axum's routes cannot fail), which axum already
//!   implements; for a backend client's error (`reqwest::Error`,
//!   `std::io::Error`), implement `IntoResponse` on your own error type,
//!   or wrap it in [`InternalError`] (500, the error logged with
//!   `tracing`, not sent to the client). The body is a short plain-text
//!   reason; it never contains the inner error's text.
//!
//! * axum requires a middleware's error to be `Infallible`
//!   (`Router::layer`, `route_layer`, `Router::route_service`).
//!   [`IntoResponseLayer`], put outermost, turns every error of the stack
//!   into its response, so the stack goes on a router directly, without
//!   `HandleErrorLayer`. Readiness errors (a rate limiter or breaker
//!   rejecting in `poll_ready`) become the response of the next call.
//!
//! * [`BufferBodyLayer`] reads the request body into memory (up to a
//!   limit) and hands the inner service a `Request<BufferedBody>`, which
//!   is `Clone`: the [retry layer](crate::retry) needs a copy of the request
//!   for the next attempt, and `axum::body::Body` cannot be copied. Put it
//!   right above the retry layer.
//!
//! # A stack on routes
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, routing::get, http::StatusCode};
//! use iot_resilience::axum::{BufferBodyLayer, IntoResponseLayer};
//! use iot_resilience::circuit_breaker::{CircuitBreakerConfig, CircuitBreakerLayer};
//! use iot_resilience::rate_limit::{RateLimitConfig, RateLimitLayer};
//! use iot_resilience::retry::{RetryConfig, RetryLayer};
//! use iot_resilience::timeout::{TimeoutConfig, TimeoutLayer};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), iot_resilience::ConfigError> {
//! let stack = ServiceBuilder::new()
//!     .layer(IntoResponseLayer) // errors become responses: the service is infallible
//!     .layer(RateLimitLayer::from(RateLimitConfig::per(100, Duration::from_secs(1)).build()?))
//!     .layer(CircuitBreakerLayer::from(CircuitBreakerConfig::default().name("api").build()?))
//!     .layer(BufferBodyLayer::new(64 * 1024)) // a copyable request for retries
//!     .layer(RetryLayer::from(RetryConfig::default().build()?))
//!     .layer(TimeoutLayer::from(TimeoutConfig::default().timeout(Duration::from_secs(2)).build()?));
//!
//! let app: Router = Router::new()
//!     .route("/readings", get(|| async { "ok" }))
//!     .route_layer(stack) // or `.layer(stack)` for every route and the fallback
//!     .route("/health", get(|| async { "up" }));
//!
//! let request = axum::http::Request::get("/readings").body(axum::body::Body::empty()).unwrap();
//! let response = app.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::OK);
//! # Ok(())
//! # }
//! ```
//!
//! # A stack in state, with typed errors
//!
//! A stack calling a backend from a handler keeps its typed error: the
//! handler matches on it (here: count open-breaker rejections), and can
//! still return it, since it is `IntoResponse`.
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, extract::State, routing::get, http::StatusCode};
//! use axum::response::{IntoResponse, Response};
//! use iot_resilience::circuit_breaker::{CircuitBreakerConfig, CircuitBreakerError, CircuitBreakerLayer};
//! use iot_resilience::timeout::{TimeoutConfig, TimeoutError, TimeoutLayer};
//! use tower::{Service, ServiceBuilder, ServiceExt, util::BoxCloneSyncService};
//!
//! /// The backend client's error, with its own response.
//! #[derive(Debug)]
//! struct BackendDown;
//! impl IntoResponse for BackendDown {
//!     fn into_response(self) -> Response {
//!         (StatusCode::BAD_GATEWAY, "backend down").into_response()
//!     }
//! }
//!
//! type BackendError = CircuitBreakerError<TimeoutError<BackendDown>>;
//! type Backend = BoxCloneSyncService<u32, String, BackendError>;
//!
//! async fn reading(State(mut backend): State<Backend>) -> Result<String, BackendError> {
//!     match backend.ready().await?.call(7).await {
//!         Err(e @ CircuitBreakerError::Open { .. }) => {
//!             tracing::warn!("backend breaker open");
//!             Err(e) // 503 with Retry-After
//!         }
//!         other => other, // 504 on timeout, 502 from BackendDown
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), iot_resilience::ConfigError> {
//! let backend = ServiceBuilder::new()
//!     .layer(CircuitBreakerLayer::from(CircuitBreakerConfig::default().build()?))
//!     .layer(TimeoutLayer::from(TimeoutConfig::default().timeout(Duration::from_secs(1)).build()?))
//!     .service_fn(|id: u32| async move { Ok::<_, BackendDown>(format!("reading {id}")) });
//!
//! let app = Router::new()
//!     .route("/reading", get(reading))
//!     .with_state(Backend::new(backend));
//!
//! let request = axum::http::Request::get("/reading").body(axum::body::Body::empty()).unwrap();
//! let response = app.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::OK);
//! # Ok(())
//! # }
//! ```

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use ::axum::body::{Body, Bytes};
use ::axum::http::{HeaderValue, Request, StatusCode, header};
use ::axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::bulkhead::BulkheadError;
use crate::circuit_breaker::{CircuitBreakerError, Rejected, State};
use crate::fallback::FallbackError;
use crate::rate_limit::RateLimitError;
use crate::retry::RetryError;
use crate::timeout::TimeoutError;

const TARGET: &str = "iot_resilience::axum";

/// `Retry-After` in whole seconds, rounded up (RFC 9110 allows no
/// fractions): a client waiting that long finds the permit or the breaker
/// ready.
pub fn retry_after_header(after: Duration) -> HeaderValue {
    let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
    HeaderValue::from(secs)
}

fn plain(status: StatusCode, retry_after: Option<Duration>, reason: &'static str) -> Response {
    let mut response = (status, reason).into_response();
    if let Some(after) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, retry_after_header(after));
    }
    response
}

fn not_ready() -> Response {
    plain(
        StatusCode::INTERNAL_SERVER_ERROR,
        None,
        "service called before it was ready",
    )
}

/// 429 with `Retry-After` for a rejection; 429 without it for a cost above
/// the burst; the inner error's own response; 500 for `NotReady`.
impl<E: IntoResponse> IntoResponse for RateLimitError<E> {
    fn into_response(self) -> Response {
        match self {
            Self::Rejected { retry_after } => plain(
                StatusCode::TOO_MANY_REQUESTS,
                Some(retry_after),
                "rate limited",
            ),
            Self::InsufficientCapacity { .. } => plain(
                StatusCode::TOO_MANY_REQUESTS,
                None,
                "request exceeds the rate limit's burst",
            ),
            Self::NotReady => not_ready(),
            Self::Inner(e) => e.into_response(),
        }
    }
}

/// 503, with `Retry-After` when the remaining open time is known.
impl IntoResponse for Rejected {
    fn into_response(self) -> Response {
        let reason = match self.state {
            State::HalfOpen => "circuit breaker half-open, call not permitted",
            State::ForcedOpen => "circuit breaker forced open",
            _ => "circuit breaker open",
        };
        plain(StatusCode::SERVICE_UNAVAILABLE, self.retry_after, reason)
    }
}

/// 503 (with `Retry-After` when the remaining open time is known) for a
/// rejection; the inner error's own response; 500 for `NotReady`.
impl<E: IntoResponse> IntoResponse for CircuitBreakerError<E> {
    fn into_response(self) -> Response {
        match self {
            Self::Open { state, retry_after } => Rejected { state, retry_after }.into_response(),
            Self::Inner(e) => e.into_response(),
            Self::NotReady => not_ready(),
        }
    }
}

/// 503 for a full bulkhead; the inner error's own response; 500 for
/// `NotReady`.
impl<E: IntoResponse> IntoResponse for BulkheadError<E> {
    fn into_response(self) -> Response {
        match self {
            Self::Full { .. } => plain(StatusCode::SERVICE_UNAVAILABLE, None, "bulkhead full"),
            Self::NotReady => not_ready(),
            Self::Inner(e) => e.into_response(),
        }
    }
}

/// 504 for a timeout; the inner error's own response; 500 for `NotReady`.
impl<E: IntoResponse> IntoResponse for TimeoutError<E> {
    fn into_response(self) -> Response {
        match self {
            Self::Elapsed { .. } => plain(StatusCode::GATEWAY_TIMEOUT, None, "request timed out"),
            Self::Inner(e) => e.into_response(),
            Self::NotReady => not_ready(),
        }
    }
}

/// The last inner error's own response (e.g. 504 after the last attempt
/// timed out); 500 for `NotReady`.
impl<E: IntoResponse> IntoResponse for RetryError<E> {
    fn into_response(self) -> Response {
        match self {
            Self::Failed { error, .. } => error.into_response(),
            Self::NotReady => not_ready(),
        }
    }
}

/// The primary error's response when no fallback ran, the fallback's when
/// it failed too; 500 for `NotReady`.
impl<E: IntoResponse, F: IntoResponse> IntoResponse for FallbackError<E, F> {
    fn into_response(self) -> Response {
        match self {
            Self::Inner(e) => e.into_response(),
            Self::Fallback { fallback, .. } => fallback.into_response(),
            Self::NotReady => not_ready(),
        }
    }
}

/// An error with no HTTP meaning of its own (an I/O error, a client
/// library's error): 500 Internal Server Error, the error logged at
/// `error` level (target `iot_resilience::axum`) and not sent to the
/// client.
///
/// ```
/// use axum::response::IntoResponse;
/// use iot_resilience::axum::InternalError;
///
/// let response = InternalError(std::io::Error::other("disk full")).into_response();
/// assert_eq!(response.status(), 500);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalError<E>(pub E);

impl<E> From<E> for InternalError<E> {
    fn from(e: E) -> Self {
        Self(e)
    }
}

impl<E: fmt::Display> fmt::Display for InternalError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<E: std::error::Error + 'static> std::error::Error for InternalError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl<E: fmt::Display> IntoResponse for InternalError<E> {
    fn into_response(self) -> Response {
        tracing::error!(target: TARGET, error = %self.0, "internal error");
        plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "internal server error",
        )
    }
}

impl<E> crate::RetryHint for InternalError<E> {}

/// Turns a service's errors into responses: `Result<R, E>` with
/// `R, E: IntoResponse` becomes `Ok(Response)`, and the service's error
/// `Infallible`, as axum requires of middleware. Put it outermost.
///
/// ```
/// use axum::http::StatusCode;
/// use iot_resilience::axum::IntoResponseLayer;
/// use iot_resilience::timeout::{TimeoutConfig, TimeoutLayer};
/// use std::time::Duration;
/// use tower::{ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let service = ServiceBuilder::new()
///     .layer(IntoResponseLayer)
///     .layer(TimeoutLayer::from(TimeoutConfig::default().timeout(Duration::from_secs(1)).build().unwrap()))
///     .service_fn(|_: ()| async {
///         tokio::time::sleep(Duration::from_secs(5)).await;
///         Ok::<_, std::convert::Infallible>("late")
///     });
/// let response = service.oneshot(()).await.unwrap(); // `Result<Response, Infallible>`
/// assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct IntoResponseLayer;

impl<S> Layer<S> for IntoResponseLayer {
    type Service = IntoResponseService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        IntoResponseService::new(inner)
    }
}

/// The service of [`IntoResponseLayer`].
///
/// `poll_ready` drives the inner service's; if that fails (a rate limiter
/// or breaker rejecting before the call), the error's response is kept and
/// returned by the next `call`, and `poll_ready` reports ready, so the
/// service never fails. Otherwise `call` goes to the inner service as is:
/// calling without a ready `poll_ready` is the inner service's to handle
/// (every layer of this crate answers its `NotReady` error: 500).
pub struct IntoResponseService<S> {
    inner: S,
    // `Mutex` only to be `Sync` (axum requires it; `Body` is not `Sync`):
    // it is only reached through `&mut self`, never locked.
    rejected: Mutex<Option<Response>>,
}

impl<S> IntoResponseService<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            rejected: Mutex::new(None),
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, by value.
    pub fn into_inner(self) -> S {
        self.inner
    }

    fn rejected(&mut self) -> &mut Option<Response> {
        self.rejected
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<S: Clone> Clone for IntoResponseService<S> {
    /// A clone of the inner service; no pending rejection.
    fn clone(&self) -> Self {
        Self::new(self.inner.clone())
    }
}

impl<S: fmt::Debug> fmt::Debug for IntoResponseService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntoResponseService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, Req> Service<Req> for IntoResponseService<S>
where
    S: Service<Req>,
    S::Response: IntoResponse,
    S::Error: IntoResponse,
{
    type Response = Response;
    type Error = Infallible;
    type Future = IntoResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        if self.rejected().is_some() {
            return Poll::Ready(Ok(()));
        }
        if let Err(error) = ready!(self.inner.poll_ready(cx)) {
            *self.rejected() = Some(error.into_response());
        }
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Req) -> Self::Future {
        match self.rejected().take() {
            Some(response) => IntoResponseFuture {
                kind: Kind::Rejected {
                    response: Some(response),
                },
            },
            None => IntoResponseFuture {
                kind: Kind::Inner {
                    future: self.inner.call(request),
                },
            },
        }
    }
}

pin_project! {
    /// The future of [`IntoResponseService`].
    pub struct IntoResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Inner { #[pin] future: F },
        Rejected { response: Option<Response> },
    }
}

impl<F, R, E> Future for IntoResponseFuture<F>
where
    F: Future<Output = Result<R, E>>,
    R: IntoResponse,
    E: IntoResponse,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => Poll::Ready(Ok(match ready!(future.poll(cx)) {
                Ok(response) => response.into_response(),
                Err(error) => error.into_response(),
            })),
            KindProj::Rejected { response } => Poll::Ready(Ok(response
                .take()
                .expect("IntoResponseFuture polled after completion"))),
        }
    }
}

impl<F> fmt::Debug for IntoResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntoResponseFuture").finish_non_exhaustive()
    }
}

/// Reads request bodies into memory, up to `limit` bytes, and hands the
/// inner service a `Request<`[`BufferedBody`]`>`, which is `Clone`, so a
/// [retry layer](crate::retry) below can resend it.
///
/// A body over the limit is answered 413 Payload Too Large, one that
/// fails to read 400 Bad Request ([`BodyError`]); the inner service is not
/// called then. axum's routes accept any body type, so the stack can end
/// in a router's route.
#[derive(Debug, Clone, Copy)]
pub struct BufferBodyLayer {
    limit: usize,
}

impl BufferBodyLayer {
    /// Buffers bodies of at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self { limit }
    }
}

impl<S> Layer<S> for BufferBodyLayer {
    type Service = BufferBody<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BufferBody {
            inner,
            limit: self.limit,
        }
    }
}

/// The service of [`BufferBodyLayer`].
#[derive(Debug, Clone)]
pub struct BufferBody<S> {
    inner: S,
    limit: usize,
}

/// The error of [`BufferBody`]: the body could not be buffered, or the
/// inner service failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError<E> {
    /// The body is longer than the limit (413 Payload Too Large).
    #[error("request body longer than {limit} bytes")]
    TooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// The body could not be read (400 Bad Request).
    #[error("request body could not be read: {0}")]
    Read(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The inner service failed.
    #[error(transparent)]
    Inner(E),
}

impl<E: IntoResponse> IntoResponse for BodyError<E> {
    fn into_response(self) -> Response {
        match self {
            Self::TooLarge { .. } => plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                "request body too large",
            ),
            Self::Read(_) => plain(
                StatusCode::BAD_REQUEST,
                None,
                "request body could not be read",
            ),
            Self::Inner(e) => e.into_response(),
        }
    }
}

impl<E: crate::RetryHint> crate::RetryHint for BodyError<E> {
    fn retry_hint(&self) -> crate::Hint {
        match self {
            Self::Inner(e) => e.retry_hint(),
            _ => crate::Hint::DoNotRetry,
        }
    }
}

impl<S> Service<Request<Body>> for BufferBody<S>
where
    S: Service<Request<BufferedBody>> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = S::Response;
    type Error = BodyError<S::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(BodyError::Inner)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The clone made ready goes with the future; this one stays.
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let limit = self.limit;
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let bytes = match Limited::new(body, limit).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(error) if error.is::<LengthLimitError>() => {
                    return Err(BodyError::TooLarge { limit });
                }
                Err(error) => return Err(BodyError::Read(error)),
            };
            ready
                .call(Request::from_parts(parts, BufferedBody::new(bytes)))
                .await
                .map_err(BodyError::Inner)
        })
    }
}

/// A request body held in memory, made by [`BufferBodyLayer`]: an
/// [`http_body::Body`] that is cheap to clone (the bytes are shared), so
/// requests carrying it are `Clone`. A clone made before the body is read
/// yields all of it again.
#[derive(Debug, Clone, Default)]
pub struct BufferedBody {
    bytes: Bytes,
    read: bool,
}

impl BufferedBody {
    /// A body of `bytes`.
    pub fn new(bytes: Bytes) -> Self {
        Self { bytes, read: false }
    }

    /// The whole body (also after it was read).
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }
}

impl From<Bytes> for BufferedBody {
    fn from(bytes: Bytes) -> Self {
        Self::new(bytes)
    }
}

impl http_body::Body for BufferedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.read || this.bytes.is_empty() {
            this.read = true;
            return Poll::Ready(None);
        }
        this.read = true;
        Poll::Ready(Some(Ok(http_body::Frame::data(this.bytes.clone()))))
    }

    fn is_end_stream(&self) -> bool {
        self.read || self.bytes.is_empty()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        let remaining = if self.is_end_stream() {
            0
        } else {
            self.bytes.len() as u64
        };
        http_body::SizeHint::with_exact(remaining)
    }
}
