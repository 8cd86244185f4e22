//! The probe storm of issue #17: 2,000 connections opened at once against
//! iot-observe's standalone server (`serve_with`), half to `/health/ready`
//! and half to `/health/live`, every answer from cached checks. Measured
//! with the listen backlog `serve` used before (128: it bound with
//! `tokio::net::TcpListener::bind`, i.e. mio 1's and the standard
//! library's backlog) and with the new default (`ServerConfig::default()`,
//! 4096), in the same run, rounds interleaved.
//!
//! ```sh
//! cargo bench -p iot-benches --bench probe_storm
//! ```
//!
//! `PROBE_STORM_CONNECTIONS` (default 2000) and `PROBE_STORM_ROUNDS`
//! (default 5 per backlog) change the size. Each probe is one
//! `GET` on a fresh connection with `Connection: close`, timed from the
//! start of `connect` to the end of the response; a probe that fails, is
//! not answered 200, or takes longer than 10 s counts as an error. Loopback
//! only; every round is bounded by that 10 s limit.
//!
//! A connection beyond the backlog is not refused: Linux drops its SYN and
//! the client retransmits after 1 s, so an overflowing backlog shows as
//! probes taking a second or more. The checks run once, before the storm:
//! the check-run count printed at the end must not have grown.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use iot_benches::observe_setup::{LIVE, READY, health};
use iot_observe::endpoint::{HealthEndpoint, ServerConfig, serve_with};
use iot_observe::shutdown::Shutdown;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The backlog `serve` had before it was configurable.
const OLD_BACKLOG: u32 = 128;
/// A probe slower than this counts as an error (and bounds a round).
const PROBE_LIMIT: Duration = Duration::from_secs(10);

/// The latencies of the probes that succeeded, and how many did not.
#[derive(Default)]
struct Storm {
    latencies: Vec<Duration>,
    errors: usize,
}

impl Storm {
    fn absorb(&mut self, other: Storm) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
    }

    /// p50, p99 and max in milliseconds (nearest rank).
    fn summary(&mut self) -> [f64; 3] {
        self.latencies.sort();
        let at = |q: f64| {
            let len = self.latencies.len();
            if len == 0 {
                return f64::NAN;
            }
            let rank = ((q * len as f64).ceil() as usize).clamp(1, len);
            self.latencies[rank - 1].as_secs_f64() * 1e3
        };
        [at(0.50), at(0.99), at(1.0)]
    }
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// One `GET path` on a fresh connection: `Some(latency)` if answered 200
/// within [`PROBE_LIMIT`].
async fn probe(addr: SocketAddr, path: &str) -> Option<Duration> {
    let started = Instant::now();
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.ok()?;
        response.starts_with(b"HTTP/1.1 200 ").then_some(())
    };
    tokio::time::timeout(PROBE_LIMIT, exchange).await.ok()??;
    Some(started.elapsed())
}

/// Opens `connections` probes at once against a fresh server with
/// `backlog`.
async fn storm(endpoint: &HealthEndpoint, backlog: u32, connections: usize) -> Storm {
    let shutdown = Shutdown::new(Duration::ZERO);
    let config = ServerConfig::default().backlog(backlog);
    let server = serve_with(
        ([127, 0, 0, 1], 0).into(),
        endpoint.clone(),
        shutdown.drained(),
        &config,
    )
    .await
    .expect("bind loopback");
    let addr = server.local_addr();
    // Spawned before any runs: on this single-threaded runtime they all
    // start connecting in the same instant once `main` waits.
    let probes: Vec<_> = (0..connections)
        .map(|i| tokio::spawn(probe(addr, if i % 2 == 0 { READY } else { LIVE })))
        .collect();
    let mut storm = Storm::default();
    for probe in probes {
        match probe.await {
            Ok(Some(latency)) => storm.latencies.push(latency),
            _ => storm.errors += 1,
        }
    }
    shutdown.finish_now();
    server.await.expect("the server stops");
    storm
}

fn print_row(label: &str, connections: usize, storm: &mut Storm) {
    let [p50, p99, max] = storm.summary();
    println!(
        "| {label} | {connections} | {p50:.1} | {p99:.1} | {max:.1} | {} |",
        storm.errors
    );
}

fn main() {
    // `cargo bench` passes `--bench`; this binary takes no arguments.
    let connections = env_or("PROBE_STORM_CONNECTIONS", 2000);
    let rounds = env_or("PROBE_STORM_ROUNDS", 5);
    let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .map(|text| text.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned());
    // The client on one thread, the server on its own (serve_with's): the
    // two cores of the reference machine.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    runtime.block_on(async {
        let health = health();
        health.registry.refresh().await;
        let runs_before = health.runs();
        let configs = [
            (format!("old: {OLD_BACKLOG}"), OLD_BACKLOG),
            (
                format!("new default: {}", ServerConfig::DEFAULT_BACKLOG),
                ServerConfig::DEFAULT_BACKLOG,
            ),
        ];
        let mut totals: Vec<Storm> = configs.iter().map(|_| Storm::default()).collect();
        println!(
            "probe storm: {connections} connections x {rounds} rounds per backlog, net.core.somaxconn = {somaxconn}\n"
        );
        println!("| backlog | round | connections | p50 ms | p99 ms | max ms | errors |");
        println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        for round in 0..rounds {
            // Alternate which backlog goes first, so neither always follows
            // the other's TIME_WAIT sockets.
            let order: Vec<usize> = if round % 2 == 0 { vec![0, 1] } else { vec![1, 0] };
            for index in order {
                let (label, backlog) = &configs[index];
                let mut storm = storm(&health.endpoint, *backlog, connections).await;
                print_row(&format!("{label} | {}", round + 1), connections, &mut storm);
                totals[index].absorb(storm);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        println!("\nAll rounds together:\n");
        println!("| backlog | probes | p50 ms | p99 ms | max ms | errors |");
        println!("| --- | ---: | ---: | ---: | ---: | ---: |");
        for ((label, _), total) in configs.iter().zip(&mut totals) {
            print_row(label, connections * rounds, total);
        }
        println!(
            "\ncheck runs: {} before the storms, {} after",
            runs_before,
            health.runs()
        );
    });
}
