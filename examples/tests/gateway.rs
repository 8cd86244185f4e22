//! Runs the gateway library end to end against the embedded broker: frames
//! flow from the simulated devices through MQTT and the tower stack into
//! the sink, probes and metrics answer, and the fault injections do what
//! the README says.

mod common;

use std::net::SocketAddr;

use clap::Parser;
use iot_examples::gateway::{Gateway, GatewayArgs, Summary};
use iot_examples::util::http_get;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: GatewayArgs,
}

fn args(extra: &[&str]) -> GatewayArgs {
    let base = ["gateway", "--progress", "off", "--http", "127.0.0.1:0"];
    Cli::parse_from(base.iter().chain(extra)).args
}

async fn get(addr: SocketAddr, path: &'static str) -> (u16, String) {
    tokio::task::spawn_blocking(move || http_get(addr, path))
        .await
        .unwrap()
        .unwrap()
}

fn check_accounting(s: &Summary) {
    // Every frame received went somewhere, exactly once.
    assert_eq!(
        s.received,
        s.stored
            + s.rate_limited
            + s.breaker_rejected
            + s.failed
            + s.held_at_exit
            + s.in_doubt_at_exit,
        "{s:#?}"
    );
    if s.durable {
        // Durable sinks drop nothing when they fail: they hold and retry.
        assert_eq!(s.breaker_rejected + s.failed, 0, "{s:#?}");
        assert_eq!(s.db_frames, Some(s.published - s.lost), "{s:#?}");
    } else {
        assert_eq!(s.lost, s.lost_in_transport + s.not_stored_own, "{s:#?}");
    }
}

