//! Adversarial checks against the real server over loopback (issue #17):
//! checks that block their thread, hang or panic, on a 2-worker runtime.
//! `/health/live` must keep answering throughout, and no check may run
//! more than one copy at a time.
//!
//! Real time, real HTTP. The probes come from a plain thread with blocking
//! sockets, so a starved test runtime cannot slow the prober itself. The
//! latency bound (1 s) is a liveness property, not a performance claim: the
//! Kubernetes default `timeoutSeconds` is 1.
#![cfg(feature = "server")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use iot_observe::endpoint::{HealthEndpoint, ServerHandle, serve};
use iot_observe::health::{
    CheckOptions, CheckResult, HealthConfig, HealthRegistry, HealthRegistryBuilder, check_fn,
};
use iot_observe::shutdown::Shutdown;

/// What a liveness probe may take at most (Kubernetes' default timeout).
const LIVE_BOUND: Duration = Duration::from_secs(1);

/// Counts the copies of a check running at once and the most ever seen.
#[derive(Default)]
struct Concurrency {
    now: AtomicUsize,
    max: AtomicUsize,
    runs: AtomicUsize,
}

impl Concurrency {
    /// Marks a copy as started; the copy ends when the guard drops (also
    /// when an aborted future is dropped).
    fn enter(self: &Arc<Self>) -> CopyGuard {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        self.runs.fetch_add(1, Ordering::SeqCst);
        CopyGuard(self.clone())
    }

    fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }

    fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }
}

struct CopyGuard(Arc<Concurrency>);

impl Drop for CopyGuard {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An async check that blocks its worker thread by mistake (what a
/// blocking database driver called from `async` code does).
fn blocking_by_mistake(
    counter: &Arc<Concurrency>,
    block: Duration,
) -> impl iot_observe::health::HealthCheck {
    let counter = counter.clone();
    check_fn(move || {
        let counter = counter.clone();
        async move {
            let _copy = counter.enter();
            std::thread::sleep(block);
            CheckResult::pass()
        }
    })
}

/// A blocking check (for `blocking_check`) that sleeps for `block`,
/// counted by `counter`.
fn blocking_for(
    counter: &Arc<Concurrency>,
    block: Duration,
) -> impl Fn() -> CheckResult + Send + Sync + 'static {
    let counter = counter.clone();
    move || {
        let _copy = counter.enter();
        std::thread::sleep(block);
        CheckResult::pass()
    }
}

/// One probe on a fresh connection with a blocking socket: the status code
/// and how long the answer took, or `None` on an error or a timeout.
fn probe(addr: SocketAddr, path: &str, limit: Duration) -> (Option<(u16, String)>, Duration) {
    let started = Instant::now();
    let answer = (|| -> std::io::Result<(u16, String)> {
        let mut stream = TcpStream::connect_timeout(&addr, limit)?;
        stream.set_read_timeout(Some(limit))?;
        stream.set_write_timeout(Some(limit))?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n"
        )?;
        let mut raw = String::new();
        stream.read_to_string(&mut raw)?;
        let status = raw
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {raw:?}")))?;
        let body = raw
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        Ok((status, body))
    })();
    (answer.ok(), started.elapsed())
}

/// What the prober saw.
struct Probes {
    live: Vec<(Option<u16>, Duration)>,
    ready_bodies: Vec<String>,
}

/// Probes `/health/live` every 20 ms (and `/health/ready` every 5th time)
/// for `length`, from a thread of its own.
fn probe_for(addr: SocketAddr, length: Duration) -> Probes {
    std::thread::spawn(move || {
        let mut probes = Probes {
            live: Vec::new(),
            ready_bodies: Vec::new(),
        };
        let end = Instant::now() + length;
        let mut n = 0u32;
        while Instant::now() < end {
            let (answer, took) = probe(addr, "/health/live", 2 * LIVE_BOUND);
            probes.live.push((answer.map(|(status, _)| status), took));
            if n % 5 == 0 {
                if let (Some((_, body)), _) = probe(addr, "/health/ready", 2 * LIVE_BOUND) {
                    probes.ready_bodies.push(body);
                }
            }
            n += 1;
            std::thread::sleep(Duration::from_millis(20));
        }
        probes
    })
    .join()
    .expect("the prober thread does not panic")
}

