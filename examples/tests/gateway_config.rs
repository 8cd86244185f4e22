//! The gateway binary's layered configuration: `--config FILE`, then the
//! environment, then the command line.

use std::process::Command;
use std::time::{Duration, Instant};

const GATEWAY: &str = env!("CARGO_BIN_EXE_gateway");

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("iot-gw-config-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Replaces the config file at once (write, then rename), as an editor
/// or a ConfigMap update does: the running gateway looks at the file every
/// second and must not catch it half-written.
fn write_config(file: &std::path::Path, text: impl AsRef<[u8]>) -> std::io::Result<()> {
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, file)
}

/// A fresh directory's config file and summary path, for a gateway run.
fn config_and_summary(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = temp_dir(name);
    (dir.join("gateway.toml"), dir.join("summary.json"))
}

#[test]
fn settings_come_from_the_file_unless_the_environment_or_command_line_set_them() {
    let dir = temp_dir("layers");
    let summary = dir.join("summary.json");
    let file = dir.join("gateway.toml");
    std::fs::write(
        &file,
        format!(
            "# the demo, small and short\n\
             devices = 3\n\
             rate = 5\n\
             noisy-devices = 0\n\
             sink = \"sqlite:{}\"\n\
             duration = \"30s\"\n\
             summary_json = {:?}\n",
            dir.join("never.db").display(),
            summary.display(),
        ),
    )
    .unwrap();
    let out = Command::new(GATEWAY)
        .args(["--config", file.to_str().unwrap(), "--duration", "1500ms"])
        .env("GATEWAY_SINK", "memory")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    // From the file: 3 devices at 5/s.
    assert_eq!(json["devices"], 3, "{json}");
    assert_eq!(json["rate_per_device"], 5.0, "{json}");
    // The environment's sink over the file's: no database file.
    assert_eq!(json["durable"], false, "{json}");
    assert!(!dir.join("never.db").exists());
    // The command line's duration over the file's 30 s.
    assert!(json["run_seconds"].as_f64().unwrap() < 10.0, "{json}");
}

