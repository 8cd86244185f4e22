//! Shared by the examples crate's tests: `promtool check metrics` and the
//! metric table of `docs/observability.md`.
#![allow(dead_code)] // each test binary uses a part

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// promtool from `$PROMTOOL`, `PATH` or the cache `scripts/install-promtool.sh`
/// fills; `None` (with a notice) outside CI, a panic with `CI=true`.
pub fn promtool() -> Option<PathBuf> {
    let from_env = std::env::var_os("PROMTOOL").map(PathBuf::from);
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("promtool"));
    let cache = std::env::var_os("HOME")
        .map(|home| Path::new(&home).join(".cache/iot-rs/promtool/promtool"));
    let found = from_env
        .into_iter()
        .chain(on_path)
        .chain(cache)
        .find(|p| p.is_file());
    if found.is_none() {
        let msg = "promtool not found (set PROMTOOL or run scripts/install-promtool.sh)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
        eprintln!("skipping the promtool lint: {msg}");
    }
    found
}

/// Pipes `text` through `promtool check metrics` and panics on any finding.
pub fn assert_promtool_clean(text: &str) {
    let Some(promtool) = promtool() else { return };
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", promtool.display()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let findings =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && findings.trim().is_empty(),
        "promtool check metrics:\n{findings}\n---\n{text}"
    );
}

/// The metric table of `docs/observability.md`: (name, source column).
pub fn documented_metrics() -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/observability.md");
    let docs = std::fs::read_to_string(&path).unwrap();
    docs.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            // | `name` | type | labels | source | meaning |
            let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let source = cells.get(4)?;
            Some((name.to_owned(), (*source).to_owned()))
        })
        .collect()
}

/// Metric families in an exposition (`# TYPE` lines).
pub fn exported_families(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Every family in `text` is in the docs table, with HELP text.
pub fn assert_all_documented(text: &str) {
    let documented: BTreeSet<String> = documented_metrics().into_iter().map(|(n, _)| n).collect();
    assert!(
        documented.len() >= 30,
        "docs table not found: {documented:?}"
    );
    for family in exported_families(text) {
        assert!(
            documented.contains(&family),
            "{family} is exported but missing from docs/observability.md's table"
        );
        assert!(
            text.contains(&format!("# HELP {family} ")),
            "{family} has no HELP text"
        );
    }
}
