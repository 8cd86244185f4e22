//! The private Mosquitto broker of the MQTT transport benchmark and its
//! setup test: [`iot_testkit::mosquitto::Broker`] (a free loopback port, a
//! private directory, stop/kill/restart on the same port) with the
//! benchmark's configuration.
//!
//! The configuration is sized so that the broker itself neither drops nor
//! throttles what the benchmark sends: persistence off, QoS 1 window
//! towards each subscriber `max_inflight_messages` (default here 1000,
//! Mosquitto's own default is 20), and unbounded queues
//! (`max_queued_messages` 1,000,000, `max_queued_bytes 0`). With
//! [`BrokerOptions::tls`] the same process also serves TLS on a second
//! loopback port, with a server certificate (ECDSA P-256, for `localhost`
//! and `127.0.0.1`) from a throwaway CA ([`iot_testkit::pki::Ca`]) that
//! clients verify through [`Broker::ca_file`]: plain and TLS runs share
//! one broker process and its settings.
//!
//! When the `mosquitto` binary is missing, [`Broker::start`] returns
//! `None` with a "SKIPPED" message, except with `CI=true`, where it
//! panics: CI must run the test.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use iot_testkit::mosquitto::{self, free_port};
use iot_testkit::pki::Ca;

/// Broker settings of the benchmark.
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    /// `max_inflight_messages`: QoS 1 messages the broker sends a
    /// subscriber before it waits for PUBACKs.
    pub max_inflight_messages: u32,
    /// `max_queued_messages`: messages queued per client beyond the
    /// in-flight window; beyond it Mosquitto drops silently.
    pub max_queued_messages: u32,
    /// A second listener serving TLS (server authentication only) on
    /// [`Broker::tls_port`].
    pub tls: bool,
    /// Extra configuration lines (global settings: they come before the
    /// TLS listener's lines).
    pub extra: Vec<String>,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        Self {
            max_inflight_messages: 1000,
            max_queued_messages: 1_000_000,
            tls: false,
            extra: Vec::new(),
        }
    }
}

/// The TLS listener of a [`Broker`].
#[derive(Debug, Clone)]
struct TlsPort {
    port: u16,
    ca: PathBuf,
}

/// A Mosquitto process on `127.0.0.1:<port>` (and, with TLS, on
/// `127.0.0.1:<tls port>`), killed on drop.
pub struct Broker {
    inner: mosquitto::Broker,
    config: String,
    tls: Option<TlsPort>,
}

impl Broker {
    /// Writes the configuration, starts the broker and waits until it
    /// accepts connections; `None` means skip.
    pub fn start(options: &BrokerOptions) -> Option<Broker> {
        let mut config = String::new();
        let mut tls = None;
        let inner = mosquitto::Broker::start_with(|port, dir| {
            config = format!(
                "per_listener_settings false\n\
                 listener {port} 127.0.0.1\n\
                 allow_anonymous true\n\
                 persistence false\n\
                 log_dest file {log}\n\
                 log_type error\nlog_type warning\n\
                 connection_messages false\n\
                 max_inflight_messages {inflight}\n\
                 max_queued_messages {queued}\n\
                 max_queued_bytes 0\n\
                 max_inflight_bytes 0\n",
                log = dir.join("mosquitto.log").display(),
                inflight = options.max_inflight_messages,
                queued = options.max_queued_messages,
            );
            for line in &options.extra {
                config.push_str(line);
                config.push('\n');
            }
            if options.tls {
                let ca = Ca::new(&dir.join("pki"), "bench-ca");
                let server = ca.server("broker", &["localhost", "127.0.0.1"]);
                let mut tls_port = free_port();
                while tls_port == port {
                    tls_port = free_port();
                }
                // With `per_listener_settings false` these apply to the
                // listener they follow.
                config.push_str(&format!(
                    "listener {tls_port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n",
                    ca.cert.display(),
                    server.cert.display(),
                    server.key.display(),
                ));
                tls = Some(TlsPort {
                    port: tls_port,
                    ca: ca.cert.clone(),
                });
            }
            config.clone()
        })?;
        let mut broker = Broker { inner, config, tls };
        broker.wait_tls();
        Some(broker)
    }

    /// Waits until the TLS listener (if any) accepts connections.
    fn wait_tls(&mut self) {
        let Some(tls) = &self.tls else { return };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", tls.port)).is_err() {
            assert!(
                Instant::now() < deadline && self.inner.is_running(),
                "mosquitto's TLS listener did not listen within 10 s; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The plain TCP port.
    pub fn port(&self) -> u16 {
        self.inner.port()
    }

    /// The TLS port, with [`BrokerOptions::tls`].
    pub fn tls_port(&self) -> Option<u16> {
        self.tls.as_ref().map(|t| t.port)
    }

    /// The CA certificate (PEM) that signed the TLS listener's
    /// certificate, with [`BrokerOptions::tls`].
    pub fn ca_file(&self) -> Option<&Path> {
        self.tls.as_ref().map(|t| t.ca.as_path())
    }

    /// The broker's process id (for its CPU time); changes with
    /// [`start_again`](Self::start_again).
    pub fn pid(&self) -> u32 {
        self.inner.pid().expect("the broker is running")
    }

    /// The generated configuration (without the `user root` line the
    /// test kit adds when running as root).
    pub fn config(&self) -> &str {
        &self.config
    }

    /// The broker's private directory.
    pub fn dir(&self) -> &Path {
        self.inner.dir()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.inner.is_running()
    }

    /// Kills the broker (SIGKILL: connections end without a DISCONNECT)
    /// and returns at once.
    pub fn kill(&mut self) {
        self.inner.kill();
    }

    /// Starts a killed broker again on the same ports and returns when
    /// both listeners accept connections.
    pub fn start_again(&mut self) {
        self.inner.start_again();
        self.wait_tls();
    }

    /// The broker's log so far (errors and warnings only).
    pub fn log(&self) -> String {
        self.inner.log()
    }
}

/// CPU time (user + system) a process has used so far, from
/// `/proc/<pid>/stat`; `None` where that is not readable (not Linux).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ticks = stat_cpu_ticks(&stat)?;
    Some(Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64))
}

/// User plus system time, in clock ticks, from the text of a
/// `/proc/<pid>/stat` or `/proc/<pid>/task/<tid>/stat` file.
pub fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    // Fields after the command name (which may contain spaces) in parens.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13
    // counting from the state field (index 0 here).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 if unknown).
pub fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}
