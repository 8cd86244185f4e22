//! The MQTT transport over TLS, mutual TLS, passwords and WebSockets,
//! against a real secured Mosquitto started by each test.
//!
//! Certificates come from a throwaway CA (`iot_testkit::pki`). Without
//! `mosquitto` (or `openssl`, `mosquitto_passwd`, websockify) a test prints
//! SKIPPED and passes, except with `CI=true`, where it fails.
#![cfg(all(feature = "mqtt", feature = "_tls"))]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use iot_core::mqtt::{
    ConnectFailure, ConsumerConfig, MqttConfig, Publisher, PublisherConfig, TlsConfig, Transport,
    WaitError,
};

use support::mosquitto::{Broker, BrokerOptions, TlsListener, password_file, temp_dir};
use support::pki::{Ca, Issued, KeyFormat};
use support::{check_frame, mqtt, publish, receive_until, spawn_sender, wait_for};

/// A CA, a broker certificate for `127.0.0.1` and `localhost`, and the
/// directory holding them.
struct Pki {
    dir: PathBuf,
    ca: Ca,
    server: Issued,
}

fn pki() -> Pki {
    let dir = temp_dir("pki");
    let ca = Ca::new(&dir, "ca");
    let server = ca.server("broker", &["localhost", "127.0.0.1"]);
    Pki { dir, ca, server }
}

fn listener(pki: &Pki, server: &Issued) -> TlsListener {
    TlsListener {
        ca: pki.ca.cert.clone(),
        cert: server.cert.clone(),
        key: server.key.clone(),
        ..TlsListener::default()
    }
}

/// A TLS broker with `server`'s certificate, mutual TLS when `mutual`.
fn tls_broker(pki: &Pki, server: &Issued, mutual: bool, extra: BrokerOptions) -> Option<Broker> {
    let mut tls = listener(pki, server);
    tls.require_certificate = mutual;
    tls.use_identity_as_username = mutual;
    Broker::start(BrokerOptions {
        tls: Some(tls),
        ..extra
    })
}

/// The test connection settings over TLS, trusting `ca`.
fn tls_mqtt(broker: &Broker, client_id: &str, prefix: &str, tls: TlsConfig) -> MqttConfig {
    mqtt(broker, client_id, prefix)
        .transport(Transport::Tls)
        .tls(tls)
}

fn trust(ca: &Path) -> TlsConfig {
    TlsConfig::default().ca_file(ca)
}

/// Expects the first connection to be refused for `want` within 5 s,
/// with nothing acknowledged and the queued frames kept.
async fn expect_refusal(publisher: &Publisher, want: ConnectFailure) {
    let started = Instant::now();
    let outcome = publisher.wait_connected(Duration::from_secs(5)).await;
    assert_eq!(
        outcome,
        Err(WaitError::Refused { reason: want }),
        "{outcome:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(publisher.state().borrow().refusal(), Some(want));
    let stats = publisher.stats().snapshot();
    assert_eq!(stats.last_connect_failure, Some(want));
    assert!(stats.connect_failures >= 1);
    assert_eq!(stats.acked, 0);
    assert_eq!(stats.connects, 0);
}

/// Receives frames of `device` until `n` distinct ones arrived; returns
/// their delivery counts.
async fn receive_distinct(
    consumer: &mut iot_core::mqtt::Consumer,
    device: &str,
    n: usize,
    timeout: Duration,
) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    let items = receive_until(consumer, timeout, |items| {
        if let Some(Ok(frame)) = items.last() {
            *seen.entry(frame.seq()).or_insert(0) += 1;
        }
        seen.len() >= n
    })
    .await;
    let mut counts = BTreeMap::new();
    for item in &items {
        let frame = item.as_ref().expect("no error items");
        check_frame(frame, device);
        *counts.entry(frame.seq()).or_insert(0usize) += 1;
    }
    counts
}

