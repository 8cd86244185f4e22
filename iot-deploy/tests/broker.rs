//! The generated broker configuration, run by the real Mosquitto with
//! certificates from the test CA (`iot_testkit::pki`): TLS in server mode works with the CA;
//! mutual TLS refuses clients without a certificate or with one from
//! another CA; the ACL keeps each device to its own topics and lets the
//! gateway read every device (also through a shared subscription) and
//! command every device.
//!
//! MQTT 3.1.1 has no negative acknowledgement: Mosquitto PUBACKs a publish
//! its ACL drops. So a denied publish is shown by a subscriber that receives
//! a later, allowed message and never the denied one (delivery to one
//! subscriber keeps the order in which the broker accepted the messages).

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::broker::{Broker, Ca, Client};
use common::tools::{require, run};
use iot_deploy::generate::{Target, render};
use iot_deploy::{Format, SpecFile};

const WAIT: Duration = Duration::from_secs(5);

/// The compose files of a spec (TOML text).
fn broker_files(spec: &str) -> (String, Option<String>) {
    let file = SpecFile::parse(spec, Format::Toml).unwrap_or_else(|e| panic!("{e}\n{spec}"));
    let files = render(&file, None, &[Target::Compose]).unwrap();
    let get = |p: &str| {
        files
            .iter()
            .find(|f| f.path == p)
            .map(|f| f.contents.clone())
    };
    (
        get("compose/mosquitto/mosquitto.conf").expect("mosquitto.conf"),
        get("compose/mosquitto/acl"),
    )
}

/// Puts the broker's CA, certificate and key where the config names them.
fn install_certs(root: &Path, ca: &Ca, server: &common::broker::Issued) {
    let certs = root.join("config/certs");
    fs::create_dir_all(&certs).unwrap();
    fs::copy(&ca.cert, certs.join("ca.crt")).unwrap();
    fs::copy(&server.cert, certs.join("tls.crt")).unwrap();
    fs::copy(&server.key, certs.join("tls.key")).unwrap();
}

fn install(root: &Path, name: &str, text: &str) {
    fs::create_dir_all(root.join("config")).unwrap();
    fs::write(root.join("config").join(name), text).unwrap();
}

/// Only the messages' payloads.
fn payloads(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .map(|l| l.rsplit(' ').next().unwrap_or_default())
        .collect()
}

const SERVER_SPEC: &str = r#"
name = "telemetry-gateway"
image = { repository = "ghcr.io/acme/gw", tag = "1.0.0" }
[dependencies.mqtt]
[dependencies.mqtt.tls]
mode = "server"
"#;

#[test]
fn server_tls_with_passwords() {
    let (conf, acl) = broker_files(SERVER_SPEC);
    assert!(
        conf.contains("\nlistener 1883 127.0.0.1\n"),
        "plaintext on loopback only:\n{conf}"
    );
    let Some(passwd_tool) = require("mosquitto_passwd") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let ca = Ca::new(&tmp.path().join("pki"), "ca");
    let root = tmp.path().join("mosquitto");
    install_certs(
        &root,
        &ca,
        &ca.server("broker", &["localhost", "127.0.0.1"]),
    );
    install(&root, "acl", &acl.expect("password mode has an ACL"));
    let passwd = root.join("config/passwd");
    install(&root, "passwd", "");
    for (user, pass) in [("telemetry-gateway", "gw-secret"), ("dev-a", "a-secret")] {
        let (ok, out) = run(std::process::Command::new(&passwd_tool)
            .arg("-b")
            .arg(&passwd)
            .args([user, pass]));
        assert!(ok, "{out}");
    }
    let Some(broker) = Broker::start(&conf, &root) else {
        return;
    };
    let tls = |id: &str, user: &str, pass: &str| Client {
        id: id.into(),
        port: broker.port(8883),
        cafile: Some(ca.cert.clone()),
        password: Some((user.into(), pass.into())),
        ..Client::default()
    };
    let gateway = tls("gw", "telemetry-gateway", "gw-secret");
    let mut sub = gateway.subscribe("iot/+/telemetry").unwrap();
    let (ok, out) = tls("a", "dev-a", "a-secret").publish("iot/dev-a/telemetry", "a1");
    assert!(ok, "{out}");
    assert_eq!(payloads(&sub.until("a1", WAIT)), ["a1"], "{:?}", sub.log);

    let (ok, _) = tls("a", "dev-a", "wrong").publish("iot/dev-a/telemetry", "x");
    assert!(!ok, "a wrong password is refused");
    let no_ca = Client {
        cafile: None,
        ..tls("a", "dev-a", "a-secret")
    };
    let (ok, _) = no_ca.publish("iot/dev-a/telemetry", "x");
    assert!(!ok, "plaintext to the TLS port is refused");
    let other = Ca::new(&tmp.path().join("other"), "other");
    let wrong_ca = Client {
        cafile: Some(other.cert.clone()),
        ..tls("a", "dev-a", "a-secret")
    };
    let (ok, _) = wrong_ca.publish("iot/dev-a/telemetry", "x");
    assert!(
        !ok,
        "a broker certificate the client's CA did not sign is refused"
    );
}