/// Every live probe answered 200 within [`LIVE_BOUND`]; prints the spread.
fn assert_live_kept_answering(probes: &Probes) {
    let mut latencies: Vec<Duration> = probes.live.iter().map(|(_, took)| *took).collect();
    latencies.sort();
    let failed: Vec<_> = probes
        .live
        .iter()
        .enumerate()
        .filter(|(_, (status, took))| *status != Some(200) || *took > LIVE_BOUND)
        .collect();
    eprintln!(
        "{} live probes: p50 {:?}, max {:?}, {} failed or slower than {LIVE_BOUND:?}",
        latencies.len(),
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1],
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "live probes failed or were slower than {LIVE_BOUND:?} (index, (status, latency)): {failed:?}"
    );
    // A probe every ~20 ms: far more than this unless probes were slow.
    assert!(latencies.len() >= 20, "too few probes: {}", latencies.len());
}

/// A registry refreshing every 200 ms with a 100 ms timeout, and one
/// liveness check of the process's own state (instant, as a heartbeat read
/// from an atomic is), so `/health/live` reports it from the first probe on.
fn builder() -> HealthRegistryBuilder {
    HealthRegistry::builder()
        .config(
            HealthConfig::default()
                .interval(Duration::from_millis(200))
                .timeout(Duration::from_millis(100)),
        )
        .check(
            "process:heartbeat",
            check_fn(|| async { CheckResult::pass() }).instant(),
            CheckOptions::liveness(),
        )
}

