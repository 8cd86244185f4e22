//! The gateway binary's layered configuration: `--config FILE`, then the
//! environment, then the command line.

use std::process::Command;

const GATEWAY: &str = env!("CARGO_BIN_EXE_gateway");

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("iot-gw-config-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
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
    std::fs::write(&file, "devices = 3\n\nbatch_age = \"soon\"\n").unwrap();
    let stderr = refused(&file);
    assert!(
        stderr.contains("soon") && stderr.contains(&format!("{}:3", file.display())),
        "{stderr}"
    );
    std::fs::write(&file, "devices = 3\nbatch_sise = 10\n").unwrap();
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
}