/// 10,000 frames through a TLS listener with the broker verified against
/// the test CA: every one arrives, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_server_verification_loses_nothing() {
    let pki = pki();
    let Some(broker) = tls_broker(&pki, &pki.server, false, BrokerOptions::default()) else {
        return;
    };
    const N: u64 = 10_000;
    let mut consumer = support::consumer(ConsumerConfig::new(tls_mqtt(
        &broker,
        "tls-consumer",
        "tls",
        trust(&pki.ca.cert),
    )))
    .await;
    let publisher = support::publisher(PublisherConfig::new(
        tls_mqtt(&broker, "tls-pub", "tls", trust(&pki.ca.cert)),
        "dev-tls",
    ))
    .await;
    spawn_sender(&publisher, "dev-tls", N).await.unwrap();
    let counts = receive_distinct(
        &mut consumer,
        "dev-tls",
        N as usize,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(counts.len() as u64, N, "frames missing");
    assert!(counts.keys().copied().eq(0..N));
    assert!(counts.values().all(|&c| c == 1), "duplicates delivered");
    tokio::time::timeout(Duration::from_secs(10), publisher.flush())
        .await
        .unwrap();
    assert_eq!(publisher.stats().snapshot().acked, N);
    publisher.close(Duration::from_secs(2)).await;
    consumer.close(Duration::from_secs(2)).await;
}

/// A broker certificate the client must not accept: signed by a CA it
/// does not trust, issued for another name, or expired. Each is refused
/// with its own reason within 5 s, and nothing counts as acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_certificate_refusals_are_typed() {
    let pki = pki();
    let other_ca = Ca::new(&pki.dir, "other-ca");
    let wrong_name = pki.ca.server("wrong-name", &["broker.example.com"]);
    let expired = pki
        .ca
        .expired_server("expired", &["localhost", "127.0.0.1"]);
    let cases = [
        (
            &pki.server,
            other_ca.cert.clone(),
            ConnectFailure::UnknownCa,
        ),
        (
            &wrong_name,
            pki.ca.cert.clone(),
            ConnectFailure::HostnameMismatch,
        ),
        (
            &expired,
            pki.ca.cert.clone(),
            ConnectFailure::CertificateExpired,
        ),
    ];
    for (server, trusted, want) in cases {
        let Some(broker) = tls_broker(&pki, server, false, BrokerOptions::default()) else {
            return;
        };
        let publisher = Publisher::start(PublisherConfig::new(
            tls_mqtt(&broker, "refused-pub", "r", trust(&trusted)),
            "dev-r",
        ))
        .unwrap();
        for seq in 0..5 {
            publish(&publisher, "dev-r", seq);
        }
        expect_refusal(&publisher, want).await;
        assert_eq!(
            publisher.stats().snapshot().queue_depth,
            5,
            "{want}: queue kept"
        );
        let unacked = publisher.close(Duration::from_millis(100)).await;
        assert_eq!(unacked, 5, "{want}");
    }

    // The same wrong-name certificate is accepted when the expected name
    // is configured (connecting by IP address to a named broker).
    let Some(broker) = tls_broker(&pki, &wrong_name, false, BrokerOptions::default()) else {
        return;
    };
    let publisher = Publisher::start(PublisherConfig::new(
        tls_mqtt(
            &broker,
            "named-pub",
            "r",
            trust(&pki.ca.cert).server_name("broker.example.com"),
        ),
        "dev-r",
    ))
    .unwrap();
    publisher
        .wait_connected(Duration::from_secs(5))
        .await
        .expect("server_name accepts the certificate's name");
    publisher.close(Duration::from_secs(1)).await;
}

