//! A real Mosquitto started on a generated `mosquitto.conf`, certificates
//! from `iot_testkit::pki`, and the mosquitto_pub/mosquitto_sub clients.
//! A missing tool is a skip, or a failure under CI=true (see `tools`).

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::tools::{require, run};

/// The container directory every generated path lives under.
const CONTAINER_ROOT: &str = "/mosquitto/";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running broker; killed on drop.
pub struct Broker {
    child: Child,
    /// Stands for `/mosquitto/` (config under `config/`, data under `data/`).
    pub root: PathBuf,
    /// Each listener's port in the generated config → its loopback port here.
    pub ports: BTreeMap<u32, u16>,
    /// The config as started.
    pub conf: String,
}

impl Broker {
    /// Starts Mosquitto on `conf` with only the container paths
    /// (`/mosquitto/...`) moved under `root` and every listener moved to a
    /// free loopback port. Files the config names (passwd, ACL, certs) must
    /// already be under `root`. `None` when mosquitto is missing outside CI.
    pub fn start(conf: &str, root: &Path) -> Option<Broker> {
        let mosquitto = require("mosquitto")?;
        fs::create_dir_all(root.join("data")).unwrap();
        fs::create_dir_all(root.join("config")).unwrap();
        let root_s = format!("{}/", root.display());
        let mut ports = BTreeMap::new();
        let mut text = String::new();
        for line in conf.lines() {
            let line = if let Some(rest) = line.strip_prefix("listener ") {
                let port: u32 = rest.split_whitespace().next().unwrap().parse().unwrap();
                let free = free_port();
                ports.insert(port, free);
                format!("listener {free} 127.0.0.1")
            } else {
                line.replace(CONTAINER_ROOT, &root_s)
            };
            text.push_str(&line);
            text.push('\n');
        }
        // Started as root, Mosquitto would switch to the `mosquitto` user,
        // who cannot read the test's files; stay the current user.
        text.push_str("user root\n");
        let path = root.join("test-mosquitto.conf");
        fs::write(&path, &text).unwrap();
        let mut child = Command::new(&mosquitto)
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let up = |p: &u16| std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok();
        while !ports.values().all(up) {
            if let Some(status) = child.try_wait().unwrap() {
                let out = child.wait_with_output().unwrap();
                panic!(
                    "mosquitto exited ({status}):\n{}{}\n---\n{text}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Broker {
            child,
            root: root.to_path_buf(),
            ports,
            conf: text,
        })
    }

    /// The loopback port standing for `port` of the generated config.
    pub fn port(&self, port: u32) -> u16 {
        *self
            .ports
            .get(&port)
            .unwrap_or_else(|| panic!("no listener {port} in:\n{}", self.conf))
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Certificates come from the workspace's throwaway CA (rcgen), shared
/// with the other crates' TLS tests.
#[allow(unused_imports)] // the validators test uses the broker alone
pub use iot_testkit::pki::{Ca, Issued};

/// How a client connects: TLS trust, certificate, password.
#[derive(Clone, Default)]
pub struct Client {
    pub id: String,
    pub port: u16,
    pub cafile: Option<PathBuf>,
    pub cert: Option<(PathBuf, PathBuf)>,
    pub password: Option<(String, String)>,
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
        // Its own client id: sharing a subscriber's would disconnect it.
        self.clone()
            .with_id(&format!("{}-pub", self.id))
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

impl Drop for Subscription {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
