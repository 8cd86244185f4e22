//! The layers on axum 0.8 routers: each layer alone and the composed
//! stack, on a whole `Router` (`Router::layer`) and on single routes
//! (`route_layer`), driven with `tower::ServiceExt::oneshot` and over a
//! real TCP socket with a minimal HTTP/1.1 client; status codes and
//! `Retry-After` headers checked.
#![cfg(feature = "axum")]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, Route, get, post};
use iot_resilience::axum::{
    BodyError, BufferBodyLayer, BufferedBody, InternalError, IntoResponseLayer, retry_after_header,
};
use iot_resilience::backoff::BackoffConfig;
use iot_resilience::bulkhead::{BulkheadConfig, BulkheadError, BulkheadLayer};
use iot_resilience::circuit_breaker::{
    CircuitBreakerConfig, CircuitBreakerError, CircuitBreakerLayer, Outcome, SlidingWindow,
    State as BreakerState,
};
use iot_resilience::fallback::{FallbackError, FallbackLayer};
use iot_resilience::rate_limit::{RateLimitConfig, RateLimitError, RateLimitLayer};
use iot_resilience::retry::{GiveUpReason, RetryConfig, RetryError, RetryLayer};
use iot_resilience::timeout::{TimeoutConfig, TimeoutError, TimeoutLayer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

// ---------------------------------------------------------------- helpers

fn request(method: &str, uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(body.into())
        .unwrap()
}

/// One request through the router, as axum would route it.
async fn send(app: &Router, method: &str, uri: &str) -> Response {
    app.clone().oneshot(request(method, uri, "")).await.unwrap()
}

fn retry_after(response: &Response) -> Option<&str> {
    response
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap())
}

async fn body_text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Serves `app` on 127.0.0.1, on a port the OS picks.
async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A response read off the wire.
#[derive(Debug)]
struct WireResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl WireResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 client: one request per connection
/// (`Connection: close`), the response read to the end of the stream.
async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> WireResponse {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a header block");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    let status = status_line[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_string(), v.trim().to_string())
        })
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    WireResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
}

fn rate_limit(permits: u32, period: Duration) -> RateLimitLayer {
    RateLimitConfig::per(permits, period)
        .name("http")
        .build()
        .unwrap()
        .into()
}

fn timeout(after: Duration) -> TimeoutLayer {
    TimeoutConfig::default()
        .timeout(after)
        .build()
        .unwrap()
        .into()
}

/// Counts HTTP 5xx responses and errors as failures.
fn server_errors<E>(result: &Result<Response, E>) -> Outcome {
    match result {
        Ok(r) if r.status().is_server_error() => Outcome::Failure,
        Ok(_) => Outcome::Success,
        Err(_) => Outcome::Failure,
    }
}

/// Opens after 2 calls of which at least half failed.
fn breaker(open_for: Duration) -> CircuitBreakerLayer {
    breaker_over(2, open_for)
}

fn breaker_over(calls: u32, open_for: Duration) -> CircuitBreakerLayer {
    CircuitBreakerConfig::default()
        .name("http")
        .sliding_window(SlidingWindow::count(calls))
        .minimum_number_of_calls(calls)
        .failure_rate_threshold(50.0)
        .wait_duration_in_open(open_for)
        .build()
        .unwrap()
        .into()
}

// ------------------------------------------------- error -> response table