/// Mutual TLS (`require_certificate`, `use_identity_as_username`): a
/// client certificate from the broker's CA works, with PKCS#8, SEC1 and
/// PKCS#1 keys; no certificate, or one from another CA, is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_accepts_its_clients_and_refuses_others() {
    let pki = pki();
    let Some(broker) = tls_broker(&pki, &pki.server, true, BrokerOptions::default()) else {
        return;
    };
    let gateway = pki.ca.client("gateway");
    let mut consumer = support::consumer(ConsumerConfig::new(tls_mqtt(
        &broker,
        "mtls-consumer",
        "mtls",
        trust(&pki.ca.cert).client_auth(&gateway.cert, &gateway.key),
    )))
    .await;
    for (i, format) in [KeyFormat::Pkcs8, KeyFormat::Sec1, KeyFormat::Pkcs1]
        .into_iter()
        .enumerate()
    {
        let device = format!("dev-key{i}");
        let id = pki.ca.client_as(&device, &device, format);
        let key_text = std::fs::read_to_string(&id.key).unwrap();
        let marker = match format {
            KeyFormat::Pkcs8 => "BEGIN PRIVATE KEY",
            KeyFormat::Sec1 => "BEGIN EC PRIVATE KEY",
            KeyFormat::Pkcs1 => "BEGIN RSA PRIVATE KEY",
        };
        assert!(key_text.contains(marker), "{format:?} key file");
        let publisher = support::publisher(PublisherConfig::new(
            tls_mqtt(
                &broker,
                &format!("mtls-pub-{i}"),
                "mtls",
                trust(&pki.ca.cert).client_auth(&id.cert, &id.key),
            ),
            device.clone(),
        ))
        .await;
        for seq in 0..20 {
            publish(&publisher, &device, seq);
        }
        let counts = receive_distinct(&mut consumer, &device, 20, Duration::from_secs(10)).await;
        assert_eq!(counts.len(), 20, "{format:?}");
        publisher.close(Duration::from_secs(2)).await;
    }

    let no_cert = Publisher::start(PublisherConfig::new(
        tls_mqtt(&broker, "mtls-anon", "mtls", trust(&pki.ca.cert)),
        "dev-anon",
    ))
    .unwrap();
    expect_refusal(&no_cert, ConnectFailure::ClientCertificateRequired).await;
    no_cert.close(Duration::from_millis(100)).await;

    let stranger_ca = Ca::new(&pki.dir, "stranger-ca");
    let stranger = stranger_ca.client("dev-stranger");
    let foreign = Publisher::start(PublisherConfig::new(
        tls_mqtt(
            &broker,
            "mtls-foreign",
            "mtls",
            trust(&pki.ca.cert).client_auth(&stranger.cert, &stranger.key),
        ),
        "dev-stranger",
    ))
    .unwrap();
    expect_refusal(&foreign, ConnectFailure::ClientCertificateRejected).await;
    foreign.close(Duration::from_millis(100)).await;
    consumer.close(Duration::from_secs(2)).await;
}

