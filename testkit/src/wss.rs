//! WebSockets over TLS in front of a plain MQTT broker, through websockify
//! (PyPI). Debian's Mosquitto 2.0.11 is built without WebSockets, so the
//! `wss` transport is tested against websockify terminating TLS and
//! WebSockets and forwarding the MQTT bytes to Mosquitto.
//!
//! websockify picks no WebSocket subprotocol unless a client offers
//! `binary`; MQTT clients offer `mqtt` and rumqttc insists on hearing it
//! back, so the proxy runs with a request handler that echoes `mqtt`.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::mosquitto::{in_ci, temp_dir};

const SCRIPT: &str = r#"
import sys
from websockify.websocketproxy import ProxyRequestHandler, WebSocketProxy

class MqttSocket(ProxyRequestHandler.SocketClass):
    def select_subprotocol(self, protocols):
        protocols = [p.strip() for p in protocols]
        return "mqtt" if "mqtt" in protocols else ""

class MqttHandler(ProxyRequestHandler):
    SocketClass = MqttSocket

listen_port, target_port, cert, key = sys.argv[1:5]
WebSocketProxy(
    RequestHandlerClass=MqttHandler,
    listen_host="127.0.0.1", listen_port=int(listen_port),
    target_host="127.0.0.1", target_port=int(target_port),
    cert=cert, key=key, ssl_only=True, verbose=False,
).start_server()
"#;

/// A websockify process serving `wss://127.0.0.1:<port>/` in front of a
/// broker's plain port.
pub struct WssProxy {
    port: u16,
    child: Child,
}

impl WssProxy {
    /// Starts the proxy with the server certificate `cert`/`key`; `None`
    /// (skip) without websockify, a failure with `CI=true`.
    pub fn start(target_port: u16, cert: &Path, key: &Path) -> Option<WssProxy> {
        let found = Command::new("python3")
            .args(["-c", "import websockify"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            assert!(
                !in_ci(),
                "python module websockify missing (pip install websockify); CI=true makes this a failure"
            );
            eprintln!("SKIPPED: pip install websockify to run this test");
            return None;
        }
        let dir = temp_dir("wss");
        let script = dir.join("wss_proxy.py");
        std::fs::write(&script, SCRIPT).expect("write proxy script");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(port.to_string())
            .arg(target_port.to_string())
            .arg(cert)
            .arg(key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn websockify");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("websockify exited with {status}");
            }
            assert!(
                Instant::now() < deadline,
                "websockify did not listen within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(WssProxy { port, child })
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for WssProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