#[test]
fn every_error_maps_to_its_status_and_retry_after() {
    type E = Infallible;
    let cases: Vec<(Response, StatusCode, Option<&str>)> = vec![
        (
            RateLimitError::<E>::Rejected {
                retry_after: Duration::from_millis(1500),
            }
            .into_response(),
            StatusCode::TOO_MANY_REQUESTS,
            Some("2"),
        ),
        (
            RateLimitError::<E>::InsufficientCapacity { cost: 5, burst: 2 }.into_response(),
            StatusCode::TOO_MANY_REQUESTS,
            None,
        ),
        (
            CircuitBreakerError::<E>::Open {
                state: BreakerState::Open,
                retry_after: Some(Duration::from_secs(30)),
            }
            .into_response(),
            StatusCode::SERVICE_UNAVAILABLE,
            Some("30"),
        ),
        (
            CircuitBreakerError::<E>::Open {
                state: BreakerState::ForcedOpen,
                retry_after: None,
            }
            .into_response(),
            StatusCode::SERVICE_UNAVAILABLE,
            None,
        ),
        (
            BulkheadError::<E>::Full {
                max_concurrent: 1,
                waited: Duration::ZERO,
            }
            .into_response(),
            StatusCode::SERVICE_UNAVAILABLE,
            None,
        ),
        (
            TimeoutError::<E>::Elapsed {
                after: Duration::from_secs(1),
            }
            .into_response(),
            StatusCode::GATEWAY_TIMEOUT,
            None,
        ),
        (
            RetryError::Failed {
                error: TimeoutError::<E>::Elapsed {
                    after: Duration::from_secs(1),
                },
                attempts: 3,
                reason: GiveUpReason::MaxAttempts,
            }
            .into_response(),
            StatusCode::GATEWAY_TIMEOUT,
            None,
        ),
        (
            RetryError::<E>::NotReady.into_response(),
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
        ),
        (
            TimeoutError::<E>::NotReady.into_response(),
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
        ),
        (
            // Inner errors answer for themselves.
            CircuitBreakerError::Inner(StatusCode::IM_A_TEAPOT).into_response(),
            StatusCode::IM_A_TEAPOT,
            None,
        ),
        (
            RateLimitError::Inner(CircuitBreakerError::<E>::Open {
                state: BreakerState::Open,
                retry_after: Some(Duration::from_millis(1)),
            })
            .into_response(),
            StatusCode::SERVICE_UNAVAILABLE,
            Some("1"),
        ),
        (
            FallbackError::<StatusCode, StatusCode>::Fallback {
                primary: StatusCode::BAD_GATEWAY,
                fallback: StatusCode::NOT_FOUND,
            }
            .into_response(),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            TimeoutError::Inner(InternalError(std::io::Error::other("secret detail")))
                .into_response(),
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
        ),
        (
            BodyError::<E>::TooLarge { limit: 1 }.into_response(),
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
        ),
    ];
    for (i, (response, status, after)) in cases.into_iter().enumerate() {
        assert_eq!(response.status(), status, "case {i}");
        assert_eq!(retry_after(&response), after, "case {i}");
    }
    assert_eq!(retry_after_header(Duration::ZERO), "0");
    assert_eq!(retry_after_header(Duration::from_nanos(1)), "1");
    assert_eq!(retry_after_header(Duration::from_secs(60)), "60");
}

#[tokio::test]
async fn an_internal_error_does_not_leak_its_text() {
    let response = InternalError(std::io::Error::other("password=hunter2")).into_response();
    assert!(!body_text(response).await.contains("hunter2"));
}

// ------------------------------------------------------------ each layer

/// Where a layer goes: on the whole router (`Router::layer`, every route
/// and the fallback) or on one route (`MethodRouter::layer`).
#[derive(Debug, Clone, Copy)]
enum Mount {
    Router,
    Route,
}

const MOUNTS: [Mount; 2] = [Mount::Router, Mount::Route];