/// A SQLite file of its own for a test run.
fn sqlite_sink(tag: &str) -> (String, std::path::PathBuf) {
    let dir = iot_testkit::mosquitto::temp_dir(tag);
    let path = dir.join("gateway.db");
    (format!("sqlite:{}", path.display()), path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_flow_end_to_end() {
    // The in-memory sink: the tower stack of per-frame layers.
    let gateway = Gateway::start(args(&[
        "--sink",
        "memory",
        "--devices",
        "6",
        "--rate",
        "25",
        "--noisy-devices",
        "1",
        "--duration",
        "4s",
        "--offline-after",
        "10s",
    ]))
    .await
    .unwrap();
    let http = gateway.http_addr();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    let (status, body) = get(http, "/health/ready").await;
    assert_eq!(status, 200, "{body}");
    for check in [
        "app:startup",
        "mqtt:connection",
        "sink:circuit_breaker",
        "shutdown:draining",
    ] {
        assert!(body.contains(check), "{check} missing in {body}");
    }
    let (status, _) = get(http, "/health/live").await;
    assert_eq!(status, 200);
    let (status, _) = get(http, "/health/startup").await;
    assert_eq!(status, 200);

    let (status, metrics) = get(http, "/metrics").await;
    assert_eq!(status, 200);
    for name in [
        "iot_requests_total{",
        "iot_request_duration_seconds_bucket{",
        "iot_mqtt_frames_received_total",
        "iot_mqtt_frames_published_total",
        "resilience_circuit_breaker_state{",
        "resilience_rate_limit_decisions_total{",
        "resilience_retry_calls_total{",
        "iot_gateway_frames_total{",
        "iot_gateway_e2e_latency_seconds_bucket{",
        "iot_devices_online",
    ] {
        assert!(
            metrics.contains(name),
            "{name} missing from /metrics:\n{metrics}"
        );
    }
    // The alerts and dashboards iot-deploy generates query these names:
    // the running gateway must export every one of them.
    for name in iot_deploy::metrics_contract::ALL_METRICS {
        assert!(
            metrics.contains(&format!("# TYPE {name} ")),
            "iot-deploy's alerts use {name}, which the gateway does not export:\n{metrics}"
        );
    }
    // Every metric the running gateway exports is in the docs' table and
    // passes `promtool check metrics` with zero findings.
    common::assert_all_documented(&metrics);
    common::assert_promtool_clean(&metrics);

    let s = gateway.wait().await.unwrap();
    assert!(s.published >= 6 * 25 * 3, "{s:#?}");
    assert_eq!(s.received_own, s.published, "{s:#?}");
    assert_eq!(s.lost_in_transport, 0, "{s:#?}");
    assert_eq!(s.decode_errors, 0, "{s:#?}");
    assert!(s.devices_online > 0, "{s:#?}");
    assert_eq!(s.devices_seen, 6, "{s:#?}");
    // dev-0000 sends 4x its rate; the per-device limit is 2x: frames not
    // stored, counted as lost with their reason.
    assert!(s.rate_limited > 0, "{s:#?}");
    assert_eq!(s.lost, s.rate_limited, "{s:#?}");
    assert_eq!(s.failed + s.breaker_rejected, 0, "{s:#?}");
    assert!(
        s.receive_latency.count > 0 && s.receive_latency.p50 < 1_000_000,
        "{s:#?}"
    );
    check_accounting(&s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_open_the_breaker_and_broker_outages_lose_nothing() {
    let gateway = Gateway::start(args(&[
        "--sink",
        "memory",
        "--devices",
        "4",
        "--rate",
        "50",
        "--noisy-devices",
        "0",
        "--sink-fail-rate",
        "0.8",
        "--kill-broker-after",
        "1500ms",
        "--broker-down",
        "1500ms",
        "--duration",
        "5s",
    ]))
    .await
    .unwrap();
    let http = gateway.http_addr();
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    // The breaker is open or probing by now: readiness warns (it is not
    // critical), so the instance stays in rotation.
    let (status, body) = get(http, "/health/ready").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("circuit breaker"), "{body}");
    // With the breaker tripped, retries made and the broker about to go
    // away, the exposition still lints clean.
    let (status, metrics) = get(http, "/metrics").await;
    assert_eq!(status, 200);
    for name in [
        "resilience_circuit_breaker_transitions_total{",
        "resilience_retry_attempts_total{",
    ] {
        assert!(metrics.contains(name), "{name} missing:\n{metrics}");
    }
    common::assert_all_documented(&metrics);
    common::assert_promtool_clean(&metrics);

    let s = gateway.wait().await.unwrap();
    assert!(s.breaker_opened >= 1, "{s:#?}");
    assert!(s.breaker_rejected > 0, "{s:#?}");
    assert!(s.retries > 0, "{s:#?}");
    assert!(s.consumer_reconnects >= 1, "{s:#?}");
    // The in-memory sink drops what the open breaker refuses: lost, and
    // said so.
    assert_eq!(s.lost_in_transport, 0, "{s:#?}");
    assert!(s.lost >= s.breaker_rejected, "{s:#?}");
    assert_eq!(s.received_own, s.published, "{s:#?}");
    check_accounting(&s);
}

/// The durable path into PostgreSQL over TLS (a server that takes TCP
/// connections over TLS only), its certificate checked against
/// `--db-ca-file`: every published frame is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sink_over_tls_stores_every_frame() {
    let dir = std::env::temp_dir().join(format!("iot-gw-pg-tls-{}", std::process::id()));
    let ca = iot_testkit::pki::Ca::new(&dir, "pg-ca");
    let server = ca.server("pg-server", &["127.0.0.1"]);
    let Some(pg) =
        iot_testkit::postgres::Postgres::start_with(iot_testkit::postgres::PostgresOptions {
            tls: Some(server),
            ..Default::default()
        })
    else {
        return;
    };
    let sink = format!("{}?sslmode=require", pg.url());
    let gateway = Gateway::start(args(&[
        "--sink",
        &sink,
        "--db-ca-file",
        ca.cert.to_str().unwrap(),
        "--devices",
        "2",
        "--rate",
        "20",
        "--noisy-devices",
        "0",
        "--duration",
        "2s",
    ]))
    .await
    .unwrap();
    let s = gateway.wait().await.unwrap();
    assert!(s.durable && s.published > 0, "{s:#?}");
    assert_eq!(s.db_frames, Some(s.published), "{s:#?}");
    check_accounting(&s);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The default durable path under the same faults: half the writes fail
/// and the broker goes away; the store holds and retries, and every
/// published frame's readings are in the SQLite file exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sink_under_faults_stores_every_frame_once() {
    let (sink, path) = sqlite_sink("gw-sqlite-faults");
    let gateway = Gateway::start(args(&[
        "--sink",
        &sink,
        "--devices",
        "4",
        "--rate",
        "50",
        "--noisy-devices",
        "0",
        "--sink-fail-rate",
        "0.5",
        "--kill-broker-after",
        "1500ms",
        "--broker-down",
        "1500ms",
        "--duration",
        "5s",
    ]))
    .await
    .unwrap();
    let s = gateway.wait().await.unwrap();
    assert!(s.durable, "{s:#?}");
    assert!(s.write_failures > 0 && s.injected_failures > 0, "{s:#?}");
    assert!(s.consumer_reconnects >= 1, "{s:#?}");
    assert_eq!(
        (s.lost, s.held_at_exit, s.in_doubt_at_exit),
        (0, 0, 0),
        "{s:#?}"
    );
    assert_eq!(s.db_frames, Some(s.published), "{s:#?}");
    check_accounting(&s);
    // From the file itself: each frame's readings once (the simulator's
    // frames carry 8 readings), keys unique.
    let store = iot_examples::store::SqliteStore::open(&path).await.unwrap();
    use iot_examples::store::Store;
    let totals = store.totals("").await.unwrap();
    assert_eq!(totals.frames, s.published, "{s:#?}");
    assert_eq!(totals.rows, s.rows_inserted, "{s:#?}");
    assert_eq!(totals.rows, totals.frames * 8, "{totals:?}");
}

/// An external Mosquitto without persistence, killed with SIGKILL twice
/// while the fleet publishes through it and a third time for good before
/// the run ends: the frames it took with it are lost, and the summary's
/// ledger accounts for every one of them, as reported gaps or as in flight
/// at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_external_broker_loses_frames_and_the_ledger_reports_them() {
    use iot_testkit::mosquitto::{Broker, BrokerOptions};
    let Some(mut broker) = Broker::start(BrokerOptions::default()) else {
        return;
    };
    let url = format!("mqtt://127.0.0.1:{}", broker.port());
    let (sink, _) = sqlite_sink("gw-broker-kill");
    let gateway = Gateway::start(args(&[
        "--sink",
        &sink,
        "--broker",
        &url,
        "--devices",
        "4",
        "--rate",
        "200",
        "--noisy-devices",
        "0",
        "--duration",
        "4s",
        "--drain",
        "5s",
    ]))
    .await
    .unwrap();
    for _ in 0..2 {
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        tokio::task::block_in_place(|| {
            broker.kill();
            std::thread::sleep(std::time::Duration::from_millis(300));
            broker.start_again();
        });
    }
    // A last kill before the run ends, for good: what the devices publish
    // from here on never arrives and nothing after it reveals a gap, so it
    // is "in flight" at the end.
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    tokio::task::block_in_place(|| broker.kill());
    let s = gateway.wait().await.unwrap();
    eprintln!(
        "published {}, received {}, lost {}, ledger missing {} (recovered {}), in flight {}",
        s.published, s.received_own, s.lost, s.ledger_missing, s.ledger_recovered, s.in_flight
    );
    // Without persistence a killed broker forgets the gateway's session:
    // what the devices publish before it subscribes again is gone.
    assert!(s.lost > 0, "{s:#?}");
    assert!(s.in_flight > 0, "{s:#?}");
    // Through the durable sink: what never arrived is all that is missing
    // from the database.
    assert_eq!(s.lost, s.lost_in_transport, "{s:#?}");
    assert_eq!(s.lost, s.ledger_missing + s.in_flight, "{s:#?}");
    check_accounting(&s);
}

/// Malformed messages never reach the database (counted as decode errors),
/// and readings the schema's signed integer columns cannot hold directly (a
/// u64 above i64::MAX) are stored exactly, never truncated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_never_reach_the_database() {
    use iot_core::codec::{Channel, FrameHeader, Reading, Value};
    use iot_core::mqtt::{MqttConfig, Publisher, PublisherConfig};
    use iot_examples::store::{RowValue, SqliteStore, Store};
    use iot_testkit::mosquitto::{Broker, BrokerOptions, require_tool};
    let Some(broker) = Broker::start(BrokerOptions::default()) else {
        return;
    };
    let Some(mosquitto_pub) = require_tool("mosquitto_pub") else {
        return;
    };
    let (sink, path) = sqlite_sink("gw-malformed");
    let url = format!("mqtt://127.0.0.1:{}", broker.port());
    let gateway = Gateway::start(args(&[
        "--sink",
        &sink,
        "--broker",
        &url,
        "--devices",
        "0",
        "--no-share",
        "--duration",
        "3s",
    ]))
    .await
    .unwrap();
    for payload in ["not a frame", "\u{1}\u{2}\u{3}", ""] {
        let status = std::process::Command::new(&mosquitto_pub)
            .args(["-h", "127.0.0.1", "-p", &broker.port().to_string()])
            .args(["-q", "1", "-t", "iot/bad-1/telemetry", "-m", payload])
            .status()
            .unwrap();
        assert!(status.success());
    }
    let publisher = Publisher::start(PublisherConfig::new(
        MqttConfig::new("127.0.0.1", broker.port()).client_id("big-pub"),
        "big-1",
    ))
    .unwrap();
    let now = iot_examples::util::now_us() / 1000;
    publisher
        .publish(
            &FrameHeader::new("big-1", 1, now),
            &[
                Reading::new(Channel::Name("counter"), Value::U64(u64::MAX)),
                Reading::new(Channel::Name("low"), Value::I64(i64::MIN)),
            ],
        )
        .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), publisher.flush())
        .await
        .unwrap();
    let s = gateway.wait().await.unwrap();
    assert_eq!(s.decode_errors, 3, "{s:#?}");
    let store = SqliteStore::open(&path).await.unwrap();
    assert!(store.read_device("bad-1").await.unwrap().is_empty());
    let rows = store.read_device("big-1").await.unwrap();
    let values: Vec<(&str, &RowValue)> = rows
        .iter()
        .map(|r| (r.channel.as_str(), &r.value))
        .collect();
    assert_eq!(
        values,
        [
            ("counter", &RowValue::U64(u64::MAX)),
            ("low", &RowValue::I64(i64::MIN))
        ],
        "{rows:?}"
    );
    assert_eq!(store.totals("").await.unwrap().rows, 2);
}

/// A gateway still behind when its drain period ends stops cleanly with a
/// summary (it panicked: the drain deadline's future was polled again
/// after it completed), and what it had not stored is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_behind_at_the_drain_deadline_still_writes_its_summary() {
    let (sink, _) = sqlite_sink("gw-behind");
    let gateway = Gateway::start(args(&[
        "--sink",
        &sink,
        "--devices",
        "2",
        "--rate",
        "50",
        "--noisy-devices",
        "0",
        "--duration",
        "1s",
        "--drain",
        "500ms",
        // Every write takes longer than the drain and the last attempt
        // (2 s) together: the frames after the first batch cannot be
        // stored before the gateway stops.
        "--sink-latency",
        "3s",
        "--batches-in-flight",
        "1",
    ]))
    .await
    .unwrap();
    let s = gateway.wait().await.expect("a summary, not a panic");
    assert!(s.lost > 0, "{s:#?}");
    assert_eq!(s.db_frames, Some(s.published - s.lost), "{s:#?}");
    // The write running at the deadline is reported as in doubt (its
    // outcome unknown to the gateway), not as held; every frame received
    // is accounted for once.
    assert!(s.in_doubt_at_exit > 0, "{s:#?}");
    check_accounting(&s);
}