/// A wrong password is refused loudly (state, stats, metrics), the queue
/// is kept, and once the password file is fixed and Mosquitto reloaded
/// (SIGHUP) every queued frame arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_visible_and_the_queue_survives_the_fix() {
    let pki = pki();
    let passwd = pki.dir.join("passwd");
    if password_file(
        &passwd,
        &[("gateway", "gw-secret"), ("dev-p", "old-secret")],
    )
    .is_none()
    {
        return;
    }
    let Some(broker) = tls_broker(
        &pki,
        &pki.server,
        false,
        BrokerOptions {
            password_file: Some(passwd.clone()),
            ..BrokerOptions::default()
        },
    ) else {
        return;
    };
    let mut consumer = support::consumer(ConsumerConfig::new(
        tls_mqtt(&broker, "pw-consumer", "pw", trust(&pki.ca.cert))
            .credentials("gateway", "gw-secret"),
    ))
    .await;
    const N: u64 = 100;
    #[cfg(feature = "metrics")]
    let values = std::sync::Arc::new(support::metrics::Values::default());
    let start = || {
        Publisher::start(PublisherConfig::new(
            tls_mqtt(&broker, "pw-pub", "pw", trust(&pki.ca.cert))
                .credentials("dev-p", "new-secret"),
            "dev-p",
        ))
        .unwrap()
    };
    #[cfg(feature = "metrics")]
    let publisher = metrics::with_local_recorder(&*values, start);
    #[cfg(not(feature = "metrics"))]
    let publisher = start();
    for seq in 0..N {
        publish(&publisher, "dev-p", seq);
    }
    // Mosquitto 2.0 answers a wrong password on MQTT 3.1.1 with CONNACK 5,
    // "not authorized" (it does not tell a wrong password from a missing
    // one).
    let want = ConnectFailure::NotAuthorized;
    expect_refusal(&publisher, want).await;
    assert_eq!(publisher.stats().snapshot().queue_depth, N);
    #[cfg(feature = "metrics")]
    assert!(
        values.get(&format!(
            "iot_mqtt_connect_failures_total{{role=publisher,reason={want}}}"
        )) >= 1
    );
    // Keeps retrying with backoff, not in a tight loop: the test backoff
    // is capped at 300 ms, so 2 s allow at most about 2000/20 attempts and
    // at least a few.
    let before = publisher.stats().snapshot().connect_failures;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let attempts = publisher.stats().snapshot().connect_failures - before;
    assert!((2..=100).contains(&attempts), "{attempts} attempts in 2 s");

    password_file(
        &passwd,
        &[("gateway", "gw-secret"), ("dev-p", "new-secret")],
    )
    .unwrap();
    broker.reload();
    // (`wait_connected` would return the standing refusal at once.)
    wait_for("connection after the fix", Duration::from_secs(10), || {
        publisher.state().borrow().is_connected()
    })
    .await;
    let counts =
        receive_distinct(&mut consumer, "dev-p", N as usize, Duration::from_secs(10)).await;
    assert_eq!(counts.len() as u64, N, "every queued frame arrives");
    assert_eq!(publisher.stats().snapshot().dropped, 0);
    publisher.close(Duration::from_secs(2)).await;
    consumer.close(Duration::from_secs(2)).await;
}

/// The client certificate files are read again at every reconnect: after
/// they are replaced and the broker restarts, the new identity is used,
/// as an identity-based ACL shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_client_certificate_is_used_after_reconnect() {
    let pki = pki();
    let acl = pki.dir.join("acl");
    std::fs::write(
        &acl,
        "# Devices write only their own subtree.\npattern readwrite rot/%u/#\n\nuser gateway\ntopic read rot/#\n",
    )
    .unwrap();
    let Some(mut broker) = tls_broker(
        &pki,
        &pki.server,
        true,
        BrokerOptions {
            acl_file: Some(acl),
            ..BrokerOptions::default()
        },
    ) else {
        return;
    };
    let gateway = pki.ca.client("gateway");
    let mut consumer = support::consumer(ConsumerConfig::new(tls_mqtt(
        &broker,
        "rot-consumer",
        "rot",
        trust(&pki.ca.cert).client_auth(&gateway.cert, &gateway.key),
    )))
    .await;
    // The device starts with a certificate for another identity: the ACL
    // drops its frames (Mosquitto still acknowledges them on MQTT 3.1.1).
    let live = Issued {
        cert: pki.dir.join("device.crt"),
        key: pki.dir.join("device.key"),
    };
    let wrong = pki.ca.client("somebody-else");
    std::fs::copy(&wrong.cert, &live.cert).unwrap();
    std::fs::copy(&wrong.key, &live.key).unwrap();
    let publisher = support::publisher(PublisherConfig::new(
        tls_mqtt(
            &broker,
            "rot-pub",
            "rot",
            trust(&pki.ca.cert).client_auth(&live.cert, &live.key),
        ),
        "dev-rot",
    ))
    .await;
    for seq in 0..10 {
        publish(&publisher, "dev-rot", seq);
    }
    tokio::time::timeout(Duration::from_secs(5), publisher.flush())
        .await
        .unwrap();
    let dropped_by_acl =
        receive_until(&mut consumer, Duration::from_millis(500), |i| !i.is_empty()).await;
    assert!(
        dropped_by_acl.is_empty(),
        "the ACL must drop another identity's frames"
    );

    // Rotate: the renewed certificate names the device.
    let renewed = pki.ca.client("dev-rot");
    std::fs::copy(&renewed.cert, &live.cert).unwrap();
    std::fs::copy(&renewed.key, &live.key).unwrap();
    let connects = publisher.stats().snapshot().connects;
    broker.restart();
    wait_for("publisher reconnect", Duration::from_secs(10), || {
        publisher.stats().snapshot().connects > connects
            && publisher.state().borrow().is_connected()
    })
    .await;
    wait_for("consumer resubscribed", Duration::from_secs(10), || {
        consumer.stats().snapshot().subscribed >= 2
    })
    .await;
    for seq in 10..20 {
        publish(&publisher, "dev-rot", seq);
    }
    let counts = receive_distinct(&mut consumer, "dev-rot", 10, Duration::from_secs(10)).await;
    assert!(counts.keys().copied().eq(10..20), "{counts:?}");
    publisher.close(Duration::from_secs(2)).await;
    consumer.close(Duration::from_secs(2)).await;
}