const MUTUAL_SPEC: &str = r#"
name = "fleet-gateway"
image = { repository = "ghcr.io/acme/gw", tag = "1.0.0" }
[dependencies.mqtt]
prefix = "acme/plant-1"
[dependencies.mqtt.tls]
mode = "mutual"
"#;

#[test]
fn mutual_tls_and_the_acl() {
    let (conf, acl) = broker_files(MUTUAL_SPEC);
    assert!(
        !conf.contains("listener 1883"),
        "no plaintext listener:\n{conf}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let ca = Ca::new(&tmp.path().join("pki"), "ca");
    let root = tmp.path().join("mosquitto");
    install_certs(
        &root,
        &ca,
        &ca.server("broker", &["localhost", "127.0.0.1"]),
    );
    install(&root, "acl", &acl.expect("mutual mode has an ACL"));
    let Some(broker) = Broker::start(&conf, &root) else {
        return;
    };
    let port = broker.port(8883);
    let client = |id: &str, ca_: &Ca, cn: &str| {
        let c = ca_.client(cn);
        Client {
            id: id.into(),
            port,
            cafile: Some(ca.cert.clone()),
            cert: Some((c.cert, c.key)),
            ..Client::default()
        }
    };
    let gateway = client("gw", &ca, "fleet-gateway");
    let a = client("a", &ca, "dev-a");
    let b = client("b", &ca, "dev-b");

    // Refusals: no certificate, or one from another CA.
    let no_cert = Client {
        cert: None,
        ..a.clone()
    };
    let (ok, out) = no_cert.publish("acme/plant-1/dev-a/telemetry", "x");
    assert!(!ok, "a client without a certificate is refused: {out}");
    let other = Ca::new(&tmp.path().join("other"), "other");
    let rogue = client("rogue", &other, "dev-a");
    let (ok, out) = rogue.publish("acme/plant-1/dev-a/telemetry", "x");
    assert!(!ok, "a certificate from another CA is refused: {out}");
    assert!(rogue.subscribe("acme/plant-1/dev-a/cmd").is_err());

    // The gateway reads every device, directly and through a shared subscription.
    let mut all = gateway.subscribe("acme/plant-1/+/telemetry").unwrap();
    let mut shared = gateway
        .clone()
        .with_id("gw-shared")
        .subscribe("$share/g/acme/plant-1/+/telemetry")
        .unwrap();
    let mut status = gateway
        .clone()
        .with_id("gw-status")
        .subscribe("acme/plant-1/+/status")
        .unwrap();
    // Device A may not publish on B's topics.
    assert!(
        a.publish("acme/plant-1/dev-b/telemetry", "a-as-b").0,
        "PUBACKed though dropped"
    );
    assert!(a.publish("acme/plant-1/dev-b/status", "a-as-b-status").0);
    assert!(a.publish("acme/plant-1/dev-a/status", "a-online").0);
    assert!(a.publish("acme/plant-1/dev-a/telemetry", "a1").0);
    assert!(b.publish("acme/plant-1/dev-b/telemetry", "b1").0);
    assert_eq!(
        payloads(&all.until("b1", WAIT)),
        ["a1", "b1"],
        "{:?}",
        all.log
    );
    assert_eq!(
        payloads(&shared.until("b1", WAIT)),
        ["a1", "b1"],
        "{:?}",
        shared.log
    );
    assert_eq!(
        payloads(&status.until("a-online", WAIT)),
        ["a-online"],
        "{:?}",
        status.log
    );

    // Commands: only the gateway reaches B, and only B reads them.
    let mut b_cmd = b.subscribe("acme/plant-1/dev-b/cmd").unwrap();
    let mut a_spy = a
        .clone()
        .with_id("a-spy")
        .subscribe("acme/plant-1/dev-b/cmd");
    let mut a_wild = a
        .clone()
        .with_id("a-wild")
        .subscribe("acme/plant-1/+/telemetry");
    assert!(
        a.publish("acme/plant-1/dev-b/cmd", "from-a").0,
        "PUBACKed though dropped"
    );
    assert!(gateway.publish("acme/plant-1/dev-b/cmd", "from-gw").0);
    assert_eq!(
        payloads(&b_cmd.until("from-gw", WAIT)),
        ["from-gw"],
        "{:?}",
        b_cmd.log
    );
    assert!(b.publish("acme/plant-1/dev-b/telemetry", "b2").0);
    // Mosquitto 2.0 grants such subscriptions and filters at delivery; a
    // refused SUBACK would do too, but not a failed connection.
    for (sub, last) in [(&mut a_spy, "from-gw"), (&mut a_wild, "b2")] {
        match sub {
            Ok(s) => {
                let got = s.until(last, Duration::from_millis(500));
                assert!(got.is_empty(), "A read another device's topic: {got:?}");
            }
            Err(e) => assert!(e.contains("refused"), "{e}"),
        }
    }
    // Nothing A tried reached the gateway either.
    assert_eq!(payloads(&all.until("b2", WAIT)), ["b2"], "{:?}", all.log);
}
