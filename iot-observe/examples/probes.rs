//! Health probes and Prometheus metrics for a small service, served over
//! HTTP by the standalone server.
//!
//! Shows: a [`HealthRegistry`] with a liveness check (a worker heartbeat),
//! a readiness check (a closure over a backlog gauge) and a startup flag;
//! graceful drain through [`Shutdown`] (readiness fails while draining);
//! a [`PrometheusExporter`] served at `/metrics`; and a [`MetricsLayer`]
//! around a `service_fn` that the worker calls. The example probes its own
//! endpoints over plain HTTP/1.1 and prints the answers.
//!
//! It stops on its own after `PROBES_DURATION_SECS` seconds (default 2;
//! `0` runs until Ctrl-C) or on Ctrl-C. `PROBES_ADDR` sets the address to
//! bind (default `127.0.0.1:0`, a free port).
//!
//! Run: `cargo run -p iot-observe --example probes`
//! (e.g. `PROBES_DURATION_SECS=60 PROBES_ADDR=127.0.0.1:9090 cargo run -p iot-observe --example probes`
//! and `curl -i http://127.0.0.1:9090/health/ready` meanwhile).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use iot_observe::endpoint::{HealthEndpoint, serve};
use iot_observe::health::{
    CheckOptions, CheckResult, HealthConfig, HealthRegistry, StartupFlag, check_fn,
};
use iot_observe::metrics_layer::MetricsLayer;
use iot_observe::prometheus::{PrometheusConfig, PrometheusExporter};
use iot_observe::shutdown::Shutdown;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep};
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

/// Readiness warns above this backlog and fails above twice it.
const MAX_BACKLOG: u64 = 50;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let duration = env_duration("PROBES_DURATION_SECS", Duration::from_secs(2))?;
    let addr: SocketAddr = std::env::var("PROBES_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:0".to_string())
        .parse()?;

    // Metrics first: layers bind their handles to the recorder current when
    // they are built.
    let exporter = PrometheusExporter::install(
        PrometheusConfig::default()
            .service("probes-example")
            .instance("local"),
    )?;

    // The state the checks read.
    let started = StartupFlag::new();
    let epoch = Instant::now();
    let heartbeat_ms = Arc::new(AtomicU64::new(0));
    let backlog = Arc::new(AtomicU64::new(0));
    let shutdown = Shutdown::new(Duration::from_millis(300));

    let beat = heartbeat_ms.clone();
    let queued = backlog.clone();
    let registry = HealthRegistry::builder()
        .config(
            HealthConfig::default()
                .version(env!("CARGO_PKG_VERSION"))
                .interval(Duration::from_millis(500)),
        )
        // Liveness: only the process itself, never a dependency.
        .check(
            "worker:heartbeat",
            check_fn(move || {
                let now = epoch.elapsed().as_millis() as u64;
                let age = now.saturating_sub(beat.load(Ordering::Relaxed));
                async move {
                    if age < 1_000 {
                        CheckResult::pass().with_observed(age as f64, "ms")
                    } else {
                        CheckResult::fail(format!("no heartbeat for {age} ms"))
                    }
                }
            })
            .instant(),
            CheckOptions::liveness(),
        )
        // Readiness: can this instance take traffic now?
        .check(
            "queue:backlog",
            check_fn(move || {
                let depth = queued.load(Ordering::Relaxed);
                async move {
                    let result = if depth > 2 * MAX_BACKLOG {
                        CheckResult::fail("backlog too deep")
                    } else if depth > MAX_BACKLOG {
                        CheckResult::warn("backlog growing")
                    } else {
                        CheckResult::pass()
                    };
                    result.with_observed(depth as f64, "frames")
                }
            })
            .instant(),
            CheckOptions::readiness(),
        )
        .check(
            Shutdown::CHECK_NAME,
            shutdown.clone(),
            CheckOptions::readiness(),
        )
        // Startup: fails until initialisation is over.
        .check("app:startup", started.clone(), CheckOptions::startup())
        .build()?;
    let refresher = registry.start();

    let endpoint = HealthEndpoint::new(registry).with_metrics(Arc::new(exporter.clone()));
    let server = serve(addr, endpoint, shutdown.drained()).await?;
    let addr = server.local_addr();
    println!("serving probes on http://{addr}");
    println!("  try: curl -i http://{addr}/health/ready");
    println!("  (also /health, /health/live, /health/startup and /metrics)");

    // A worker calling a metered service, as the application's hot path would.
    let mut decode = ServiceBuilder::new()
        .layer(MetricsLayer::new("decode"))
        .service(service_fn(|n: u64| async move {
            sleep(Duration::from_millis(1)).await;
            if n % 7 == 0 {
                Err("checksum mismatch")
            } else {
                Ok(n)
            }
        }));
    let worker = tokio::spawn(async move {
        for n in 1.. {
            heartbeat_ms.store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
            backlog.store(n % 60, Ordering::Relaxed);
            if let Ok(svc) = decode.ready().await {
                let _ = svc.call(n).await;
            }
            sleep(Duration::from_millis(10)).await;
        }
    });

    // Probe before and after startup finishes.
    probe(addr, "/health/startup").await?;
    sleep(Duration::from_millis(200)).await; // "initialisation"
    started.mark_done();
    probe(addr, "/health/startup").await?;
    probe(addr, "/health/live").await?;
    probe(addr, "/health/ready").await?;

    // Run for the configured time, or until Ctrl-C.
    let run = async {
        if duration.is_zero() {
            std::future::pending::<()>().await
        } else {
            sleep(duration).await
        }
    };
    tokio::select! {
        () = run => println!("{duration:?} elapsed, shutting down"),
        _ = tokio::signal::ctrl_c() => println!("Ctrl-C, shutting down"),
    }

    // Drain: readiness fails at once, liveness keeps passing.
    shutdown.trigger();
    probe(addr, "/health/ready").await?;
    probe(addr, "/health/live").await?;
    let (_, metrics) = get(addr, "/metrics").await?;
    println!("GET /metrics (request series only):");
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("iot_requests_total"))
    {
        println!("  {line}");
    }

    server.await?;
    worker.abort();
    refresher.stop();
    println!("drained, bye");
    Ok(())
}

/// Prints the status and body of `GET path`.
async fn probe(addr: SocketAddr, path: &str) -> std::io::Result<()> {
    let (status, body) = get(addr, path).await?;
    println!("GET {path} -> {status} {body}");
    Ok(())
}

/// A minimal HTTP/1.1 GET: returns the status code and the body.
async fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_string();
    Ok((status, body))
}

/// Seconds from an environment variable (fractions allowed).
fn env_duration(name: &str, default: Duration) -> Result<Duration, String> {
    match std::env::var(name) {
        Ok(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
            .ok_or_else(|| format!("{name}={s:?}: expected a number of seconds")),
        Err(_) => Ok(default),
    }
}
