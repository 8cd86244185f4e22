//! Runs a private Mosquitto broker for a test.
//!
//! Each [`Broker`] gets its own loopback port, temporary directory and
//! generated configuration, and can be stopped (SIGTERM, so a persistent
//! broker saves its database) or killed (SIGKILL) and started again on the
//! same port. When the `mosquitto` binary is missing, [`Broker::start`]
//! returns `None` and the test should return early ("skipped"); with
//! `CI=true` it panics instead, because CI must run these tests.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A TLS listener's files and client-certificate policy.
#[derive(Debug, Clone, Default)]
pub struct TlsListener {
    /// CA certificates that client certificates must chain to (`cafile`).
    pub ca: PathBuf,
    /// The broker's certificate (`certfile`).
    pub cert: PathBuf,
    /// The broker's key (`keyfile`).
    pub key: PathBuf,
    /// `require_certificate true`: mutual TLS.
    pub require_certificate: bool,
    /// `use_identity_as_username true`: the client certificate's CN is the
    /// user name (for ACLs).
    pub use_identity_as_username: bool,
}

/// Broker settings.
#[derive(Debug, Clone, Default)]
pub struct BrokerOptions {
    /// Serve TLS on the port instead of plain TCP.
    pub tls: Option<TlsListener>,
    /// `allow_anonymous false` with this `password_file` (see
    /// [`password_file`]).
    pub password_file: Option<PathBuf>,
    /// An `acl_file`.
    pub acl_file: Option<PathBuf>,
    /// `persistence true` with a private `persistence_location`: sessions,
    /// subscriptions, queued and retained messages survive a stop/start.
    pub persistence: bool,
    /// `max_packet_size` (0: Mosquitto's default, unlimited).
    pub max_packet_size: usize,
    /// Extra configuration lines.
    pub extra: Vec<String>,
}

/// A Mosquitto process on `127.0.0.1:<port>`.
pub struct Broker {
    port: u16,
    dir: PathBuf,
    conf: PathBuf,
    bin: PathBuf,
    child: Option<Child>,
}

