//! The embedded broker (rumqttd, in-process) and a fault-injecting TCP
//! proxy that makes any broker "go down" and come back.
//!
//! rumqttd 0.20 cannot be stopped once started: `Broker::start` blocks its
//! thread for good and there is no shutdown handle. So `--kill-broker-after`
//! puts [`FaultProxy`] between the clients and the broker: taking the broker
//! down drops every client connection and closes the listening port
//! (clients get "connection refused"), bringing it back listens again on the
//! same port. The broker keeps its sessions and queued messages meanwhile,
//! which is what a broker restart with persistence (Mosquitto
//! `persistence true`) looks like to its clients.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::time::Duration;

use iot_testkit::pki::{Ca, Issued};
use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings, TlsConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// The throwaway certificates of `--tls`: a CA, the broker's certificate
/// (for `127.0.0.1` and `localhost`) and one client certificate, as PEM
/// files in a fresh temporary directory.
#[derive(Debug, Clone)]
pub struct DemoPki {
    /// The directory holding every file.
    pub dir: PathBuf,
    /// The CA certificate clients and the broker trust.
    pub ca: PathBuf,
    /// The broker's certificate and key.
    pub server: Issued,
    /// The clients' certificate (CN `iot-demo-client`) and key.
    pub client: Issued,
}

impl DemoPki {
    /// Generates the CA and both certificates (ECDSA P-256).
    pub fn generate() -> DemoPki {
        let dir = std::env::temp_dir().join(format!("iot-demo-tls-{}", std::process::id()));
        let ca = Ca::new(&dir, "demo-ca");
        DemoPki {
            server: ca.server("broker", &["127.0.0.1", "localhost"]),
            client: ca.client("iot-demo-client"),
            ca: ca.cert.clone(),
            dir,
        }
    }
}

/// Starts rumqttd on a free loopback port, in threads of its own; returns
/// its address once it accepts connections. It runs until the process ends.
/// With `tls`, the port speaks only TLS and requires a client certificate
/// signed by the demo CA (mutual TLS).
pub async fn start_embedded(
    max_connections: usize,
    tls: Option<&DemoPki>,
) -> Result<SocketAddr, String> {
    let port = free_port().map_err(|e| format!("no free port: {e}"))?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let path = |p: &PathBuf| p.display().to_string();
    let server = ServerSettings {
        name: "v4-embedded".into(),
        listen: addr,
        tls: tls.map(|pki| TlsConfig::Rustls {
            capath: Some(path(&pki.ca)),
            certpath: path(&pki.server.cert),
            keypath: path(&pki.server.key),
        }),
        next_connection_delay_ms: 0,
        connections: ConnectionSettings {
            connection_timeout_ms: 10_000,
            max_payload_size: 256 * 1024,
            max_inflight_count: 200,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    };
    let config = Config {
        id: 0,
        router: RouterConfig {
            max_connections,
            max_outgoing_packet_count: 200,
            // Messages are kept in an in-memory commit log per filter:
            // at most 8 segments of 8 MiB (the oldest are dropped).
            max_segment_size: 8 * 1024 * 1024,
            max_segment_count: 8,
            ..RouterConfig::default()
        },
        v4: Some(HashMap::from([("1".to_string(), server)])),
        ..Config::default()
    };
    std::thread::Builder::new()
        .name("rumqttd".into())
        .spawn(move || {
            let mut broker = Broker::new(config);
            if let Err(e) = broker.start() {
                eprintln!("embedded broker stopped: {e}");
            }
        })
        .map_err(|e| format!("cannot start the broker thread: {e}"))?;
    // Wait until it listens.
    for _ in 0..200 {
        if TcpStream::connect(addr).await.is_ok() {
            return Ok(addr);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err(format!(
        "the embedded broker did not listen on {addr} within 2 s"
    ))
}

fn free_port() -> std::io::Result<u16> {
    let l = StdListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(l.local_addr()?.port())
}

/// A TCP proxy in front of a broker that can take it "down" (drop every
/// connection and stop listening) and bring it "up" again.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    up: watch::Sender<bool>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (up, up_rx) = watch::channel(true);
        tokio::spawn(run(listener, addr, upstream, up_rx));
        Ok(FaultProxy { addr, up })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops every connection and refuses new ones.
    pub fn down(&self) {
        self.up.send_replace(false);
    }

    /// Accepts connections again.
    pub fn up(&self) {
        self.up.send_replace(true);
    }

    /// Whether the broker is reachable through the proxy.
    pub fn is_up(&self) -> bool {
        *self.up.borrow()
    }
}

async fn run(
    listener: TcpListener,
    addr: SocketAddr,
    upstream: SocketAddr,
    mut up: watch::Receiver<bool>,
) {
    let mut listener = Some(listener);
    let mut connections = JoinSet::new();
    loop {
        let is_up = *up.borrow_and_update();
        if !is_up {
            // Down: no listener, no connections.
            listener = None;
            connections.abort_all();
            while connections.join_next().await.is_some() {}
            if up.changed().await.is_err() {
                return;
            }
            continue;
        }
        if listener.is_none() {
            match TcpListener::bind(addr).await {
                Ok(l) => listener = Some(l),
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "fault proxy: cannot listen again; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            }
        }
        let Some(l) = &listener else { continue };
        tokio::select! {
            changed = up.changed() => if changed.is_err() { return },
            accepted = l.accept() => {
                if let Ok((mut client, _)) = accepted {
                    let _ = client.set_nodelay(true);
                    connections.spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(upstream).await {
                            let _ = server.set_nodelay(true);
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
