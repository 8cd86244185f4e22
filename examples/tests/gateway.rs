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
        s.stored + s.rate_limited + s.breaker_rejected + s.failed,
        "{s:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_flow_end_to_end() {
    let gateway = Gateway::start(args(&[
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
    assert_eq!(s.lost, 0, "{s:#?}");
    assert_eq!(s.decode_errors, 0, "{s:#?}");
    assert!(s.devices_online > 0, "{s:#?}");
    assert_eq!(s.devices_seen, 6, "{s:#?}");
    // dev-0000 sends 4x its rate; the per-device limit is 2x.
    assert!(s.rate_limited > 0, "{s:#?}");
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
    assert_eq!(s.lost, 0, "{s:#?}");
    assert_eq!(s.received_own, s.published, "{s:#?}");
    check_accounting(&s);
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
    let gateway = Gateway::start(args(&[
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
    assert_eq!(s.lost, s.ledger_missing + s.in_flight, "{s:#?}");
    check_accounting(&s);
}