fn find(name: &str, dirs: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(dirs.iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Whether this is a CI run (`CI=true`), where a missing tool is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Finds a Mosquitto tool (`mosquitto`, `mosquitto_pub`), or decides what
/// a missing one means: a failure in CI, a skip elsewhere.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    let env = format!("{}_BIN", name.to_uppercase());
    // `<NAME>_BIN` overrides the search (a path that does not exist counts
    // as missing, which also exercises the skip/fail logic).
    let found = match std::env::var_os(&env) {
        Some(p) => Some(PathBuf::from(p)).filter(|p| p.is_file()),
        None => find(name, &["/usr/sbin", "/usr/local/sbin", "/usr/bin"]),
    };
    match found {
        Some(p) => Some(p),
        None if in_ci() => panic!(
            "`{name}` not found (set {env} or install the Debian packages \
             `mosquitto mosquitto-clients`); CI=true makes this a failure"
        ),
        None => {
            eprintln!(
                "SKIPPED: `{name}` not found; install `mosquitto mosquitto-clients` to run this test"
            );
            None
        }
    }
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// Whether the tests run as root (Mosquitto then needs `user root`).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A fresh directory under the system temp dir, removed by `Broker::drop`.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "iot-mqtt-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// The configuration `options` describe for `port` and the broker's `dir`.
fn config(options: &BrokerOptions, port: u16, dir: &Path) -> String {
    let mut conf = format!(
        "listener {port} 127.0.0.1\n\
         allow_anonymous {anonymous}\n\
         log_dest file {log}\n\
         log_type error\nlog_type warning\nlog_type notice\nlog_type information\n\
         connection_messages true\n\
         max_queued_messages 100000\n",
        log = dir.join("mosquitto.log").display(),
        anonymous = options.password_file.is_none()
            && !options.tls.as_ref().is_some_and(|t| t.require_certificate),
    );
    if let Some(tls) = &options.tls {
        conf.push_str(&format!(
            "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate {}\nuse_identity_as_username {}\n",
            tls.ca.display(),
            tls.cert.display(),
            tls.key.display(),
            tls.require_certificate,
            tls.use_identity_as_username,
        ));
    }
    if let Some(p) = &options.password_file {
        conf.push_str(&format!("password_file {}\n", p.display()));
    }
    if let Some(p) = &options.acl_file {
        conf.push_str(&format!("acl_file {}\n", p.display()));
    }
    if options.persistence {
        conf.push_str(&format!(
            "persistence true\npersistence_location {}/\nautosave_interval 0\n",
            dir.display()
        ));
    } else {
        conf.push_str("persistence false\n");
    }
    if options.max_packet_size > 0 {
        conf.push_str(&format!("max_packet_size {}\n", options.max_packet_size));
    }
    for line in &options.extra {
        conf.push_str(line);
        conf.push('\n');
    }
    conf
}

impl Broker {
    /// Writes a configuration and starts the broker; `None` means skip.
    pub fn start(options: BrokerOptions) -> Option<Broker> {
        Self::start_with(|port, dir| config(&options, port, dir))
    }

    /// Starts Mosquitto with a configuration of the caller's, made by
    /// `make(port, dir)` for a free loopback `port` (which the broker must
    /// listen on) and the broker's private `dir`; `None` means skip.
    pub fn start_with(make: impl FnOnce(u16, &Path) -> String) -> Option<Broker> {
        let bin = require_tool("mosquitto")?;
        let port = free_port();
        let dir = temp_dir("broker");
        let mut conf = make(port, &dir);
        if is_root() {
            // Otherwise Mosquitto drops to user `mosquitto`, which may not
            // write the private directory.
            conf.push_str("\nuser root\n");
        }
        let conf_path = dir.join("mosquitto.conf");
        std::fs::write(&conf_path, conf).expect("write mosquitto.conf");
        let mut broker = Broker {
            port,
            dir,
            conf: conf_path,
            bin,
            child: None,
        };
        broker.launch();
        Some(broker)
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker's private directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The running broker's process id (for its CPU time); `None` while
    /// stopped. A restart changes it.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the broker process is running (not stopped, not exited).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    fn launch(&mut self) {
        assert!(self.child.is_none(), "broker already running");
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mosquitto");
        self.child = Some(child);
        // Wait until it accepts connections (the port may need a moment
        // after a restart).
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "mosquitto exited with {status} at startup; log:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen within 10 s; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the broker with SIGTERM (a persistent broker saves its
    /// database) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// Sends SIGHUP: Mosquitto re-reads its password file, ACL and (for new
    /// connections) certificates.
    pub fn reload(&self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .arg("-HUP")
                .arg(child.id().to_string())
                .status();
        }
    }

    /// Kills the broker with SIGKILL (nothing is saved).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the broker again on the same port, with the same
    /// configuration (and, with persistence, the saved database).
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// Starts a stopped broker.
    pub fn start_again(&mut self) {
        self.launch();
    }

    /// The broker's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
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

/// Writes a Mosquitto password file with `users` (name, password) through
/// `mosquitto_passwd -b`; `None` means skip (see [`require_tool`]).
pub fn password_file(path: &Path, users: &[(&str, &str)]) -> Option<()> {
    let bin = require_tool("mosquitto_passwd")?;
    let _ = std::fs::remove_file(path);
    std::fs::File::create(path).expect("create password file");
    for (user, password) in users {
        let status = Command::new(&bin)
            .arg("-b")
            .arg(path)
            .arg(user)
            .arg(password)
            .stdout(Stdio::null())
            .status()
            .expect("run mosquitto_passwd");
        assert!(status.success(), "mosquitto_passwd failed for {user}");
    }
    Some(())
}

pub use crate::rendered::RenderedBroker;