async fn start_serving(registry: &HealthRegistry, shutdown: &Shutdown) -> ServerHandle {
    registry.start();
    serve(
        ([127, 0, 0, 1], 0).into(),
        HealthEndpoint::new(registry.clone()),
        shutdown.drained(),
    )
    .await
    .expect("bind loopback")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_checks_blocking_by_mistake_do_not_take_liveness_down() {
    // Two checks, each blocking a worker for 1.5 s while their timeout is
    // 100 ms and the interval 200 ms: the scenario, with as many
    // checks as it takes to block every worker of the runtime.
    let first = Arc::new(Concurrency::default());
    let second = Arc::new(Concurrency::default());
    let block = Duration::from_millis(1500);
    let registry = builder()
        .check(
            "db:blocking-1",
            blocking_by_mistake(&first, block),
            CheckOptions::readiness(),
        )
        .check(
            "db:blocking-2",
            blocking_by_mistake(&second, block),
            CheckOptions::readiness(),
        )
        .build()
        .unwrap();
    let shutdown = Shutdown::new(Duration::ZERO);
    let server = start_serving(&registry, &shutdown).await;

    let probes = probe_for(server.local_addr(), Duration::from_millis(3500));

    assert_live_kept_answering(&probes);
    for (name, counter) in [("db:blocking-1", &first), ("db:blocking-2", &second)] {
        assert_eq!(counter.max(), 1, "{name}: copies running at once");
        // 3.5 s of 1.5 s runs, one at a time: 2 or 3.
        let runs = counter.runs();
        assert!((2..=3).contains(&runs), "{name}: {runs} runs");
    }
    // No assertion on the outputs: with every worker blocked, no timer
    // fires until a check returns, so a run ends as a slow pass rather than
    // a timeout. What matters is that liveness did not care.
    shutdown.finish_now();
    drop(server);
}

/// Some `/health/ready` body showed `check` with an output containing
/// `text`.
fn assert_seen(probes: &Probes, check: &str, text: &str) {
    let outputs: Vec<String> = probes
        .ready_bodies
        .iter()
        .filter_map(|body| serde_json::from_str::<serde_json::Value>(body).ok())
        .filter_map(|body| {
            body["checks"][check][0]["output"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert!(
        outputs.iter().any(|output| output.contains(text)),
        "{check}: no output with {text:?} among {outputs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_hanging_and_panicking_checks_leave_liveness_and_the_runtime_alone() {
    let blocking = [
        Arc::new(Concurrency::default()),
        Arc::new(Concurrency::default()),
    ];
    let hanging = Arc::new(Concurrency::default());
    let hanging_copies = hanging.clone();
    let registry = builder()
        // Written the recommended way, and as many as the runtime has
        // workers: were they run on the workers, they would stall its
        // timers for 600 ms at a time.
        .blocking_check(
            "db:blocking-1",
            blocking_for(&blocking[0], Duration::from_millis(600)),
            CheckOptions::readiness(),
        )
        .blocking_check(
            "db:blocking-2",
            blocking_for(&blocking[1], Duration::from_millis(600)),
            CheckOptions::readiness(),
        )
        .blocking_check(
            "db:quick",
            || {
                std::thread::sleep(Duration::from_millis(5));
                CheckResult::pass()
            },
            CheckOptions::readiness(),
        )
        .blocking_check(
            "db:panics",
            || -> CheckResult { panic!("driver exploded") },
            CheckOptions::readiness(),
        )
        // Never completes: aborted at every timeout, retried every interval.
        .check(
            "db:hangs",
            check_fn(move || {
                let copies = hanging_copies.clone();
                async move {
                    let _copy = copies.enter();
                    std::future::pending::<CheckResult>().await
                }
            }),
            CheckOptions::readiness(),
        )
        .check(
            "db:panics-async",
            check_fn(|| async { panic!("async driver exploded") as CheckResult }),
            CheckOptions::readiness(),
        )
        .build()
        .unwrap();
    let shutdown = Shutdown::new(Duration::ZERO);
    let server = start_serving(&registry, &shutdown).await;

    // How late a 10 ms timer fires on the test's runtime: blocking checks
    // must not hold its workers.
    let lag = tokio::spawn(async {
        let mut worst = Duration::ZERO;
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end {
            let asked = Instant::now();
            tokio::time::sleep(Duration::from_millis(10)).await;
            worst = worst.max(asked.elapsed().saturating_sub(Duration::from_millis(10)));
        }
        worst
    });
    let probes = probe_for(server.local_addr(), Duration::from_secs(3));
    let worst_lag = lag.await.unwrap();

    assert_live_kept_answering(&probes);
    assert!(
        worst_lag < Duration::from_millis(300),
        "a timer on the runtime fired {worst_lag:?} late"
    );
    for (name, counter) in [
        ("db:blocking-1", &blocking[0]),
        ("db:blocking-2", &blocking[1]),
    ] {
        assert_eq!(counter.max(), 1, "{name}: copies running at once");
        // 3 s of 600 ms runs, one at a time, each followed by up to one
        // interval before the next: at least 3, at most 3000/600 + 1.
        let runs = counter.runs();
        assert!((3..=6).contains(&runs), "{name}: {runs} runs");
    }
    assert_eq!(hanging.max(), 1, "db:hangs: copies alive at once");
    // Aborted at each timeout, so retried at about every interval.
    assert!(hanging.runs() >= 5, "db:hangs: {} runs", hanging.runs());

    assert_seen(&probes, "db:blocking-1", "timed out after 100ms");
    assert_seen(&probes, "db:blocking-2", "still running");
    assert_seen(&probes, "db:hangs", "timed out after 100ms");
    assert_seen(&probes, "db:panics", "check panicked: driver exploded");
    assert_seen(
        &probes,
        "db:panics-async",
        "check panicked: async driver exploded",
    );
    let last: serde_json::Value =
        serde_json::from_str(probes.ready_bodies.last().expect("a ready body")).unwrap();
    assert_eq!(last["checks"]["db:quick"][0]["status"], "pass", "{last}");
    assert_eq!(last["status"], "fail");
    shutdown.finish_now();
    server.await.unwrap();
}
