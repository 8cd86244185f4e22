//! Shared helpers for the integration tests.
#![allow(dead_code)]

pub mod broker;
pub mod overlay;
pub mod parity;
pub mod tools;

use std::path::{Path, PathBuf};

use iot_deploy::{DeploySpec, SpecFile};

/// The representative specs under `tests/specs`.
pub const SPECS: [&str; 5] = [
    "minimal.toml",
    "gateway.yaml",
    "hardened-static.toml",
    "mqtt-mutual.toml",
    "mqtt-broker.toml",
];

pub fn spec_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/specs")
        .join(name)
}

pub fn load(name: &str) -> SpecFile {
    SpecFile::load(&spec_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every spec and every environment of it: (label, spec).
pub fn all_variants() -> Vec<(String, DeploySpec)> {
    let mut out = Vec::new();
    for name in SPECS {
        let f = load(name);
        out.push((name.to_string(), f.base.clone()));
        for (env, spec) in &f.environments {
            out.push((format!("{name}@{env}"), spec.clone()));
        }
    }
    out
}

/// The documents of a multi-document YAML text (comment-only ones
/// dropped), read as JSON values.
pub fn yaml_docs(text: &str) -> Vec<serde_json::Value> {
    format!("\n{text}")
        .split("\n---\n")
        .filter(|d| {
            d.lines()
                .any(|l| !l.trim().is_empty() && !l.starts_with('#'))
        })
        .map(|d| serde_saphyr::from_str(d).unwrap_or_else(|e| panic!("{e}\n{d}")))
        .collect()
}
