//! A private Mosquitto broker for the MQTT transport benchmark and its
//! setup test (adapted from `iot-core/tests/support/mosquitto.rs`).
//!
//! [`Broker::start`] writes a configuration for a free loopback port into a
//! fresh temporary directory and starts `mosquitto -c` on it. The
//! configuration is sized so that the broker itself neither drops nor
//! throttles what the benchmark sends: persistence off, QoS 1 window
//! towards each subscriber `max_inflight_messages` (default here 1000,
//! Mosquitto's own default is 20), and unbounded queues
//! (`max_queued_messages` 1,000,000, `max_queued_bytes 0`).
//!
//! When the `mosquitto` binary is missing, [`require_mosquitto`] (and so
//! [`Broker::start`]) returns `None` with a "SKIPPED" message, except with
//! `CI=true`, where it panics: CI must run the test.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Broker settings of the benchmark.
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    /// `max_inflight_messages`: QoS 1 messages the broker sends a
    /// subscriber before it waits for PUBACKs.
    pub max_inflight_messages: u32,
    /// `max_queued_messages`: messages queued per client beyond the
    /// in-flight window; beyond it Mosquitto drops silently.
    pub max_queued_messages: u32,
    /// Extra configuration lines.
    pub extra: Vec<String>,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        Self {
            max_inflight_messages: 1000,
            max_queued_messages: 1_000_000,
            extra: Vec::new(),
        }
    }
}

/// A Mosquitto process on `127.0.0.1:<port>`, killed on drop.
#[derive(Debug)]
pub struct Broker {
    port: u16,
    dir: PathBuf,
    config: String,
    child: Child,
}

fn find(name: &str, dirs: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(dirs.iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Whether `CI=true`.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The `mosquitto` binary (`MOSQUITTO_BIN` overrides the search; a path
/// that does not exist counts as missing). Missing: `None` and a
/// "SKIPPED" message, or a panic when `CI=true`.
pub fn require_mosquitto() -> Option<PathBuf> {
    let found = match std::env::var_os("MOSQUITTO_BIN") {
        Some(p) => Some(PathBuf::from(p)).filter(|p| p.is_file()),
        None => find("mosquitto", &["/usr/sbin", "/usr/local/sbin", "/usr/bin"]),
    };
    match found {
        Some(p) => Some(p),
        None if in_ci() => panic!(
            "`mosquitto` not found (set MOSQUITTO_BIN or install the Debian package \
             `mosquitto`); CI=true makes this a failure"
        ),
        None => {
            eprintln!("SKIPPED: `mosquitto` not found; install `mosquitto` to run this");
            None
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn temp_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "iot-mqtt-bench-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

impl Broker {
    /// Writes the configuration, starts the broker and waits until it
    /// accepts connections; `None` means skip (see [`require_mosquitto`]).
    pub fn start(options: &BrokerOptions) -> Option<Broker> {
        let bin = require_mosquitto()?;
        let port = free_port();
        let dir = temp_dir();
        let mut config = format!(
            "listener {port} 127.0.0.1\n\
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
        if is_root() {
            // Otherwise Mosquitto drops to user `mosquitto`, which may not
            // write the private directory.
            config.push_str("user root\n");
        }
        for line in &options.extra {
            config.push_str(line);
            config.push('\n');
        }
        let path = dir.join("mosquitto.conf");
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(config.as_bytes()))
            .expect("write mosquitto.conf");
        let child = Command::new(&bin)
            .arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mosquitto");
        let mut broker = Broker {
            port,
            dir,
            config,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = broker.child.try_wait() {
                panic!(
                    "mosquitto exited with {status} at startup; log:\n{}",
                    broker.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen within 10 s; log:\n{}",
                broker.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(broker)
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker's process id (for its CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The generated configuration.
    pub fn config(&self) -> &str {
        &self.config
    }

    /// The broker's private directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The broker's log so far (errors and warnings only).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- mosquitto log ({}) ---\n{}",
                self.dir.display(),
                self.log()
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
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
