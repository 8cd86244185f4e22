//! A real Mosquitto started on a generated `mosquitto.conf`, certificates
//! from `iot_testkit::pki`, and the mosquitto_pub/mosquitto_sub clients.
//! A missing tool is a skip, or a failure under CI=true (see `tools`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::tools::{require, run};

// Each test binary uses a part of these.
/// A broker on a generated `mosquitto.conf` (listeners on free loopback
/// ports, container paths moved), shared with the examples' TLS tests;
/// certificates from the workspace's throwaway CA (rcgen).
#[allow(unused_imports)]
pub use iot_testkit::{
    mosquitto::RenderedBroker as Broker,
    pki::{Ca, Issued},
};

/// How a client connects: TLS trust, certificate, password.
#[derive(Clone, Default)]
pub struct Client {
    pub id: String,
    pub port: u16,
    pub cafile: Option<PathBuf>,
    pub cert: Option<(PathBuf, PathBuf)>,
    pub password: Option<(String, String)>,
    /// Subscribe with a persistent session (`-c`, clean session off): the
    /// broker keeps the subscription and queues QoS 1 messages while the
    /// client is away.
    pub persistent: bool,
}

impl Client {
    /// The same client under another client id.
    pub fn with_id(mut self, id: &str) -> Client {
        self.id = id.into();
        self
    }

    fn args(&self, cmd: &mut Command) {
        cmd.args([
            "-h",
            "localhost",
            "-p",
            &self.port.to_string(),
            "-i",
            &self.id,
        ]);
        cmd.args(["-q", "1", "-V", "mqttv311"]);
        if self.persistent {
            cmd.arg("-c");
        }
        if let Some(ca) = &self.cafile {
            cmd.arg("--cafile").arg(ca);
        }
        if let Some((cert, key)) = &self.cert {
            cmd.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        if let Some((u, p)) = &self.password {
            cmd.args(["-u", u, "-P", p]);
        }
    }

    /// Publishes one message at QoS 1, as client id `<id>-pub`; (success, output). With MQTT 3.1.1
    /// success only means the broker acknowledged, not that it delivered.
    pub fn publish(&self, topic: &str, payload: &str) -> (bool, String) {
        let tool = require("mosquitto_pub").expect("mosquitto_pub");
        let mut cmd = Command::new(tool);
        // Its own client id: sharing a subscriber's would disconnect it; a
        // clean session (mosquitto_pub leaves nothing behind).
        Client {
            persistent: false,
            ..self.clone().with_id(&format!("{}-pub", self.id))
        }
        .args(&mut cmd);
        cmd.args(["-t", topic, "-m", payload]);
        run(&mut cmd)
    }

    /// Subscribes to `filter` and waits for the SUBACK; `Err` with the
    /// client's output when the connection or subscription fails.
    pub fn subscribe(&self, filter: &str) -> Result<Subscription, String> {
        let tool = require("mosquitto_sub").expect("mosquitto_sub");
        // Piped, its stdout would be block-buffered and the SUBACK line
        // would never arrive in time: line-buffer it (coreutils stdbuf).
        let mut cmd = Command::new("stdbuf");
        cmd.arg("-oL").arg(tool);
        self.args(&mut cmd);
        cmd.args(["-d", "-v", "-t", filter]);
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let mut sub = Subscription {
            child,
            lines: rx,
            log: Vec::new(),
            reported: 0,
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match sub.lines.recv_timeout(left) {
                // "Subscribed (mid: 1): 1"; 128 is a refusal.
                Ok(l) if l.starts_with("Subscribed (mid:") => {
                    sub.log.push(l.clone());
                    if l.ends_with(": 128") {
                        return Err(format!("subscription refused: {}", sub.log.join("\n")));
                    }
                    return Ok(sub);
                }
                Ok(l) => sub.log.push(l),
                Err(_) => return Err(format!("no SUBACK:\n{}", sub.log.join("\n"))),
            }
        }
    }
}

/// A running mosquitto_sub.
pub struct Subscription {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Everything it printed so far.
    pub log: Vec<String>,
    /// How much of `log` [`Subscription::fresh`] has returned.
    reported: usize,
}

impl Subscription {
    /// Messages (`topic payload`) received until `payload` arrives or
    /// `wait` passes, in order.
    pub fn until(&mut self, payload: &str, wait: Duration) -> Vec<String> {
        let deadline = Instant::now() + wait;
        let mut got = Vec::new();
        while let Ok(l) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.log.push(l.clone());
            if l.starts_with("Client ") || l.starts_with("Subscribed") {
                continue;
            }
            let done = l.ends_with(&format!(" {payload}"));
            got.push(l);
            if done {
                break;
            }
        }
        got
    }
}

impl Subscription {
    /// The messages (`topic payload`) not returned before, after waiting
    /// `wait` for more; includes those a resumed session delivered before
    /// the SUBACK.
    pub fn fresh(&mut self, wait: Duration) -> Vec<String> {
        self.until("\u{0}never", wait);
        let out = self.log[self.reported..]
            .iter()
            .filter(|l| !l.starts_with("Client ") && !l.starts_with("Subscribed"))
            .cloned()
            .collect();
        self.reported = self.log.len();
        out
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