/// Runs the gateway with `--config path`; it must refuse to start (exit
/// 2): its stderr.
fn refused(path: &std::path::Path) -> String {
    let out = Command::new(GATEWAY)
        .args(["--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    stderr
}

#[test]
fn a_bad_setting_names_its_file_and_line() {
    let dir = temp_dir("bad");
    let file = dir.join("gateway.toml");
    write_config(&file, "devices = 3\n\nbatch_age = \"soon\"\n").unwrap();
    let stderr = refused(&file);
    assert!(
        stderr.contains("soon") && stderr.contains(&format!("{}:3", file.display())),
        "{stderr}"
    );
    write_config(&file, "devices = 3\nbatch_sise = 10\n").unwrap();
    let stderr = refused(&file);
    assert!(
        stderr.contains(&format!(
            "{}:2: unknown setting `batch_sise`",
            file.display()
        )),
        "{stderr}"
    );
    let stderr = refused(&dir.join("missing.toml"));
    assert!(stderr.contains("missing.toml"), "{stderr}");
    // Refused at start as on a reload, not clamped.
    std::fs::write(
        &file,
        "devices = 3
device_limit = 0
",
    )
    .unwrap();
    let stderr = refused(&file);
    assert!(
        stderr.contains("not a positive number")
            && stderr.contains(&format!("{}:2", file.display())),
        "{stderr}"
    );
}

/// A gateway started with `--config`, its console read line by line.
struct Running {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(file: &std::path::Path) -> Self {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(GATEWAY)
            .args(["--config", file.to_str().unwrap()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = std::sync::mpsc::channel::<String>();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut running = Self {
            child,
            lines,
            seen: Vec::new(),
        };
        // The header is printed once the gateway runs (SIGHUP is handled
        // from before the start on).
        running.wait_for("  stop");
        running
    }

    fn wait_for(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                let found = line.contains(needle);
                self.seen.push(line);
                if found {
                    return;
                }
            }
        }
        panic!("no line with {needle:?} in {:#?}", self.seen);
    }

    fn hup(&self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
        assert!(status.success());
    }

    /// Waits for the end; the summary and stderr.
    fn finish(self, summary: &std::path::Path) -> (serde_json::Value, String) {
        let out = self.child.wait_with_output().unwrap();
        assert!(out.status.success());
        let json = serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
        (json, String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The demo's settings with a sink that takes 200 ms, for `duration`.
fn reload_settings(
    summary: &std::path::Path,
    timeout: &str,
    devices: u32,
    duration: &str,
) -> String {
    format!(
        "sink = \"memory\"\nsink_latency = \"200ms\"\nsink_timeout = {timeout:?}\n\
         devices = {devices}\nrate = 5\nnoisy_devices = 0\nduration = {duration:?}\n\
         progress = \"plain\"\nsummary_json = {:?}\n",
        summary.display()
    )
}

/// SIGHUP re-reads the file: `--sink-timeout` changes while running (every
/// call timed out before, calls succeed after), a flag that needs a
/// restart is reported as such, and a bad file changes nothing.
#[test]
fn sighup_reloads_what_can_change_and_names_what_cannot() {
    let (file, summary) = config_and_summary("reload");
    // 20 ms against 200 ms of sink latency: every call times out.
    write_config(&file, reload_settings(&summary, "20ms", 2, "8s")).unwrap();
    let mut gw = Running::start(&file);
    std::thread::sleep(Duration::from_millis(1500));
    // A bad value: refused, nothing changes.
    write_config(&file, reload_settings(&summary, "soon", 2, "8s")).unwrap();
    gw.hup();
    std::thread::sleep(Duration::from_millis(500));
    // Then a good one, with a flag that needs a restart.
    write_config(&file, reload_settings(&summary, "2s", 3, "8s")).unwrap();
    gw.hup();
    gw.wait_for("config reloaded: sink_timeout changed; needs a restart: devices");
    let (json, stderr) = gw.finish(&summary);
    assert!(
        stderr.contains("reload refused") && stderr.contains(&format!("{}:3", file.display())),
        "{stderr}"
    );
    // Timeouts before the reload, frames stored after it; the devices
    // stayed at 2 (a restart would make them 3).
    assert!(json["timeouts"].as_u64().unwrap() > 0, "{json}");
    assert!(json["stored"].as_u64().unwrap() > 0, "{json}");
    assert_eq!(json["devices"], 2, "{json}");
}

/// A reload is all or nothing: a good value next to a bad one is not
/// applied either. Here the sink timeout that would let calls through
/// comes with a breaker threshold of 150% (a number, so the file parses;
/// the breaker's validation refuses it).
#[test]
fn a_reload_with_one_bad_value_changes_nothing() {
    let (file, summary) = config_and_summary("reload-mixed");
    // 20 ms against 200 ms of sink latency: every call times out.
    write_config(&file, reload_settings(&summary, "20ms", 2, "6s")).unwrap();
    let gw = Running::start(&file);
    std::thread::sleep(Duration::from_millis(1500));
    let mixed = reload_settings(&summary, "2s", 2, "6s") + "breaker_failure_rate = 150\n";
    write_config(&file, mixed).unwrap();
    gw.hup();
    let (json, stderr) = gw.finish(&summary);
    assert!(
        stderr.contains("reload refused") && stderr.contains("breaker"),
        "{stderr}"
    );
    // The 2 s timeout was not applied: no call got through.
    assert!(json["timeouts"].as_u64().unwrap() > 0, "{json}");
    assert_eq!(json["stored"], 0, "{json}");
}

/// A changed file is read again without a signal (it is looked at every
/// second).
#[test]
fn a_changed_file_is_reloaded_without_a_signal() {
    let (file, summary) = config_and_summary("watch");
    write_config(&file, reload_settings(&summary, "20ms", 2, "6s")).unwrap();
    let mut gw = Running::start(&file);
    write_config(&file, reload_settings(&summary, "2s", 2, "6s")).unwrap();
    gw.wait_for("config reloaded: sink_timeout changed");
    let (json, _) = gw.finish(&summary);
    assert!(json["stored"].as_u64().unwrap() > 0, "{json}");
}

/// Runs the demo for 7 s with the in-memory sink failing `fail_rate` of
/// its attempts and `key = before`; after 1.5 s (2.5 s with `settle`)
/// rewrites the file with `key = after`, signals a reload, waits for the
/// console to report `key` changed, and returns the summary.
fn reload_one(
    key: &str,
    before: &str,
    after: &str,
    fail_rate: f64,
    settle: bool,
) -> serde_json::Value {
    reload_one_on("memory", key, before, after, fail_rate, settle)
}

/// [`reload_one`] with `sink` (the durable path for a database).
fn reload_one_on(
    sink: &str,
    key: &str,
    before: &str,
    after: &str,
    fail_rate: f64,
    settle: bool,
) -> serde_json::Value {
    let (file, summary) = config_and_summary(&format!("reload-{key}-{}", sink.len()));
    let settings = |value: &str| {
        format!(
            "sink = {sink:?}\nsink_fail_rate = {fail_rate}\ndevices = 2\nrate = 5\n\
             noisy_devices = 0\n{key} = {value}\nduration = \"7s\"\n\
             progress = \"plain\"\nsummary_json = {:?}\n",
            summary.display()
        )
    };
    write_config(&file, settings(before)).unwrap();
    let mut gw = Running::start(&file);
    std::thread::sleep(Duration::from_millis(if settle { 2500 } else { 1500 }));
    write_config(&file, settings(after)).unwrap();
    gw.hup();
    gw.wait_for(&format!("config reloaded: {key} changed"));
    gw.finish(&summary).0
}

/// `--device-limit` changes while running: at 0.1 frames/s per device
/// almost every frame is rate limited; after the reload to 100/s the
/// frames are stored (each device kept the permits it had used).
#[test]
fn a_reload_changes_the_per_device_limit() {
    let json = reload_one("device_limit", "0.1", "100", 0.0, false);
    // Before the reload: at most a burst of 1 and 0.1/s per device, so
    // the rest of 2 devices x 5/s was refused. After it, about 5 s at
    // 10 frames/s is stored: far above the 4 or so the old limit allows
    // over the whole run.
    assert!(json["rate_limited"].as_u64().unwrap() >= 5, "{json}");
    assert!(json["stored"].as_u64().unwrap() >= 20, "{json}");
}

/// The durable path (here SQLite) reloads too: its per-device quota of
/// frames per second of device time goes from 1 (0.1/s, rounded up) to
/// 100.
#[test]
fn a_reload_changes_the_durable_paths_device_limit() {
    let db = temp_dir("reload-durable").join("gateway.db");
    let sink = format!("sqlite:{}", db.display());
    let json = reload_one_on(&sink, "device_limit", "0.1", "100", 0.0, false);
    // Before: 1 of each device's 5 frames a second. After, about 5 s at
    // 10 frames/s: far above the 14 the old quota allows over the run.
    assert!(json["rate_limited"].as_u64().unwrap() >= 5, "{json}");
    assert!(json["stored"].as_u64().unwrap() >= 30, "{json}");
}

/// The breaker's threshold changes while running: with 60% of sink
/// attempts failing, about a quarter of calls still fail after their
/// retries; a 90% threshold never opens on that, the 5% a reload sets
/// opens the breaker. (2.5 s before the reload at 10 calls/s: the window
/// holds its 20 calls by then.)
#[test]
fn a_reload_changes_the_breaker_threshold() {
    let json = reload_one("breaker_failure_rate", "90", "5", 0.6, true);
    assert!(json["failed"].as_u64().unwrap() > 0, "{json}");
    assert!(json["breaker_opened"].as_u64().unwrap() >= 1, "{json}");
}

/// The retry layer's attempts change while running: with one attempt no
/// failed sink call is retried; after the reload to three, calls are.
#[test]
fn a_reload_changes_the_retry_attempts() {
    let json = reload_one("retry_attempts", "1", "3", 0.5, false);
    // Failures from the single attempts before the reload, retries after.
    assert!(json["failed"].as_u64().unwrap() > 0, "{json}");
    assert!(json["retries"].as_u64().unwrap() > 0, "{json}");
}

/// A change that needs a restart is reported at every reload until it is
/// undone, not only at the first: the process still runs the old value.
#[test]
fn a_change_that_needs_a_restart_is_reported_until_undone() {
    let (file, summary) = config_and_summary("restart");
    write_config(&file, reload_settings(&summary, "20ms", 2, "6s")).unwrap();
    let mut gw = Running::start(&file);
    write_config(&file, reload_settings(&summary, "2s", 3, "6s")).unwrap();
    gw.hup();
    gw.wait_for("config reloaded: sink_timeout changed; needs a restart: devices");
    write_config(&file, reload_settings(&summary, "1s", 3, "6s")).unwrap();
    gw.hup();
    gw.wait_for("config reloaded: sink_timeout changed; needs a restart: devices");
    write_config(&file, reload_settings(&summary, "1s", 2, "6s")).unwrap();
    gw.hup();
    gw.wait_for("config reloaded: nothing changed");
    let (json, _) = gw.finish(&summary);
    assert_eq!(json["devices"], 2, "{json}");
}
