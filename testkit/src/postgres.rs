//! Runs a private PostgreSQL server for a test.
//!
//! Each [`Postgres`] gets its own loopback port and temporary directory: a
//! cluster made by `initdb` (trust authentication, user `iot`, UTF-8), a
//! Unix socket directory and a log file. The server can be killed with
//! SIGKILL ([`Postgres::kill9`]: the postmaster and every backend, as a
//! crash would), stopped cleanly ([`Postgres::stop`]) and started again on
//! the same data directory and port ([`Postgres::start_again`]).
//!
//! The binaries are Debian's (`/usr/lib/postgresql/<version>/bin`, package
//! `postgresql`), or those in `$PG_BIN_DIR`. When they are missing,
//! [`Postgres::start`] returns `None` and the test should return early
//! ("skipped"); with `CI=true` it panics instead, because CI must run these
//! tests (see [`crate::mosquitto::require_tool`] for the same rule).
//!
//! PostgreSQL refuses to run as root. When the tests run as root (CI
//! does), `initdb` and `postgres` run as the unprivileged user `postgres`
//! (created by the Debian package), or `nobody` where that does not exist,
//! and the temporary directory is handed to that user. The switch is made
//! by the spawned child itself (`setgid`/`setuid` before `exec`, what
//! `runuser -u <user> --` does), so the process the test holds is the
//! postmaster and a SIGKILL reaches it directly.

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::mosquitto::{free_port, in_ci, is_root, temp_dir};

/// The database user the cluster is initialised with (trust
/// authentication: no password).
pub const USER: &str = "iot";

/// Server settings.
#[derive(Debug, Clone, Default)]
pub struct PostgresOptions {
    /// `fsync = off` and `synchronous_commit = off`: faster, and a SIGKILL
    /// of the server still loses nothing (the kernel keeps the written
    /// pages); only a machine crash would. Off by default: commits cost
    /// what they cost in production.
    pub no_fsync: bool,
    /// Extra `-c name=value` settings.
    pub settings: Vec<String>,
    /// Serve TLS with this certificate and key (`ssl = on`), and only TLS
    /// over TCP (`pg_hba.conf`: `hostssl`), so a connection that works
    /// used TLS.
    pub tls: Option<crate::pki::Issued>,
}

/// A PostgreSQL server on `127.0.0.1:<port>`.
pub struct Postgres {
    port: u16,
    dir: PathBuf,
    bin: PathBuf,
    /// `(uid, gid)` to run as when the tests run as root.
    run_as: Option<(u32, u32)>,
    options: PostgresOptions,
    child: Option<Child>,
}

/// The directory holding `initdb` and `postgres`: `$PG_BIN_DIR`, else the
/// newest `/usr/lib/postgresql/<version>/bin`, else the directory of an
/// `initdb` on `PATH` (links resolved). A missing one is a skip locally
/// and a failure with `CI=true`.
pub fn require_bin_dir() -> Option<PathBuf> {
    let has_tools = |d: &Path| d.join("initdb").is_file() && d.join("postgres").is_file();
    let found = match std::env::var_os("PG_BIN_DIR") {
        // A directory without the tools counts as missing (which also
        // exercises the skip/fail logic).
        Some(d) => Some(PathBuf::from(d)).filter(|d| has_tools(d)),
        None => debian_bin_dir().or_else(|| {
            let path = std::env::var_os("PATH").unwrap_or_default();
            std::env::split_paths(&path)
                .map(|d| d.join("initdb"))
                .filter_map(|p| std::fs::canonicalize(p).ok())
                .filter_map(|p| p.parent().map(Path::to_path_buf))
                .find(|d| has_tools(d))
        }),
    };
    match found {
        Some(d) => Some(d),
        None if in_ci() => panic!(
            "PostgreSQL's `initdb`/`postgres` not found (set PG_BIN_DIR or install the \
             Debian package `postgresql`); CI=true makes this a failure"
        ),
        None => {
            eprintln!(
                "SKIPPED: PostgreSQL not found; install the Debian package `postgresql` \
                 (or set PG_BIN_DIR) to run this test"
            );
            None
        }
    }
}

/// The newest `/usr/lib/postgresql/<major>/bin` with `initdb` and `postgres`.
fn debian_bin_dir() -> Option<PathBuf> {
    let entries = std::fs::read_dir("/usr/lib/postgresql").ok()?;
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let major: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("postgres").is_file()).then_some((major, bin))
        })
        .max_by_key(|(major, _)| *major)
        .map(|(_, bin)| bin)
}

