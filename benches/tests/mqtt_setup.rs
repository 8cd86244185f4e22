//! The MQTT benchmark's pipelines work end to end: every variant of
//! `benches/mqtt.rs` delivers a few hundred messages, all of them, intact,
//! so its numbers cannot come from a broken pipeline.
//!
//! Needs the `mosquitto` binary (Debian package `mosquitto`): without it
//! the test is skipped with a message, except with `CI=true`, where it
//! fails.

use std::time::Duration;

use iot_benches::mqtt_broker::{Broker, BrokerOptions};
use iot_benches::mqtt_e2e::{self, Path, Reference, Setup, Side, percentile};
use iot_core::codec::{Limits, decode_frame};
use iot_core::mqtt::Qos;

#[test]
fn reference_payload_carries_the_stamp_in_its_last_bytes() {
    let reference = Reference::new();
    let a = reference.encoded(0);
    let b = reference.encoded(5000);
    // Sequence numbers from SEQ_BASE keep the size constant.
    assert_eq!(a.len(), b.len());
    let view = decode_frame(&a, &Limits::default()).unwrap();
    assert_eq!(view.seq(), mqtt_e2e::SEQ_BASE);
    assert_eq!(view.readings().count(), reference.readings.len());
    assert_eq!(reference.stamp_index, reference.readings.len() - 1);
    assert_eq!(&a[a.len() - 4..], &[0x01, 0x02, 0xa0, 0xff]);
}

#[test]
fn percentiles_are_nearest_rank() {
    let v: Vec<u32> = (1..=100).collect();
    assert_eq!(percentile(&v, 50.0), 50);
    assert_eq!(percentile(&v, 99.0), 99);
    assert_eq!(percentile(&v, 100.0), 100);
    assert_eq!(percentile(&v, 0.0), 1);
    assert_eq!(percentile(&[], 50.0), 0);
}

/// The compared paths and the diagnostic mixed ones.
const PATHS: [Path; 4] = [
    Path::OURS,
    Path::BARE,
    Path::OURS_TO_BARE,
    Path::BARE_TO_OURS,
];

#[test]
fn every_variant_delivers_every_message() {
    let Some(broker) = Broker::start(&BrokerOptions::default()) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for qos in [Qos::AtMostOnce, Qos::AtLeastOnce] {
            for path in PATHS {
                // A small queue and window so that back-pressure and the
                // in-flight limit are exercised too.
                let setup = Setup {
                    inflight: 20,
                    queue_frames: 50,
                    broker_pid: Some(broker.pid()),
                    ..Setup::new(broker.port(), qos)
                };
                let r = mqtt_e2e::throughput(path, &setup, 400).await;
                let what = format!("{} {:?}", path.name(), qos);
                assert_eq!(r.received, 400, "{what}: {r:?}");
                assert_eq!(r.lost(), 0, "{what}");
                assert_eq!(r.corrupt, 0, "{what}: {r:?}");
                assert!(r.rate() > 0.0 && r.elapsed > Duration::ZERO, "{what}");
                assert_eq!(r.payload_len, Reference::new().encoded(0).len());
                assert!(r.broker_cpu.is_some(), "{what}: broker CPU readable");
                assert_eq!(r.publisher.is_some(), path.publisher == Side::Ours);
                assert_eq!(r.consumer.is_some(), path.consumer == Side::Ours);
                if let Some(p) = &r.publisher {
                    assert_eq!(p.published, 400, "{what}");
                    assert_eq!(p.dropped, 0, "{what}");
                    // Back-pressure with a 50-frame queue: it filled up,
                    // `send` waited, nothing was refused.
                    assert_eq!(p.rejected, 0, "{what}");
                    assert_eq!(p.queue_depth_max, 50, "{what}: queue never full");
                }
                if let Some(c) = &r.consumer {
                    // Every frame delivered once: none suppressed as a
                    // duplicate (sequence numbers count up on both paths).
                    assert_eq!(c.received, 400, "{what}");
                    assert_eq!(c.duplicates, 0, "{what}");
                    assert_eq!(c.decode_errors, 0, "{what}");
                }
            }
        }
        for path in PATHS {
            let setup = Setup::new(broker.port(), Qos::AtLeastOnce);
            let r = mqtt_e2e::latency(path, &setup, 1000, Duration::from_millis(300)).await;
            assert_eq!(r.sent, 300, "{}", path.name());
            assert_eq!(r.received(), 300, "{}: {r:?}", path.name());
            assert_eq!(r.corrupt, 0, "{}", path.name());
            // Latencies are real: positive and below the idle timeout.
            let p50 = r.percentile(50.0);
            assert!(p50 > 0 && r.percentile(100.0) < 5_000_000, "{p50}");
            assert!(r.achieved_rate > 500.0, "{}", r.achieved_rate);
        }
    });
}

/// The TLS variants (issue #18): iot-core's path over the broker's TLS
/// listener delivers every message intact, the plain listener of the
/// same process still works, and connect and reconnect times are
/// measured over both.
#[test]
fn tls_variant_delivers_every_message_and_reconnects() {
    let Some(mut broker) = Broker::start(&BrokerOptions {
        tls: true,
        ..BrokerOptions::default()
    }) else {
        return;
    };
    let tls_port = broker.tls_port().expect("TLS listener");
    assert_ne!(tls_port, broker.port());
    assert!(broker.config().contains(&format!("listener {tls_port} ")));
    let ca = broker.ca_file().expect("CA").to_owned();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let plain = Setup::new(broker.port(), Qos::AtLeastOnce);
    let tls = Setup {
        tls_ca: Some(ca),
        ..Setup::new(tls_port, Qos::AtLeastOnce)
    };
    runtime.block_on(async {
        for qos in [Qos::AtMostOnce, Qos::AtLeastOnce] {
            let setup = Setup {
                inflight: 20,
                queue_frames: 50,
                broker_pid: Some(broker.pid()),
                qos,
                ..tls.clone()
            };
            let r = mqtt_e2e::throughput(Path::OURS, &setup, 400).await;
            assert_eq!(r.received, 400, "TLS {qos:?}: {r:?}");
            assert_eq!(r.corrupt, 0, "TLS {qos:?}: {r:?}");
            assert!(r.client_us_per_msg().is_some());
        }
        for setup in [&plain, &tls] {
            let t = mqtt_e2e::connect_time(setup).await;
            assert!(t > Duration::ZERO && t < Duration::from_secs(10), "{t:?}");
        }
    });
    for setup in [&plain, &tls] {
        let publisher = runtime.block_on(mqtt_e2e::Reconnecting::connect(setup));
        broker.kill();
        runtime.block_on(publisher.wait_disconnected());
        let reconnected = {
            let _runtime = runtime.enter();
            publisher.reconnected()
        };
        broker.start_again();
        runtime.block_on(reconnected).expect("reconnected");
        runtime.block_on(publisher.close());
    }
}
