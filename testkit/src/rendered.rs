//! Mosquitto on a configuration a generator rendered for a container
//! (iot-deploy's `mosquitto.conf`): every `listener` moves to a free
//! loopback port and every `/mosquitto/...` path under a directory of the
//! test's, nothing else changes, so the TLS, identity and ACL lines are the
//! ones an operator would deploy.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::mosquitto::{free_port, is_root, require_tool};

/// The container directory every generated path lives under.
const CONTAINER_ROOT: &str = "/mosquitto/";

/// A running broker; killed on drop.
pub struct RenderedBroker {
    child: Child,
    /// Stands for `/mosquitto/` (config under `config/`, data under `data/`).
    pub root: PathBuf,
    /// Each listener's port in the generated config → its loopback port here.
    pub ports: BTreeMap<u32, u16>,
    /// The config as started.
    pub conf: String,
}

impl RenderedBroker {
    /// Starts Mosquitto on `conf` with only the container paths
    /// (`/mosquitto/...`) moved under `root` and every listener moved to a
    /// free loopback port. Files the config names (passwd, ACL, certs) must
    /// already be under `root`. `None` when mosquitto is missing outside CI.
    pub fn start(conf: &str, root: &Path) -> Option<RenderedBroker> {
        let mosquitto = require_tool("mosquitto")?;
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
        if is_root() {
            // Started as root, Mosquitto would switch to the `mosquitto`
            // user, who cannot read the test's files.
            text.push_str("user root\n");
        }
        let path = root.join("test-mosquitto.conf");
        fs::write(&path, &text).unwrap();
        // The generated config logs to stdout: into a file, never a pipe
        // nobody reads (a full pipe would stall the broker).
        let log_path = root.join("mosquitto.log");
        let log = fs::File::create(&log_path).unwrap();
        let mut child = Command::new(&mosquitto)
            .arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let up = |p: &u16| std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok();
        while !ports.values().all(up) {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "mosquitto exited ({status}):\n{}\n---\n{text}",
                    fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(RenderedBroker {
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

impl Drop for RenderedBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