/// MQTT over WebSockets over TLS through a real WebSocket endpoint
/// (websockify terminating `wss://` in front of Mosquitto): 10,000 frames,
/// none lost.
#[cfg(feature = "ws")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_over_tls_lose_nothing() {
    let pki = pki();
    let Some(broker) = Broker::start(BrokerOptions::default()) else {
        return;
    };
    let Some(proxy) =
        support::wss::WssProxy::start(broker.port(), &pki.server.cert, &pki.server.key)
    else {
        return;
    };
    let wss = |client_id: &str| {
        mqtt(&broker, client_id, "wss")
            .broker_url(&format!("wss://127.0.0.1:{}/", proxy.port()))
            .unwrap()
            .tls(trust(&pki.ca.cert))
    };
    assert_eq!(wss("x").transport, Transport::Wss);

    const N: u64 = 10_000;
    let mut consumer = support::consumer(ConsumerConfig::new(wss("wss-consumer"))).await;
    let publisher = support::publisher(PublisherConfig::new(wss("wss-pub"), "dev-wss")).await;
    spawn_sender(&publisher, "dev-wss", N).await.unwrap();
    let counts = receive_distinct(
        &mut consumer,
        "dev-wss",
        N as usize,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(counts.len() as u64, N, "frames missing");
    assert!(counts.values().all(|&c| c == 1), "duplicates delivered");
    publisher.close(Duration::from_secs(2)).await;
    consumer.close(Duration::from_secs(2)).await;
}

/// A plaintext client on a TLS port, and a TLS client on a plaintext
/// port, fail loudly too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_mismatches_are_refusals() {
    let pki = pki();
    let Some(tls) = tls_broker(&pki, &pki.server, false, BrokerOptions::default()) else {
        return;
    };
    let plain_on_tls = Publisher::start(PublisherConfig::new(
        mqtt(&tls, "plain-pub", "pm"),
        "dev-pm",
    ))
    .unwrap();
    let outcome = plain_on_tls.wait_connected(Duration::from_secs(5)).await;
    assert!(
        matches!(
            outcome,
            Err(WaitError::Refused {
                reason: ConnectFailure::ClosedBeforeConnack
            })
        ),
        "{outcome:?}"
    );
    plain_on_tls.close(Duration::from_millis(100)).await;

    let Some(plain) = Broker::start(BrokerOptions::default()) else {
        return;
    };
    let tls_on_plain = Publisher::start(PublisherConfig::new(
        tls_mqtt(&plain, "tls-pub", "pm", trust(&pki.ca.cert)),
        "dev-pm",
    ))
    .unwrap();
    let outcome = tls_on_plain.wait_connected(Duration::from_secs(5)).await;
    let Err(WaitError::Refused { reason }) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(
        matches!(
            reason,
            ConnectFailure::TlsHandshake | ConnectFailure::ClosedBeforeConnack
        ),
        "{reason}"
    );
    tls_on_plain.close(Duration::from_millis(100)).await;
}