/// `route` at `/` with `layer` mounted as `mount` says, next to an
/// unprotected `/other`.
fn mount<L>(mount: Mount, route: MethodRouter, layer: L) -> Router
where
    L: tower::Layer<Route> + Clone + Send + Sync + 'static,
    L::Service: Service<Request<Body>, Error = Infallible> + Clone + Send + Sync + 'static,
    <L::Service as Service<Request<Body>>>::Response: IntoResponse + 'static,
    <L::Service as Service<Request<Body>>>::Future: Send + 'static,
{
    let other = get(|| async { "other" });
    match mount {
        Mount::Router => Router::new()
            .route("/", route)
            .route("/other", other)
            .layer(layer),
        Mount::Route => Router::new()
            .route("/", route.layer(layer))
            .route("/other", other),
    }
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    for m in MOUNTS {
        let app = mount(
            m,
            get(|| async { "ok" }),
            ServiceBuilder::new()
                .layer(IntoResponseLayer)
                .layer(rate_limit(1, Duration::from_secs(60))),
        );
        assert_eq!(
            send(&app, "GET", "/").await.status(),
            StatusCode::OK,
            "{m:?}"
        );
        let limited = send(&app, "GET", "/").await;
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS, "{m:?}");
        // 60 s for the next permit, minus the time since the first
        // request, rounded up.
        assert_eq!(retry_after(&limited), Some("60"), "{m:?}");
        assert_eq!(body_text(limited).await, "rate limited");
        // On the router, the limiter covers every route; on a route, only it.
        let other = send(&app, "GET", "/other").await.status();
        match m {
            Mount::Router => assert_eq!(other, StatusCode::TOO_MANY_REQUESTS),
            Mount::Route => assert_eq!(other, StatusCode::OK),
        }
    }
}