/// `kill <signal> -- <target>`; whether it succeeded (for `-0`: whether
/// the process or group exists).
fn send(signal: &str, target: &str) -> bool {
    Command::new("kill")
        .args([signal, "--", target])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `(uid, gid)` of `name` from `id`, if the user exists.
fn user_ids(name: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").arg(flag).arg(name).output().ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

/// The unprivileged user to run the server as when we are root.
fn unprivileged_user() -> (u32, u32) {
    ["postgres", "nobody"]
        .iter()
        .find_map(|u| user_ids(u))
        .expect("running as root, and neither user `postgres` nor `nobody` exists")
}

impl Postgres {
    /// Initialises a cluster and starts the server with PostgreSQL's
    /// defaults; `None` means skip.
    pub fn start() -> Option<Postgres> {
        Self::start_with(PostgresOptions::default())
    }

    /// Initialises a cluster and starts the server with `options`; `None`
    /// means skip.
    pub fn start_with(options: PostgresOptions) -> Option<Postgres> {
        let bin = require_bin_dir()?;
        let dir = temp_dir("postgres");
        let run_as = is_root().then(unprivileged_user);
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown the temp dir");
        }
        let mut pg = Postgres {
            port: free_port(),
            dir,
            bin,
            run_as,
            options,
            child: None,
        };
        pg.initdb();
        pg.launch();
        Some(pg)
    }

    fn command(&self, tool: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(tool));
        cmd.stdin(Stdio::null()).current_dir(&self.dir);
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    /// Copies the certificate and key into the data directory, owned by
    /// the server's user with the key private: PostgreSQL refuses a key
    /// that others can read.
    fn install_tls(&self, tls: &crate::pki::Issued) -> (PathBuf, PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let cert = self.data_dir().join("server.crt");
        let key = self.data_dir().join("server.key");
        std::fs::copy(&tls.cert, &cert).expect("copy the server certificate");
        std::fs::copy(&tls.key, &key).expect("copy the server key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
            .expect("chmod the server key");
        if let Some((uid, gid)) = self.run_as {
            for file in [&cert, &key] {
                std::os::unix::fs::chown(file, Some(uid), Some(gid)).expect("chown a TLS file");
            }
        }
        let hba = self.data_dir().join("pg_hba.conf");
        std::fs::write(
            &hba,
            format!("local all all trust\nhostssl all {USER} 127.0.0.1/32 trust\n"),
        )
        .expect("write pg_hba.conf");
        (cert, key)
    }

    fn initdb(&self) {
        let out = self
            .command("initdb")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-U", USER, "-A", "trust", "-E", "UTF8", "--no-locale"])
            .arg("--no-sync")
            .output()
            .expect("spawn initdb");
        assert!(
            out.status.success(),
            "initdb failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn launch(&mut self) {
        assert!(self.child.is_none(), "postgres already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open postgres.log");
        if let Some((uid, gid)) = self.run_as {
            std::os::unix::fs::chown(self.log_path(), Some(uid), Some(gid))
                .expect("chown postgres.log");
        }
        let mut cmd = self.command("postgres");
        cmd.arg("-D")
            .arg(self.data_dir())
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(&self.dir)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=30",
            ]);
        if self.options.no_fsync {
            cmd.args(["-c", "fsync=off", "-c", "synchronous_commit=off"]);
        }
        for setting in &self.options.settings {
            cmd.arg("-c").arg(setting);
        }
        if let Some(tls) = &self.options.tls {
            let (cert, key) = self.install_tls(tls);
            cmd.args(["-c", "ssl=on", "-c"])
                .arg(format!("ssl_cert_file={}", cert.display()))
                .arg("-c")
                .arg(format!("ssl_key_file={}", key.display()));
        }
        // Its own process group, so `kill9` can take the backends down with
        // the postmaster, as a crash would.
        cmd.process_group(0)
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        self.child = Some(cmd.spawn().expect("spawn postgres"));
        self.wait_ready();
    }

    /// Waits until the server answers queries (`pg_isready`), or panics
    /// with its log after 30 s (crash recovery after `kill9` included).
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                panic!(
                    "postgres exited with {status} at startup; log:\n{}",
                    self.log()
                );
            }
            let listening = TcpStream::connect(("127.0.0.1", self.port)).is_ok();
            if listening && self.is_ready() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "postgres was not ready within 30 s; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn is_ready(&self) -> bool {
        let isready = self.bin.join("pg_isready");
        if !isready.is_file() {
            return true;
        }
        Command::new(isready)
            .args(["-q", "-h", "127.0.0.1", "-U", USER, "-d", "postgres"])
            .arg("-p")
            .arg(self.port.to_string())
            .stdin(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://iot@127.0.0.1:<port>/postgres`, with `?sslmode=disable`
    /// when the server has no TLS.
    pub fn url(&self) -> String {
        let url = format!("postgres://{USER}@127.0.0.1:{}/postgres", self.port);
        if self.options.tls.is_some() {
            url
        } else {
            // No TLS to try: clients that check certificates would
            // otherwise need trust anchors on the machine to start.
            url + "?sslmode=disable"
        }
    }

    /// The server's private directory (`data/`, `postgres.log`, socket).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The postmaster's process id; `None` while stopped.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the postmaster and every backend with SIGKILL, as a crash
    /// would: nothing is shut down cleanly, the next start runs crash
    /// recovery from the write-ahead log.
    pub fn kill9(&mut self) {
        // The process group is the postmaster's id (`process_group(0)`).
        self.end("-KILL", true);
    }

    /// Stops the server cleanly ("fast" shutdown: SIGINT, open sessions
    /// are disconnected, a checkpoint is written) and waits for it.
    pub fn stop(&mut self) {
        self.end("-INT", false);
    }

    /// Sends `signal` to the postmaster (or its whole process group) and
    /// waits until it and every backend are gone: backends are not our
    /// children, so `wait` does not cover them, and a new postmaster
    /// refuses to start while old backends hold the shared memory.
    fn end(&mut self, signal: &str, group: bool) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pgid = format!("-{}", child.id());
        let target = if group {
            pgid.clone()
        } else {
            child.id().to_string()
        };
        send(signal, &target);
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        let deadline = Instant::now() + Duration::from_secs(10);
        while send("-0", &pgid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts a stopped or killed server again: same data directory, same
    /// port (after `kill9`, PostgreSQL replays its write-ahead log first).
    pub fn start_again(&mut self) {
        self.launch();
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Runs `sql` through `psql` (unaligned, tuples only) and returns its
    /// output, or panics with psql's error: for checks that should not
    /// depend on the client library under test.
    pub fn psql(&self, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .args(["-U", USER, "-d", "postgres", "-p"])
            .arg(self.port.to_string())
            .arg("-c")
            .arg(sql)
            .stdin(Stdio::null())
            .output()
            .expect("spawn psql");
        assert!(
            out.status.success(),
            "psql {sql:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            eprintln!(
                "--- postgres log ({}) ---\n{}",
                self.dir.display(),
                self.log()
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
