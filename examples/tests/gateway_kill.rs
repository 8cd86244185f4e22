//! The gateway against `kill -9`, with real processes: Mosquitto,
//! `device-sim` publishing 200,000 frames, and the `gateway` binary writing
//! to SQLite or PostgreSQL, killed with SIGKILL five times mid-run and
//! restarted under the same client id. Frames are acknowledged to the
//! broker only after their batch committed, and rows are keyed by
//! `(device, channel, ts, epoch, seq)`: every reading of every published
//! frame must be in the database exactly once. A second test stops
//! PostgreSQL for 10 s mid-run: nothing lost, nothing twice, and the
//! breaker's transitions show in the gateway's metrics.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use iot_examples::store::{PostgresOptions, PostgresStore, SqliteStore, Store, Totals};
use iot_testkit::mosquitto::{Broker, BrokerOptions, temp_dir};
use iot_testkit::postgres::Postgres;

const DEVICES: u64 = 20;
const RATE: u64 = 1000;
const SECONDS: u64 = 10;
/// Readings per frame of the simulator.
const READINGS: u64 = 8;
const KILLS: usize = 5;

/// One heavy run at a time: three at once on a 2-core machine make the
/// publishers fall minutes behind their offered rate.
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A broker that keeps every message for an absent gateway: Mosquitto
/// drops beyond 1000 queued per client by default, and lets only 20 wait
/// unacknowledged, which would cap a batch at 20 frames.
fn broker() -> Option<Broker> {
    Broker::start(BrokerOptions {
        extra: vec![
            "max_queued_messages 0".into(),
            "max_inflight_messages 2000".into(),
        ],
        ..BrokerOptions::default()
    })
}

/// A gateway process consuming from `port` into `sink`; returns once it
/// printed its banner (subscribed), with its stdout lines collected.
fn gateway(port: u16, sink: &str, client_id: &str) -> (Child, Arc<Mutex<String>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args([
            "--broker",
            &format!("mqtt://127.0.0.1:{port}"),
            "--devices",
            "0",
            "--no-share",
            "--client-id",
            client_id,
            "--sink",
            sink,
            "--device-limit",
            "100000",
            // Events on stdout (with `off` they go to the log).
            "--progress",
            "plain",
            "--http",
            "127.0.0.1:0",
        ])
        .env_remove("GATEWAY_SINK")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gateway");
    // Errors (a failed start) go to stderr: kept with the output.
    let stderr = child.stderr.take().unwrap();
    let out = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let lines = out.clone();
    let errors = out.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut all = errors.lock().unwrap();
            all.push_str(&line);
            all.push('\n');
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("iot-rs gateway demo") {
                let _ = tx.send(());
            }
            let mut all = lines.lock().unwrap();
            all.push_str(&line);
            all.push('\n');
        }
    });
    rx.recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("gateway did not start: {}", out.lock().unwrap()));
    (child, out)
}