#[tokio::test]
async fn breaker_opens_and_answers_503_with_retry_after() {
    for m in MOUNTS {
        let layer = breaker(Duration::from_secs(30)).classifier(server_errors);
        let handle = layer.handle().clone();
        let app = mount(
            m,
            get(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
            ServiceBuilder::new().layer(IntoResponseLayer).layer(layer),
        );
        // Two failures (the handler's 500s) open the breaker.
        for _ in 0..2 {
            assert_eq!(
                send(&app, "GET", "/").await.status(),
                StatusCode::INTERNAL_SERVER_ERROR
            );
        }
        assert_eq!(handle.state(), BreakerState::Open, "{m:?}");
        let rejected = send(&app, "GET", "/").await;
        assert_eq!(rejected.status(), StatusCode::SERVICE_UNAVAILABLE, "{m:?}");
        assert_eq!(retry_after(&rejected), Some("30"), "{m:?}");

        // Forced open: 503 without `Retry-After` (only an operator closes
        // it).
        handle.force_open();
        let forced = send(&app, "GET", "/").await;
        assert_eq!(forced.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry_after(&forced), None);
    }
}

#[tokio::test]
async fn retry_resends_the_buffered_body() {
    for m in MOUNTS {
        let calls = Arc::new(AtomicU32::new(0));
        let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let handler = {
            let calls = Arc::clone(&calls);
            let seen = Arc::clone(&seen);
            move |body: String| async move {
                seen.lock().unwrap().push(body);
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::CREATED
                }
            }
        };
        let retry = RetryLayer::from(
            RetryConfig::default()
                .max_attempts(3)
                .backoff(BackoffConfig::constant(Duration::from_millis(5)))
                .build()
                .unwrap(),
        )
        .with_predicate(|r: &Result<Response, Infallible>| {
            matches!(r, Ok(r) if r.status() == StatusCode::SERVICE_UNAVAILABLE)
        });
        let app = mount(
            m,
            post(handler),
            ServiceBuilder::new()
                .layer(IntoResponseLayer)
                .layer(BufferBodyLayer::new(1024))
                .layer(retry),
        );
        let response = app
            .clone()
            .oneshot(request("POST", "/", "reading=21"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{m:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(*seen.lock().unwrap(), vec!["reading=21"; 3]);

        // A body over the limit: 413, the handler not called.
        let response = app
            .oneshot(request("POST", "/", "x".repeat(2048)))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{m:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}

#[tokio::test]
async fn timeout_answers_504() {
    for m in MOUNTS {
        let app = mount(
            m,
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
            ServiceBuilder::new()
                .layer(IntoResponseLayer)
                .layer(timeout(Duration::from_millis(50))),
        );
        let response = send(&app, "GET", "/").await;
        assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT, "{m:?}");
        assert_eq!(body_text(response).await, "request timed out");
        assert_eq!(send(&app, "GET", "/other").await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn route_layer_keeps_404_for_unknown_paths() {
    let app = Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route_layer(
            ServiceBuilder::new()
                .layer(IntoResponseLayer)
                .layer(timeout(Duration::from_millis(50))),
        );
    assert_eq!(
        send(&app, "GET", "/slow").await.status(),
        StatusCode::GATEWAY_TIMEOUT
    );
    // `route_layer`: an unknown path is still 404, not a timeout.
    assert_eq!(
        send(&app, "GET", "/nope").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn bulkhead_answers_503_when_full() {
    for m in MOUNTS {
        let release = Arc::new(tokio::sync::Notify::new());
        let (entered_tx, mut entered) = tokio::sync::mpsc::unbounded_channel::<()>();
        let handler = {
            let release = Arc::clone(&release);
            move || async move {
                entered_tx.send(()).unwrap();
                release.notified().await;
                "done"
            }
        };
        let app = mount(
            m,
            get(handler),
            ServiceBuilder::new()
                .layer(IntoResponseLayer)
                .layer(BulkheadLayer::from(
                    BulkheadConfig::default().max_concurrent(1).build().unwrap(),
                )),
        );
        let first = tokio::spawn({
            let app = app.clone();
            async move { send(&app, "GET", "/").await.status() }
        });
        entered.recv().await.unwrap();
        let full = send(&app, "GET", "/").await;
        assert_eq!(full.status(), StatusCode::SERVICE_UNAVAILABLE, "{m:?}");
        assert_eq!(retry_after(&full), None);
        assert_eq!(body_text(full).await, "bulkhead full");
        release.notify_one();
        assert_eq!(first.await.unwrap(), StatusCode::OK);
    }
}

#[tokio::test]
async fn fallback_answers_for_a_timeout() {
    for m in MOUNTS {
        let fallback = FallbackLayer::value(|_: TimeoutError<Infallible>| {
            (StatusCode::OK, "cached reading").into_response()
        });
        let app = mount(
            m,
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "fresh reading"
            }),
            ServiceBuilder::new()
                .layer(IntoResponseLayer)
                .layer(fallback)
                .layer(timeout(Duration::from_millis(20))),
        );
        let response = send(&app, "GET", "/").await;
        assert_eq!(response.status(), StatusCode::OK, "{m:?}");
        assert_eq!(body_text(response).await, "cached reading");
    }
}

#[tokio::test]
async fn a_readiness_error_becomes_the_next_calls_response() {
    /// Fails `poll_ready` with a breaker rejection.
    #[derive(Clone)]
    struct Unready;
    impl Service<()> for Unready {
        type Response = &'static str;
        type Error = CircuitBreakerError<Infallible>;
        type Future = std::future::Ready<Result<&'static str, Self::Error>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Err(CircuitBreakerError::Open {
                state: BreakerState::Open,
                retry_after: Some(Duration::from_secs(3)),
            }))
        }
        fn call(&mut self, _: ()) -> Self::Future {
            unreachable!("not ready")
        }
    }
    let mut service = IntoResponseLayer.layer(Unready);
    let response: Response = service.ready().await.unwrap().call(()).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(retry_after(&response), Some("3"));
}

// ------------------------------------------------------- composed stack

fn stack_app(hits: Arc<AtomicU32>) -> Router {
    let stack = ServiceBuilder::new()
        .layer(IntoResponseLayer)
        .layer(rate_limit(3, Duration::from_secs(60)))
        .layer(breaker_over(10, Duration::from_secs(10)).classifier(server_errors))
        .layer(BufferBodyLayer::new(1 << 16))
        .layer(RetryLayer::from(
            RetryConfig::default()
                .max_attempts(2)
                .backoff(BackoffConfig::constant(Duration::from_millis(1)))
                .build()
                .unwrap(),
        ))
        .layer(timeout(Duration::from_millis(100)))
        .layer(BulkheadLayer::from(
            BulkheadConfig::default().build().unwrap(),
        ));
    Router::new()
        .route(
            "/fast",
            get(move || async move {
                hits.fetch_add(1, Ordering::SeqCst);
                "fast"
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "slow"
            }),
        )
        .route("/echo", post(|body: Bytes| async move { body }))
        .route_layer(stack)
        .route("/health", get(|| async { "up" }))
}

#[tokio::test]
async fn the_composed_stack_on_routes_over_oneshot() {
    let hits = Arc::new(AtomicU32::new(0));
    let app = stack_app(Arc::clone(&hits));
    assert_eq!(send(&app, "GET", "/fast").await.status(), StatusCode::OK);
    // Each attempt times out; the retry gives up after 2: 504.
    assert_eq!(
        send(&app, "GET", "/slow").await.status(),
        StatusCode::GATEWAY_TIMEOUT
    );
    let echo = app
        .clone()
        .oneshot(request("POST", "/echo", "payload"))
        .await
        .unwrap();
    assert_eq!(body_text(echo).await, "payload");
    // Three permits used: the fourth call is limited.
    let limited = send(&app, "GET", "/fast").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&limited).is_some());
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    // The unprotected route is not limited.
    assert_eq!(send(&app, "GET", "/health").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_composed_stack_over_a_real_socket() {
    let hits = Arc::new(AtomicU32::new(0));
    let addr = serve(stack_app(Arc::clone(&hits))).await;

    let ok = http(addr, "GET", "/fast", "").await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body, "fast");

    let echo = http(addr, "POST", "/echo", "temperature=21.5").await;
    assert_eq!(echo.status, 200);
    assert_eq!(echo.body, "temperature=21.5");

    let slow = http(addr, "GET", "/slow", "").await;
    assert_eq!(slow.status, 504);
    assert_eq!(slow.body, "request timed out");

    let limited = http(addr, "GET", "/fast", "").await;
    assert_eq!(limited.status, 429, "{limited:?}");
    let after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&after), "{after}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    assert_eq!(http(addr, "GET", "/health", "").await.status, 200);
    assert_eq!(http(addr, "GET", "/missing", "").await.status, 404);
}

#[tokio::test]
async fn the_composed_stack_on_a_router_and_on_one_route_over_a_real_socket() {
    for m in MOUNTS {
        let stack = ServiceBuilder::new()
            .layer(IntoResponseLayer)
            .layer(rate_limit(2, Duration::from_secs(60)))
            .layer(breaker_over(10, Duration::from_secs(10)).classifier(server_errors))
            .layer(BufferBodyLayer::new(1 << 16))
            .layer(RetryLayer::from(RetryConfig::default().build().unwrap()))
            .layer(timeout(Duration::from_secs(1)))
            .layer(BulkheadLayer::from(
                BulkheadConfig::default().build().unwrap(),
            ));
        let addr = serve(mount(m, post(|body: String| async move { body }), stack)).await;

        let echo = http(addr, "POST", "/", "humidity=40").await;
        assert_eq!(
            (echo.status, echo.body.as_str()),
            (200, "humidity=40"),
            "{m:?}"
        );
        assert_eq!(http(addr, "POST", "/", "again").await.status, 200);
        let limited = http(addr, "POST", "/", "once more").await;
        assert_eq!(limited.status, 429, "{m:?}");
        assert_eq!(limited.header("retry-after"), Some("30"), "{m:?}");
        let other = http(addr, "GET", "/other", "").await.status;
        match m {
            Mount::Router => assert_eq!(other, 429),
            Mount::Route => assert_eq!(other, 200),
        }
    }
}

#[tokio::test]
async fn an_open_breaker_over_a_real_socket_sends_retry_after() {
    let layer = breaker(Duration::from_secs(42)).classifier(server_errors);
    let app = Router::new()
        .route("/", get(|| async { StatusCode::BAD_GATEWAY }))
        .layer(ServiceBuilder::new().layer(IntoResponseLayer).layer(layer));
    let addr = serve(app).await;
    assert_eq!(http(addr, "GET", "/", "").await.status, 502);
    assert_eq!(http(addr, "GET", "/", "").await.status, 502);
    let rejected = http(addr, "GET", "/", "").await;
    assert_eq!(rejected.status, 503);
    assert_eq!(rejected.header("retry-after"), Some("42"));
}

// ------------------------------------------- a stack in state, typed errors

#[derive(Debug)]
struct BackendDown;

impl IntoResponse for BackendDown {
    fn into_response(self) -> Response {
        (StatusCode::BAD_GATEWAY, "backend down").into_response()
    }
}

type BackendError = RateLimitError<TimeoutError<BackendDown>>;
type Backend = tower::util::BoxCloneSyncService<u32, String, BackendError>;

async fn reading(State(mut backend): State<Backend>) -> Result<String, BackendError> {
    let result = backend.ready().await?.call(7).await;
    // The typed error is intact here: the handler can tell the cases apart.
    if let Err(e) = &result {
        assert!(matches!(
            e,
            RateLimitError::Rejected { .. }
                | RateLimitError::Inner(TimeoutError::Inner(BackendDown))
        ));
    }
    result
}

#[tokio::test]
async fn a_stack_in_state_keeps_typed_errors_and_answers_with_them() {
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let backend = ServiceBuilder::new()
        .layer(rate_limit(2, Duration::from_secs(60)))
        .layer(timeout(Duration::from_secs(1)))
        .service_fn({
            let failing = Arc::clone(&failing);
            move |id: u32| {
                let fail = failing.load(Ordering::SeqCst);
                async move {
                    if fail {
                        Err(BackendDown)
                    } else {
                        Ok(format!("reading {id}"))
                    }
                }
            }
        });
    let app = Router::new()
        .route("/reading", get(reading))
        .with_state(Backend::new(backend));
    let addr = serve(app).await;

    let ok = http(addr, "GET", "/reading", "").await;
    assert_eq!((ok.status, ok.body.as_str()), (200, "reading 7"));
    failing.store(true, Ordering::SeqCst);
    let down = http(addr, "GET", "/reading", "").await;
    assert_eq!((down.status, down.body.as_str()), (502, "backend down"));
    let limited = http(addr, "GET", "/reading", "").await;
    assert_eq!(limited.status, 429);
    // 2 permits per 60 s: the next one 30 s after the first two.
    assert_eq!(limited.header("retry-after"), Some("30"));
}

/// Compile-time check: the stack's service is what `Router::layer`
/// requires (error `Infallible`, `Clone + Send + Sync`).
#[allow(dead_code)]
fn stack_fits_router_layer() {
    fn is_router_layer<L>(_: &L)
    where
        L: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: Service<Request<Body>, Error = Infallible> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request<Body>>>::Response: IntoResponse + 'static,
        <L::Service as Service<Request<Body>>>::Future: Send + 'static,
    {
    }
    is_router_layer(
        &ServiceBuilder::new()
            .layer(IntoResponseLayer)
            .layer(rate_limit(1, Duration::from_secs(1)))
            .layer(breaker(Duration::from_secs(1)))
            .layer(BufferBodyLayer::new(1))
            .layer(RetryLayer::from(RetryConfig::default().build().unwrap()))
            .layer(timeout(Duration::from_secs(1)))
            .layer(BulkheadLayer::from(
                BulkheadConfig::default().build().unwrap(),
            )),
    );
}

#[tokio::test]
async fn a_buffered_body_reads_whole_and_its_clones_read_again() {
    use http_body_util::BodyExt;
    let body = BufferedBody::new(Bytes::from_static(b"abc"));
    let copy = body.clone();
    assert_eq!(body.collect().await.unwrap().to_bytes(), "abc");
    assert_eq!(copy.bytes(), "abc");
    assert_eq!(copy.collect().await.unwrap().to_bytes(), "abc");
    let empty = BufferedBody::default();
    assert!(http_body::Body::is_end_stream(&empty));
}
