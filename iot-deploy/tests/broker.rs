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

/// A broker on `conf` with server TLS from a new test CA (under `tmp`),
/// the `acl`, and a password file (starting as `passwd`) holding `users`.
/// `None` when a Mosquitto tool is missing outside CI.
fn tls_password_broker(
    tmp: &Path,
    conf: &str,
    acl: &str,
    passwd: &str,
    users: &[(&str, &str)],
) -> Option<(Broker, Ca)> {
    let passwd_tool = require("mosquitto_passwd")?;
    let ca = Ca::new(&tmp.join("pki"), "ca");
    let root = tmp.join("mosquitto");
    install_certs(
        &root,
        &ca,
        &ca.server("broker", &["localhost", "127.0.0.1"]),
    );
    install(&root, "acl", acl);
    install(&root, "passwd", passwd);
    let file = root.join("config/passwd");
    for (user, pass) in users {
        let (ok, out) = run(std::process::Command::new(&passwd_tool)
            .arg("-b")
            .arg(&file)
            .args([user, pass]));
        assert!(ok, "{out}");
    }
    Broker::start(conf, &root).map(|b| (b, ca))
}

/// A client of the TLS listener trusting `ca`, with a user and password.
fn tls_client(broker: &Broker, ca: &Ca, id: &str, (user, pass): (&str, &str)) -> Client {
    Client {
        id: id.into(),
        port: broker.port(8883),
        cafile: Some(ca.cert.clone()),
        password: Some((user.into(), pass.into())),
        ..Client::default()
    }
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
    let tmp = tempfile::tempdir().unwrap();
    let users = [("telemetry-gateway", "gw-secret"), ("dev-a", "a-secret")];
    let acl = acl.expect("password mode has an ACL");
    let Some((broker, ca)) = tls_password_broker(tmp.path(), &conf, &acl, "", &users) else {
        return;
    };
    let tls = |id: &str, user: &str, pass: &str| tls_client(&broker, &ca, id, (user, pass));
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

/// A plaintext, anonymous broker with the durability settings under test
/// (`extra` lines go into `[dependencies.mqtt.broker]`).
fn durable_spec(extra: &str) -> String {
    format!(
        "name = \"plant-gateway\"\nimage = {{ repository = \"ghcr.io/acme/gw\", tag = \"1.0.0\" }}\n\
         [dependencies.mqtt]\nauth = \"anonymous\"\n[dependencies.mqtt.broker]\n{extra}"
    )
}

/// A consumer with a persistent session (clean session off, QoS 1).
fn consumer(id: &str, port: u16) -> Client {
    Client {
        id: id.into(),
        port,
        persistent: true,
        ..Client::default()
    }
}

/// Creates `id`'s persistent session subscribed to `filter`, then drops
/// the connection (the process is killed): the broker queues for it.
fn go_offline(c: &Client, filter: &str) {
    let sub = c.subscribe(filter).unwrap();
    drop(sub);
    std::thread::sleep(Duration::from_millis(300));
}

fn publish_all(port: u16, payloads: &[&str]) {
    let device = Client {
        id: "dev-a".into(),
        port,
        ..Client::default()
    };
    for p in payloads {
        let (ok, out) = device.publish("iot/dev-a/telemetry", p);
        assert!(ok, "{out}");
    }
}

/// Waits for the persistence database in the data directory, written by
/// an autosave (the broker is still running: no shutdown save).
fn wait_for_db(root: &Path, wait: Duration) -> bool {
    let db = root.join("data/mosquitto.db");
    let deadline = std::time::Instant::now() + wait;
    while std::time::Instant::now() < deadline {
        if db.is_file() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// `max_queued_messages` holds for an offline consumer: of 8 messages it
/// gets the first 5 (Mosquitto 2.0.11 keeps the oldest, drops the rest
/// silently); `max_inflight_messages` does not add to that for a client
/// that is away. With `autosave_on_changes` the database is written while
/// the broker runs, once enough changes came.
#[test]
fn queue_limit_and_autosave_on_changes() {
    let (conf, _) = broker_files(&durable_spec(
        "max_queued_messages = 5\nmax_inflight_messages = 2\nautosave_on_changes = true\nautosave_interval = 3\npersistent_client_expiration_hours = 24\n",
    ));
    for line in [
        "\npersistence true\n",
        "\npersistence_location /mosquitto/data/\n",
        "\nautosave_interval 3\n",
        "\nautosave_on_changes true\n",
        "\nmax_queued_messages 5\n",
        "\nmax_inflight_messages 2\n",
        "\npersistent_client_expiration 24h\n",
    ] {
        assert!(conf.contains(line), "{line:?} in:\n{conf}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let Some(broker) = Broker::start(&conf, tmp.path()) else {
        return;
    };
    let port = broker.port(1883);
    let gw = consumer("plant-gateway-0", port);
    go_offline(&gw, "iot/+/telemetry");
    assert!(!tmp.path().join("data/mosquitto.db").exists());
    publish_all(port, &["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8"]);
    assert!(
        wait_for_db(tmp.path(), WAIT),
        "no autosave after 8 changes (autosave_interval 3 with autosave_on_changes)"
    );
    let mut sub = gw.subscribe("iot/+/telemetry").unwrap();
    assert_eq!(
        payloads(&sub.fresh(Duration::from_millis(1500))),
        ["m1", "m2", "m3", "m4", "m5"],
        "{:?}",
        sub.log
    );
}

/// What an autosave wrote survives `kill -9` and a restart on the same data
/// directory; what arrived after the last save does not. With
/// `autosave_on_changes` and `autosave_interval 3`, the fifth message, sent
/// after the save that the first three (or four) caused, is lost.
#[test]
fn a_crash_keeps_what_the_last_autosave_wrote() {
    let (conf, _) = broker_files(&durable_spec(
        "autosave_on_changes = true\nautosave_interval = 3\n",
    ));
    let tmp = tempfile::tempdir().unwrap();
    let Some(broker) = Broker::start(&conf, tmp.path()) else {
        return;
    };
    let port = broker.port(1883);
    go_offline(&consumer("plant-gateway-0", port), "iot/+/telemetry");
    publish_all(port, &["k1", "k2", "k3", "k4"]);
    assert!(wait_for_db(tmp.path(), WAIT), "no autosave");
    std::thread::sleep(Duration::from_millis(500));
    publish_all(port, &["k5"]);
    // SIGKILL: no shutdown save.
    drop(broker);
    let broker = Broker::start(&conf, tmp.path()).expect("mosquitto again");
    let gw = consumer("plant-gateway-0", broker.port(1883));
    let mut sub = gw.subscribe("iot/+/telemetry").unwrap();
    let got = sub.fresh(Duration::from_millis(1500));
    let got = payloads(&got);
    assert!(
        got == ["k1", "k2", "k3"] || got == ["k1", "k2", "k3", "k4"],
        "{got:?} {:?}",
        sub.log
    );
}

/// Without `autosave_on_changes`, `autosave_interval` is in seconds: the
/// database appears within a few seconds, with no shutdown, and a queued
/// message survives `kill -9`.
#[test]
fn time_based_autosave() {
    let (conf, _) = broker_files(&durable_spec("autosave_interval = 1\n"));
    assert!(conf.contains("\nautosave_interval 1\nautosave_on_changes false\n"));
    let tmp = tempfile::tempdir().unwrap();
    let Some(broker) = Broker::start(&conf, tmp.path()) else {
        return;
    };
    let port = broker.port(1883);
    go_offline(&consumer("plant-gateway-0", port), "iot/+/telemetry");
    publish_all(port, &["t1"]);
    assert!(wait_for_db(tmp.path(), WAIT), "no time-based autosave");
    // Mosquitto saves when more than the interval has passed: wait for a
    // save that surely follows t1.
    std::thread::sleep(Duration::from_millis(3000));
    drop(broker);
    let broker = Broker::start(&conf, tmp.path()).expect("mosquitto again");
    let gw = consumer("plant-gateway-0", broker.port(1883));
    let mut sub = gw.subscribe("iot/+/telemetry").unwrap();
    assert_eq!(
        payloads(&sub.fresh(Duration::from_millis(1500))),
        ["t1"],
        "{:?}",
        sub.log
    );
}

/// Why share-group members need stable client ids (Mosquitto 2.0): the
/// broker keeps dealing a member's share of the messages to its session
/// while it is away, and delivers them only when that client id comes back.
/// A replacement with a new id (a Deployment's new pod name) gets none of
/// them, and when it goes away itself it stays a member that keeps taking
/// its share.
#[test]
fn a_share_group_member_keeps_its_messages_until_its_client_id_returns() {
    let spec = durable_spec("[dependencies.mqtt.share_group]\n");
    let (conf, _) = broker_files(&spec);
    let tmp = tempfile::tempdir().unwrap();
    let Some(broker) = Broker::start(&conf, tmp.path()) else {
        return;
    };
    let port = broker.port(1883);
    let filter = "$share/gateways/iot/+/telemetry";
    let wait = Duration::from_millis(1200);
    let mut gw0 = consumer("plant-gateway-0", port).subscribe(filter).unwrap();
    go_offline(&consumer("plant-gateway-1", port), filter);
    publish_all(port, &["s1", "s2", "s3", "s4", "s5", "s6"]);
    let first = gw0.fresh(wait);
    let first = payloads(&first);
    assert_eq!(first.len(), 3, "half for the live member: {first:?}");

    // A new client id joins the group and gets nothing of what was queued.
    let replacement = consumer("plant-gateway-7d9f8-x2k4q", port);
    let mut new = replacement.subscribe(filter).unwrap();
    assert_eq!(payloads(&new.fresh(wait)), Vec::<&str>::new());
    drop(new);
    std::thread::sleep(Duration::from_millis(300));

    // The same client id again: the rest, in order.
    let mut gw1 = consumer("plant-gateway-1", port).subscribe(filter).unwrap();
    let second = gw1.fresh(wait);
    let second = payloads(&second);
    let mut all: Vec<&str> = first.iter().chain(&second).copied().collect();
    all.sort();
    assert_eq!(
        all,
        ["s1", "s2", "s3", "s4", "s5", "s6"],
        "{first:?} {second:?}"
    );

    // The departed replacement is still a member: a third of what follows
    // waits in its session while both live members run.
    publish_all(port, &["r1", "r2", "r3", "r4", "r5", "r6"]);
    let live = gw0.fresh(wait).len() + gw1.fresh(wait).len();
    assert_eq!(live, 4, "two of six wait for the departed member");
    let mut back = replacement.subscribe(filter).unwrap();
    assert_eq!(payloads(&back.fresh(wait)).len(), 2);
}

/// The `mosquitto.conf` of the Kubernetes ConfigMap is the compose file's
/// text, and the real Mosquitto runs it: the test spec `mqtt-broker.toml`
/// (server TLS, passwords, ACL, queues sized for 5000 devices, session
/// expiry), with its certificates, password file and ACL where the
/// projected volume puts them; a share-group member reads over TLS.
#[test]
fn the_cluster_config_map_runs() {
    let file = common::load("mqtt-broker.toml");
    let spec = &file.base;
    let k8s = iot_deploy::generate::k8s_files(spec);
    let get = |p: &str| {
        k8s.iter()
            .find(|f| f.path == p)
            .unwrap_or_else(|| panic!("no {p}"))
            .contents
            .clone()
    };
    let docs = get("k8s/mqtt-broker.yaml");
    let cm: serde_json::Value =
        serde_saphyr::from_str(format!("\n{docs}").split("\n---\n").nth(1).unwrap()).unwrap();
    let conf = cm["data"]["mosquitto.conf"].as_str().unwrap().to_string();
    let compose = render(&file, None, &[Target::Compose]).unwrap();
    let compose_conf = &compose
        .iter()
        .find(|f| f.path == "compose/mosquitto/mosquitto.conf")
        .unwrap()
        .contents;
    assert_eq!(&conf, compose_conf, "one mosquitto.conf everywhere");
    assert!(conf.contains("\nmax_queued_messages 300000\n"), "{conf}");
    assert!(
        conf.contains("\npersistent_client_expiration 48h\n"),
        "{conf}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let users = [("plant-gateway", "gw-secret"), ("dev-a", "a-secret")];
    let (acl, passwd) = (get("k8s/mosquitto/acl"), get("k8s/mosquitto/passwd"));
    let Some((broker, ca)) = tls_password_broker(tmp.path(), &conf, &acl, &passwd, &users) else {
        return;
    };
    let tls = |id: &str, user: &str, pass: &str| Client {
        persistent: true,
        ..tls_client(&broker, &ca, id, (user, pass))
    };
    let mut member = tls("plant-gateway-0", "plant-gateway", "gw-secret")
        .subscribe("$share/gateways/acme/plant-7/+/telemetry")
        .unwrap();
    let (ok, out) = tls("a", "dev-a", "a-secret").publish("acme/plant-7/dev-a/telemetry", "a1");
    assert!(ok, "{out}");
    assert_eq!(
        payloads(&member.until("a1", WAIT)),
        ["a1"],
        "{:?}",
        member.log
    );
}