fn kill9(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// `device-sim` publishing `DEVICES x RATE` frames/s for `SECONDS`; the
/// count it accepted is read from its last line.
fn device_sim(port: u16, prefix: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_device-sim"))
        .args([
            "--broker",
            &format!("mqtt://127.0.0.1:{port}"),
            "--devices",
            &DEVICES.to_string(),
            "--rate",
            &RATE.to_string(),
            "--duration",
            &format!("{SECONDS}s"),
            "--prefix",
            prefix,
            "--progress-every",
            "1s",
            // A loaded machine sends slower than the offered rate: wait
            // until the broker has every frame.
            "--drain",
            "180s",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn device-sim")
}

/// Waits for device-sim's end; the frames it published (all acknowledged
/// by the broker).
fn published(sim: Child) -> u64 {
    let out = sim.wait_with_output().expect("device-sim");
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text
        .lines()
        .find(|l| l.starts_with("device-sim: published "))
        .unwrap_or_else(|| panic!("no final line: {text}"));
    assert!(
        last.contains(" 0 refused, 0 unacknowledged at close"),
        "the simulator did not hand everything to the broker: {last}"
    );
    last["device-sim: published ".len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{last}"))
}

/// Polls the store until it holds `frames` frames of `prefix`, or until
/// it stored nothing new for `stall`: a slow machine (a debug build on a
/// loaded CI runner catches up at its own pace) gets the time it needs,
/// a gateway that stopped storing does not. Never longer than 15 minutes.
async fn wait_stored(store: &dyn Store, prefix: &str, frames: u64, stall: Duration) -> Totals {
    let give_up = Instant::now() + Duration::from_secs(900);
    let mut last = (0, Instant::now());
    loop {
        let totals = store.totals(prefix).await.unwrap_or_default();
        if totals.frames >= frames {
            return totals;
        }
        if totals.frames > last.0 {
            last = (totals.frames, Instant::now());
        }
        if last.1.elapsed() > stall || Instant::now() > give_up {
            eprintln!(
                "{prefix}: {} of {frames} frames stored, nothing new for {:?}",
                totals.frames,
                last.1.elapsed()
            );
            return totals;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The run: kills the gateway `KILLS` times while the fleet publishes,
/// then checks the store.
async fn killed_gateway_stores_everything_once(
    sink: &str,
    store: &dyn Store,
    client_id: &str,
    prefix: &str,
) {
    let _one_at_a_time = HEAVY.lock().await;
    let Some(broker) = broker() else {
        return;
    };
    let port = broker.port();
    let (mut gw, _) = gateway(port, sink, client_id);
    let sim = device_sim(port, prefix);
    let started = Instant::now();
    for kill in 0..KILLS {
        let at = Duration::from_millis(1200 + fastrand::u64(0..600)) * (kill as u32 + 1);
        tokio::time::sleep(at.saturating_sub(started.elapsed())).await;
        kill9(&mut gw);
        // Frames keep arriving at the broker for the absent session.
        tokio::time::sleep(Duration::from_millis(300)).await;
        gw = gateway(port, sink, client_id).0;
    }
    let published = tokio::task::spawn_blocking(move || published(sim))
        .await
        .unwrap();
    // About DEVICES x RATE x SECONDS (200,000); its own count is the truth.
    assert!(
        published >= DEVICES * RATE * SECONDS * 3 / 4,
        "device-sim published only {published}"
    );
    let totals = wait_stored(
        store,
        &format!("{prefix}-"),
        published,
        Duration::from_secs(60),
    )
    .await;
    kill9(&mut gw);
    eprintln!(
        "{sink}: published {published}, stored {} frames / {} rows after {KILLS} SIGKILLs",
        totals.frames, totals.rows
    );
    assert_eq!(totals.frames, published, "frames lost");
    // Every reading once: the key forbids a second row, and no reading of
    // a stored frame is missing.
    assert_eq!(totals.rows, published * READINGS, "rows");
    drop(broker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_gateway_killed_five_times_stores_every_reading_once() {
    let dir = temp_dir("gw-kill-sqlite");
    let path = dir.join("gateway.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let sink = format!("sqlite:{}", path.display());
    killed_gateway_stores_everything_once(&sink, &store, "gw-kill-sqlite", "gks").await;
    check_sequences_sqlite(&path, "gks");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_gateway_killed_five_times_stores_every_reading_once() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let store = PostgresStore::connect(&pg.url(), PostgresOptions::default())
        .await
        .unwrap();
    killed_gateway_stores_everything_once(&pg.url(), &store, "gw-kill-pg", "gkp").await;
    // Per device: one epoch, sequence numbers 1..=n without a hole.
    let check = pg.psql(
        "SELECT count(*) FROM (SELECT device FROM readings WHERE device LIKE 'gkp-%' \
         GROUP BY device HAVING count(DISTINCT epoch) <> 1 OR min(seq) <> 1 \
         OR count(DISTINCT seq) <> max(seq)) AS bad",
    );
    assert_eq!(check.trim(), "0", "devices with holes or several epochs");
    // Frames of a backlog that beat their device's birth waited for it:
    // no reading under an unresolved `#<alias>` name (it would be a
    // second row, under another key, when the frame comes again).
    let unresolved = pg.psql("SELECT count(*) FROM readings WHERE channel LIKE '#%'");
    assert_eq!(unresolved.trim(), "0", "readings under unresolved aliases");
}

/// Per device: one epoch, sequence numbers 1..=n without a hole.
fn check_sequences_sqlite(path: &std::path::Path, prefix: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let bad: i64 = conn
        .query_row(
            "SELECT count(*) FROM (SELECT device FROM readings WHERE substr(device, 1, length(?1)) = ?1 \
             GROUP BY device HAVING count(DISTINCT epoch) <> 1 OR min(seq) <> 1 \
             OR count(DISTINCT seq) <> max(seq))",
            [format!("{prefix}-")],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(bad, 0, "devices with holes or several epochs");
    let unresolved: i64 = conn
        .query_row(
            "SELECT count(*) FROM readings WHERE channel LIKE '#%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unresolved, 0, "readings under unresolved aliases");
}

/// PostgreSQL stopped for 10 s while the fleet publishes: the gateway
/// holds its batch, stops consuming, and writes everything once the
/// database is back; the breaker's transitions show in its metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_for_ten_seconds_loses_nothing() {
    let _one_at_a_time = HEAVY.lock().await;
    let Some(mut pg) = Postgres::start() else {
        return;
    };
    let Some(broker) = broker() else {
        return;
    };
    let store = PostgresStore::connect(&pg.url(), PostgresOptions::default())
        .await
        .unwrap();
    let port = broker.port();
    let (mut gw, out) = gateway(port, &pg.url(), "gw-pg-down");
    let sim = device_sim(port, "gpd");
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::task::block_in_place(|| pg.stop());
    tokio::time::sleep(Duration::from_secs(10)).await;
    tokio::task::block_in_place(|| pg.start_again());
    let published = tokio::task::spawn_blocking(move || published(sim))
        .await
        .unwrap();
    let totals = wait_stored(&store, "gpd-", published, Duration::from_secs(60)).await;
    let log = out.lock().unwrap().clone();
    let metrics = metrics_of(&log).await;
    kill9(&mut gw);
    eprintln!(
        "PostgreSQL down 10 s: published {published}, stored {} frames / {} rows",
        totals.frames, totals.rows
    );
    assert_eq!(totals.frames, published, "frames lost\n{log}");
    assert_eq!(totals.rows, published * READINGS, "rows\n{log}");
    assert!(
        log.contains("circuit breaker: closed -> open"),
        "the breaker never opened:\n{log}"
    );
    assert!(log.contains("store: write failed"), "{log}");
    for transition in ["from=\"closed\",to=\"open\"", "to=\"closed\""] {
        assert!(
            metrics.lines().any(
                |l| l.starts_with("resilience_circuit_breaker_transitions_total{")
                    && l.contains(transition)
            ),
            "no {transition} transition in the metrics:\n{metrics}"
        );
    }
}

/// The gateway's `/metrics`, at the address its banner printed.
async fn metrics_of(banner: &str) -> String {
    let addr: std::net::SocketAddr = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("metrics  http://"))
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no metrics address in:\n{banner}"));
    tokio::task::spawn_blocking(move || iot_examples::util::http_get(addr, "/metrics"))
        .await
        .unwrap()
        .expect("GET /metrics")
        .1
}
