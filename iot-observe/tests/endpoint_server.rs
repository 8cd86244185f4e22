//! The standalone server over real TCP: routes, HEAD, a probe storm and
//! graceful stop.
#![cfg(feature = "server")]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use iot_observe::endpoint::{HealthEndpoint, serve};
use iot_observe::health::{
    CheckOptions, CheckResult, HealthConfig, HealthRegistry, Status, check_fn,
};
use iot_observe::shutdown::Shutdown;
use iot_observe::{HEALTH_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Reply {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// Parses one HTTP/1.1 response from `raw` (headers, then the rest).
fn parse(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = std::str::from_utf8(&raw[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// One request on a fresh connection (`Connection: close`, read to EOF).
async fn request(addr: SocketAddr, method: &str, path: &str) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let text = format!("{method} {path} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n");
    stream.write_all(text.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    parse(&raw)
}

fn registry(runs: &Arc<AtomicUsize>) -> HealthRegistry {
    let counter = runs.clone();
    HealthRegistry::builder()
        .config(HealthConfig::default().version("9.9.9"))
        .check(
            "db:ping",
            check_fn(move || {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    CheckResult::pass().with_observed(3, "ms")
                }
            }),
            CheckOptions::readiness(),
        )
        .check(
            "cache:ping",
            check_fn(|| async { Status::Fail }),
            CheckOptions::readiness().critical(false),
        )
        .check(
            "queue:depth",
            check_fn(|| async { Status::Fail }),
            CheckOptions::startup(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn serves_every_route_over_tcp() {
    let runs = Arc::new(AtomicUsize::new(0));
    let registry = registry(&runs);
    registry.refresh().await;
    let endpoint = HealthEndpoint::new(registry).with_metrics(Arc::new(|| "up 1\n".to_owned()));
    let shutdown = Shutdown::new(Duration::ZERO);
    let server = serve(([127, 0, 0, 1], 0).into(), endpoint, shutdown.drained())
        .await
        .unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);

    let live = request(addr, "GET", "/health/live").await;
    assert_eq!(live.status, 200);
    assert_eq!(live.headers["content-type"], HEALTH_CONTENT_TYPE);
    assert_eq!(live.headers["cache-control"], "no-store");
    let body: serde_json::Value = serde_json::from_slice(&live.body).unwrap();
    assert_eq!(body["status"], "pass");
    assert_eq!(body["version"], "9.9.9");

    let ready = request(addr, "GET", "/health/ready").await;
    assert_eq!(ready.status, 200);
    let body: serde_json::Value = serde_json::from_slice(&ready.body).unwrap();
    assert_eq!(body["status"], "warn");
    assert_eq!(body["checks"]["db:ping"][0]["observedValue"], 3);
    assert_eq!(body["checks"]["cache:ping"][0]["status"], "fail");

    let startup = request(addr, "GET", "/health/startup").await;
    assert_eq!(startup.status, 503);

    let all = request(addr, "GET", "/health").await;
    assert_eq!(all.status, 503);
    let body: serde_json::Value = serde_json::from_slice(&all.body).unwrap();
    assert_eq!(body["checks"].as_object().unwrap().len(), 3);

    let head = request(addr, "HEAD", "/health").await;
    assert_eq!(head.status, 503);
    assert!(head.body.is_empty());
    assert_eq!(head.headers["content-length"], all.body.len().to_string());
    assert_eq!(head.headers["content-type"], HEALTH_CONTENT_TYPE);

    let metrics = request(addr, "GET", "/metrics").await;
    assert_eq!(metrics.status, 200);
    assert_eq!(metrics.headers["content-type"], PROMETHEUS_CONTENT_TYPE);
    assert_eq!(metrics.body, b"up 1\n");

    let post = request(addr, "POST", "/health/ready").await;
    assert_eq!(post.status, 405);
    assert_eq!(post.headers["allow"], "GET, HEAD");
    assert_eq!(request(addr, "GET", "/nope").await.status, 404);

    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("server stops after the drain")
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_probe_storm_runs_no_extra_checks() {
    let runs = Arc::new(AtomicUsize::new(0));
    let registry = registry(&runs);
    registry.refresh().await;
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let shutdown = Shutdown::new(Duration::ZERO);
    let server = serve(
        ([127, 0, 0, 1], 0).into(),
        HealthEndpoint::new(registry),
        shutdown.drained(),
    )
    .await
    .unwrap();
    let addr = server.local_addr();
    let probes: Vec<_> = (0..200)
        .map(|_| tokio::spawn(async move { request(addr, "GET", "/health/ready").await.status }))
        .collect();
    for probe in probes {
        assert_eq!(probe.await.unwrap(), 200);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    shutdown.finish_now();
    server.await.unwrap();
}

#[tokio::test]
async fn graceful_stop_closes_idle_keep_alive_connections() {
    let runs = Arc::new(AtomicUsize::new(0));
    let shutdown = Shutdown::new(Duration::from_millis(100));
    let server = serve(
        ([127, 0, 0, 1], 0).into(),
        HealthEndpoint::new(registry(&runs)),
        shutdown.drained(),
    )
    .await
    .unwrap();
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    // Keep-alive: read exactly one response, leave the connection open.
    stream
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: probe\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 1024];
    let reply = loop {
        let n = stream.read(&mut buf).await.unwrap();
        assert_ne!(n, 0, "closed early");
        raw.extend_from_slice(&buf[..n]);
        if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let reply = parse(&raw);
            let length: usize = reply.headers["content-length"].parse().unwrap();
            if raw.len() >= split + 4 + length {
                break reply;
            }
        }
    };
    assert_eq!(reply.status, 200);

    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the idle connection does not hold the server")
        .unwrap();
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "connection closed");
}

#[tokio::test]
async fn bind_error_is_reported() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let registry = HealthRegistry::builder().build().unwrap();
    let result = serve(
        taken.local_addr().unwrap(),
        HealthEndpoint::new(registry),
        std::future::pending(),
    )
    .await;
    let error = result.unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
    let addr = taken.local_addr().unwrap().to_string();
    assert!(error.to_string().contains(&addr), "{error} names {addr}");
}

/// A server over an empty registry whose shutdown future never completes.
async fn serve_until_stopped() -> iot_observe::endpoint::ServerHandle {
    let registry = HealthRegistry::builder().build().unwrap();
    serve(
        ([127, 0, 0, 1], 0).into(),
        HealthEndpoint::new(registry),
        std::future::pending(),
    )
    .await
    .unwrap()
}

/// Whether `addr` stops accepting connections within 2 s (the server
/// thread closes its listener asynchronously).
fn stops_listening(addr: SocketAddr) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while std::time::Instant::now() < deadline {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn the_server_stops_with_the_runtime_that_started_it() {
    // The server runs on a thread of its own, but must not outlive the
    // runtime that started it, as a server task on that runtime would not.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let addr = runtime.block_on(async {
        // The handle is dropped: the server goes on.
        serve_until_stopped().await.local_addr()
    });
    // Served from its own thread while the caller's runtime sits idle.
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(
        &mut stream,
        b"GET /health/live HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut stream, &mut raw).unwrap();
    assert_eq!(parse(&raw).status, 200);

    drop(runtime);
    assert!(stops_listening(addr), "the server outlived its runtime");
}

#[tokio::test]
async fn abort_stops_the_server_and_closes_connections() {
    let server = serve_until_stopped().await;
    let addr = server.local_addr();
    // An idle connection, mid-way through a request's headers.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /health/live HTTP/1.1\r\n")
        .await
        .unwrap();

    server.abort();
    let stopped = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("abort ends the server");
    assert!(stopped.unwrap_err().is_cancelled());
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf))
        .await
        .expect("the connection is closed, not left hanging")
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert!(
        tokio::task::spawn_blocking(move || stops_listening(addr))
            .await
            .unwrap()
    );
}
