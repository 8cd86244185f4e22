//! The plain manifests and `helm template` output as objects keyed by
//! (kind, name), for the helm-vs-raw parity tests.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use iot_deploy::DeploySpec;
use iot_deploy::emit::to_json;
use iot_deploy::generate::k8s::manifests;
use iot_deploy::generate::{File, helm};
use serde_json::Value as Json;

use super::tools::run;

/// Objects by (kind, name).
pub type Objects = BTreeMap<(String, String), Json>;

/// An object's (kind, name).
pub fn key(d: &Json) -> (String, String) {
    let s = |p: &str| {
        d.pointer(p)
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string()
    };
    (s("/kind"), s("/metadata/name"))
}

/// The plain manifests, by (kind, name).
pub fn raw(spec: &DeploySpec) -> Objects {
    manifests(spec)
        .into_iter()
        .flat_map(|m| m.docs)
        .map(|d| serde_json::from_str::<Json>(&to_json(&d)).unwrap())
        .map(|j| (key(&j), j))
        .collect()
}

/// `helm template <name> <chart>` of the spec's chart as text: release
/// name = the spec's name, so the chart's names are the spec's.
pub fn helm_template_text(spec: &DeploySpec, helm_bin: &Path) -> String {
    let tmp = tempfile::tempdir().unwrap();
    for File { path, contents, .. } in helm::files(spec) {
        let p = tmp.path().join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, contents).unwrap();
    }
    let chart = tmp.path().join("helm").join(&spec.name);
    let (ok, out) = run(Command::new(helm_bin)
        .args(["template", &spec.name])
        .arg(&chart)
        .args(["--namespace", spec.namespace()]));
    assert!(ok, "helm template {}:\n{out}", spec.name);
    out
}

/// `helm template` output by (kind, name).
pub fn helm_template(spec: &DeploySpec, helm_bin: &Path) -> Objects {
    super::yaml_docs(&helm_template_text(spec, helm_bin))
        .into_iter()
        .map(|j| (key(&j), j))
        .collect()
}

/// Drops what only says who rendered the object: the namespace (Helm
/// leaves it to `--namespace`), `helm.sh/chart` and `managed-by`.
pub fn normalize(v: &mut Json) {
    match v {
        Json::Object(m) => {
            if let Some(Json::Object(meta)) = m.get_mut("metadata") {
                meta.remove("namespace");
            }
            if let Some(Json::Object(labels)) = m.get_mut("labels") {
                labels.remove("helm.sh/chart");
                labels.remove("app.kubernetes.io/managed-by");
            }
            m.values_mut().for_each(normalize);
        }
        Json::Array(a) => a.iter_mut().for_each(normalize),
        _ => {}
    }
}

/// Asserts that Helm's object `got` is the raw `want`, normalized.
pub fn assert_same(label: &str, k: &(String, String), got: &Json, want: &Json) {
    let (mut got, mut want) = (got.clone(), want.clone());
    normalize(&mut want);
    normalize(&mut got);
    assert_eq!(
        got,
        want,
        "{label}: {k:?} differs\nhelm: {}\nraw: {}",
        serde_json::to_string_pretty(&got).unwrap(),
        serde_json::to_string_pretty(&want).unwrap()
    );
}
