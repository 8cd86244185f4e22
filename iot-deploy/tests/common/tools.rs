//! Finding the external validators; a missing one fails under CI=true.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
}

fn lookup(name: &str) -> Option<PathBuf> {
    if name == "promtool" {
        if let Some(p) = std::env::var_os("PROMTOOL")
            .map(PathBuf::from)
            .filter(|p| p.is_file())
        {
            return Some(p);
        }
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.push(home().join(".local/bin"));
    dirs.push(home().join(".cache/iot-rs/promtool"));
    // helm, and kubectl where none is installed: scripts/install-k8s-tools.sh.
    if let Some(dir) = std::env::var_os("K8S_TOOLS_CACHE") {
        dirs.push(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        let cache = PathBuf::from(dir);
        dirs.push(cache.join("iot-rs/k8s"));
        dirs.push(cache.join("iot-rs/promtool"));
    }
    dirs.push(home().join(".cache/iot-rs/k8s"));
    // mosquitto (Debian) installs into sbin, off a non-root PATH.
    dirs.push(PathBuf::from("/usr/sbin"));
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// Runs `scripts/install-validators.sh` once (CI only).
fn install() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/install-validators.sh");
        let status = Command::new("bash").arg(&script).status();
        eprintln!("ran {}: {status:?}", script.display());
    });
}

/// The tool's path; `None` (after a skip notice) when it is missing outside CI.
pub fn require(name: &str) -> Option<PathBuf> {
    if let Some(p) = lookup(name) {
        return Some(p);
    }
    if in_ci() {
        install();
        match lookup(name) {
            Some(p) => return Some(p),
            None => panic!("{name} is required in CI (CI=true); run scripts/install-validators.sh"),
        }
    }
    eprintln!("SKIPPED: {name} not found; run scripts/install-validators.sh to test with it");
    None
}

/// Runs a command; returns (success, stdout + stderr).
pub fn run(cmd: &mut Command) -> (bool, String) {
    match cmd.output() {
        Ok(o) => (
            o.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        ),
        Err(e) => (false, format!("cannot run {cmd:?}: {e}")),
    }
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

fn crd_validator_ready(script: &Path) -> bool {
    script.is_file()
        && Command::new(python())
            .args(["-c", "import jsonschema, yaml"])
            .output()
            .is_ok_and(|o| o.status.success())
}

/// The cert-manager (and other) CRD schema validator, `validate.py` of the
/// shared CRD folder (`IOT_CRDS_DIR`, else `shared/crds` next to the
/// workspace), with its Python packages; `None` (after a skip notice) when
/// either is missing outside CI.
pub fn crd_validator() -> Option<(String, PathBuf)> {
    let dir = std::env::var_os("IOT_CRDS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // `../shared/crds` from the workspace root (CI clones the
            // repository next to `shared`).
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("../shared/crds")
        });
    let script = dir.join("validate.py");
    if crd_validator_ready(&script) {
        return Some((python(), script));
    }
    if in_ci() {
        install();
        assert!(
            crd_validator_ready(&script),
            "{} with jsonschema and pyyaml is required in CI (CI=true); set IOT_CRDS_DIR and run scripts/install-validators.sh",
            script.display()
        );
        return Some((python(), script));
    }
    eprintln!(
        "SKIPPED: CRD validation needs {} and `pip install jsonschema pyyaml` (scripts/install-validators.sh)",
        script.display()
    );
    None
}
