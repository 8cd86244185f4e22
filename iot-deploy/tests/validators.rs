//! The generated files pass the real validators: kubernetes-validate
//! (strict, Kubernetes 1.29 and the newest it ships; raw manifests, every
//! overlay built by the stand-in and by `kubectl kustomize`, and `helm
//! template` output), `helm lint --strict`, hadolint (every runtime), promtool, yamllint,
//! systemd-analyze, and PyYAML (a YAML 1.1 reader) reads every YAML file as
//! the YAML 1.2 reader does. cert-manager, prometheus-operator, Argo
//! Rollouts and KEDA objects are checked against their CRD schemas
//! (`shared/crds/validate.py`) instead of kubernetes-validate. A missing
//! tool is a skip, or a failure under CI=true.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::tools::{require, run};
use iot_deploy::generate::docker::dockerfile_for;
use iot_deploy::generate::{File, Target, render};
use iot_deploy::spec::Runtime;

fn write(dir: &Path, files: &[File]) {
    for f in files {
        let p = dir.join(&f.path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, &f.contents).unwrap();
    }
}

/// Every spec × environment rendered into its own directory.
fn rendered() -> (tempfile::TempDir, Vec<(String, PathBuf)>) {
    let tmp = tempfile::tempdir().unwrap();
    let mut dirs = Vec::new();
    for name in common::SPECS {
        let file = common::load(name);
        let envs = std::iter::once(None).chain(file.environments.keys().map(|e| Some(e.as_str())));
        for env in envs {
            let label = format!("{}-{}", name.replace('.', "_"), env.unwrap_or("base"));
            let dir = tmp.path().join(&label);
            write(&dir, &render(&file, env, &Target::ALL).unwrap());
            dirs.push((label, dir));
        }
    }
    (tmp, dirs)
}

fn files_under(dir: &Path, pred: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if pred(&p) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn is_yaml(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
        && !p.to_string_lossy().contains("/templates/")
}

fn newest_kubernetes(tool: &Path) -> String {
    let (_, help) = run(Command::new(tool).arg("--help"));
    let words: Vec<&str> = help.split_whitespace().collect();
    words
        .windows(3)
        .find(|w| w[0] == "Defaults" && w[1] == "to")
        .map(|w| w[2].trim_end_matches('.').to_string())
        .unwrap_or_else(|| panic!("no default version in kubernetes-validate --help:\n{help}"))
}

#[test]
fn kubernetes_validate_strict() {
    let Some(tool) = require("kubernetes-validate") else {
        return;
    };
    let (tmp, dirs) = rendered();
    let mut manifests: Vec<PathBuf> = Vec::new();
    for (_, dir) in &dirs {
        manifests.extend(files_under(&dir.join("k8s"), &is_yaml));
    }
    // Every overlay, built.
    for name in common::SPECS {
        let file = common::load(name);
        let files = render(&file, None, &[Target::Kustomize]).unwrap();
        for env in iot_deploy::spec::ENVIRONMENTS {
            let out = tmp
                .path()
                .join(format!("overlay-{}-{env}.yaml", name.replace('.', "_")));
            let docs: Vec<String> = common::overlay::build(&files, env)
                .values()
                .map(|d| serde_json::to_string(d).unwrap())
                .collect();
            fs::write(
                &out,
                docs.iter()
                    .map(|d| format!("---\n{d}\n"))
                    .collect::<String>(),
            )
            .unwrap();
            manifests.push(out);
        }
    }
    let crds = assert_kubernetes_valid(&tool, &manifests, "manifests and overlays");
    // Issuer and two Certificates in the mutual-TLS spec's base and three
    // environments, and in its three built overlays.
    assert!(crds >= 6, "only {crds} add-on objects were checked");
}

/// API groups of the add-on kinds (cert-manager, prometheus-operator, Argo
/// Rollouts, KEDA) that kubernetes-validate has no schema for.
const CRD_GROUPS: [&str; 4] = [
    "cert-manager.io/",
    "monitoring.coreos.com/",
    "argoproj.io/",
    "keda.sh/",
];

fn is_crd(doc: &str) -> bool {
    CRD_GROUPS.iter().any(|g| {
        doc.lines()
            .any(|l| l.starts_with(&format!("apiVersion: {g}")))
            // A JSON document (a built overlay): its own apiVersion, not
            // a nested reference like an autoscaler's scaleTargetRef.
            || doc
                .trim_start()
                .starts_with(&format!("{{\"apiVersion\":\"{g}"))
    })
}

/// Splits files of YAML documents into new files under `out`: add-on
/// objects (which kubernetes-validate has no schema for) into `out/crds/`,
/// the rest into files for kubernetes-validate. Returns those files and
/// the number of add-on objects.
fn split_crds(manifests: &[PathBuf], out: &Path) -> (Vec<PathBuf>, usize) {
    fs::create_dir_all(out.join("crds")).unwrap();
    let (mut core, mut crds) = (Vec::new(), 0);
    for (i, path) in manifests.iter().enumerate() {
        let text = fs::read_to_string(path).unwrap();
        let (mut k8s, mut cm) = (String::new(), String::new());
        for doc in format!("\n{text}").split("\n---\n") {
            if !doc
                .lines()
                .any(|l| !l.trim().is_empty() && !l.starts_with('#'))
            {
                continue;
            }
            let target = if is_crd(doc) {
                crds += 1;
                &mut cm
            } else {
                &mut k8s
            };
            target.push_str(&format!("---\n{}\n", doc.trim_end()));
        }
        let core_path = out.join(format!("{i}.yaml"));
        fs::write(&core_path, k8s).unwrap();
        core.push(core_path);
        if !cm.is_empty() {
            fs::write(out.join("crds").join(format!("{i}.yaml")), cm).unwrap();
        }
    }
    (core, crds)
}

/// Validates `manifests` (files of YAML documents): add-on objects against
/// their CRD schemas (`validate.py`), everything else with
/// kubernetes-validate --strict against Kubernetes 1.29 and the newest it
/// ships. Returns the number of add-on objects checked.
fn assert_kubernetes_valid(tool: &Path, manifests: &[PathBuf], what: &str) -> usize {
    let split = tempfile::tempdir().unwrap();
    let (manifests, crds) = split_crds(manifests, split.path());
    if crds > 0 {
        if let Some((python, script)) = common::tools::crd_validator() {
            let (ok, out) = run(Command::new(python)
                .arg(&script)
                .arg(split.path().join("crds")));
            assert!(
                ok && out.contains(&format!("{crds} documents valid, 0 invalid")),
                "validate.py (CRD schemas) on {what}:\n{out}"
            );
        }
    }
    for version in ["1.29.0".to_string(), newest_kubernetes(tool)] {
        let (ok, out) = run(Command::new(tool)
            .args(["-k", &version, "--strict", "--quiet"])
            .args(&manifests));
        assert!(
            ok && !out.contains("ERROR") && !out.contains("WARN"),
            "kubernetes-validate {version} on {what}:\n{out}"
        );
    }
    crds
}

/// Every overlay built by the real kustomize (`kubectl kustomize`), not
/// the in-repo stand-in, then validated strictly.
#[test]
fn kubectl_kustomize_builds_every_overlay() {
    let (Some(kubectl), Some(validate)) = (require("kubectl"), require("kubernetes-validate"))
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut built = Vec::new();
    for name in common::SPECS {
        let file = common::load(name);
        let dir = tmp.path().join(name.replace('.', "_"));
        write(&dir, &render(&file, None, &[Target::Kustomize]).unwrap());
        for env in iot_deploy::spec::ENVIRONMENTS {
            let overlay = files_under(&dir, &|p| {
                p.ends_with(format!("overlays/{env}/kustomization.yaml"))
            });
            assert_eq!(overlay.len(), 1, "{name}: overlay {env}: {overlay:?}");
            let (ok, out) = run(Command::new(&kubectl)
                .arg("kustomize")
                .arg(overlay[0].parent().unwrap()));
            assert!(ok, "kubectl kustomize {name} {env}:\n{out}");
            let kinds = out.lines().filter(|l| l.starts_with("kind: ")).count();
            assert!(kinds >= 3, "{name} {env}: only {kinds} objects:\n{out}");
            let path = tmp
                .path()
                .join(format!("{}-{env}.yaml", name.replace('.', "_")));
            fs::write(&path, out).unwrap();
            built.push(path);
        }
    }
    let crds = assert_kubernetes_valid(&validate, &built, "kustomize overlays");
    assert!(crds >= 3, "only {crds} add-on objects were checked");
}

/// The Helm chart passes `helm lint --strict`, and what `helm template`
/// renders from its default values passes kubernetes-validate --strict.
#[test]
fn helm_lint_and_template() {
    let (Some(helm), Some(validate)) = (require("helm"), require("kubernetes-validate")) else {
        return;
    };
    let (tmp, dirs) = rendered();
    let mut templated = Vec::new();
    for (label, dir) in &dirs {
        let charts = files_under(&dir.join("helm"), &|p| p.ends_with("Chart.yaml"));
        assert_eq!(charts.len(), 1, "{label}: {charts:?}");
        let chart = charts[0].parent().unwrap();
        let (ok, out) = run(Command::new(&helm).args(["lint", "--strict"]).arg(chart));
        assert!(
            ok && out.contains("0 chart(s) failed"),
            "helm lint {label}:\n{out}"
        );
        let (ok, out) = run(Command::new(&helm).args(["template", "release"]).arg(chart));
        assert!(ok, "helm template {label}:\n{out}");
        for kind in ["Service", "ServiceAccount"] {
            assert!(
                out.contains(&format!("kind: {kind}\n")),
                "{label}: no {kind}:\n{out}"
            );
        }
        // The workload: a StatefulSet for share-group members, a Rollout
        // with Argo Rollouts.
        assert!(
            ["Deployment", "StatefulSet", "Rollout"]
                .iter()
                .any(|k| out.contains(&format!("kind: {k}\n"))),
            "{label}: no workload:\n{out}"
        );
        let path = tmp.path().join(format!("helm-{label}.yaml"));
        fs::write(&path, out).unwrap();
        templated.push(path);
    }
    let crds = assert_kubernetes_valid(&validate, &templated, "helm template output");
    assert!(crds >= 3, "only {crds} add-on objects were checked");
}

#[test]
fn hadolint_every_runtime() {
    let Some(tool) = require("hadolint") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for name in common::SPECS {
        let spec = common::load(name).base;
        for rt in Runtime::ALL {
            let p = tmp
                .path()
                .join(format!("{}-{}.Dockerfile", name, rt.as_str()));
            fs::write(&p, dockerfile_for(&spec, rt)).unwrap();
            let (ok, out) = run(Command::new(&tool)
                .args(["--failure-threshold", "style"])
                .arg(&p));
            assert!(
                ok && out.trim().is_empty(),
                "hadolint {name} {}:\n{out}",
                rt.as_str()
            );
        }
    }
}

#[test]
fn promtool_config_rules_and_tests() {
    let Some(tool) = require("promtool") else {
        return;
    };
    let (_tmp, dirs) = rendered();
    for (label, dir) in &dirs {
        for cfg in [
            dir.join("prometheus/prometheus.yml"),
            dir.join("compose/prometheus/prometheus.yml"),
        ] {
            let (ok, out) = run(Command::new(&tool)
                .args(["check", "config", "--syntax-only"])
                .arg(&cfg));
            assert!(
                ok,
                "{label} promtool check config {}:\n{out}",
                cfg.display()
            );
        }
        let rules = files_under(&dir.join("prometheus/rules"), &is_yaml);
        let (ok, out) = run(Command::new(&tool).args(["check", "rules"]).args(&rules));
        assert!(ok, "{label} promtool check rules:\n{out}");
        let tests = files_under(&dir.join("prometheus/tests"), &is_yaml);
        assert!(!tests.is_empty());
        let (ok, out) = run(Command::new(&tool)
            .args(["test", "rules"])
            .args(&tests)
            .current_dir(dir.join("prometheus/tests")));
        assert!(ok, "{label} promtool test rules:\n{out}");
    }
}

#[test]
fn yamllint_every_yaml_file() {
    let Some(tool) = require("yamllint") else {
        return;
    };
    let (_tmp, dirs) = rendered();
    // yamllint's default configuration (line length 80 included), strict:
    // warnings fail too.
    for (label, dir) in &dirs {
        let files = files_under(dir, &is_yaml);
        let (ok, out) = run(Command::new(&tool)
            .args(["-s", "-d", "default"])
            .args(&files));
        assert!(ok, "{label} yamllint:\n{out}");
    }
}

#[test]
fn yaml11_reader_agrees() {
    // yamllint ships PyYAML, a YAML 1.1 reader: `on`, `yes`, `08` unquoted
    // would come back as booleans or numbers there.
    if require("yamllint").is_none() {
        return;
    }
    let (_tmp, dirs) = rendered();
    let script = "import sys, json, yaml\nfor p in sys.argv[1:]:\n    print(json.dumps([p, list(yaml.safe_load_all(open(p)))], default=str))\n";
    for (label, dir) in &dirs {
        let files = files_under(dir, &is_yaml);
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        let (ok, out) = run(Command::new(python).arg("-c").arg(script).args(&files));
        assert!(ok, "{label}: PyYAML failed:\n{out}");
        for line in out.lines() {
            let (path, docs): (String, Vec<serde_json::Value>) =
                serde_json::from_str(line).unwrap();
            let text = fs::read_to_string(&path).unwrap();
            let ours: Vec<serde_json::Value> = format!("\n{text}")
                .split("\n---\n")
                .filter(|d| {
                    d.lines()
                        .any(|l| !l.trim().is_empty() && !l.starts_with('#'))
                })
                .map(|d| serde_saphyr::from_str(d).unwrap())
                .collect();
            assert_eq!(
                docs, ours,
                "{label} {path}: YAML 1.1 and 1.2 readers disagree"
            );
        }
    }
}

#[test]
fn systemd_analyze_verify() {
    let Some(tool) = require("systemd-analyze") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let exe = tmp.path().join("service-binary");
    fs::write(&exe, "#!/bin/sh\n").unwrap();
    Command::new("chmod").arg("+x").arg(&exe).status().unwrap();
    for name in common::SPECS {
        let mut spec = common::load(name).base;
        spec.systemd.exec_path = Some(exe.display().to_string());
        let unit = tmp.path().join(format!("{}.service", spec.name));
        fs::write(&unit, iot_deploy::generate::systemd::unit(&spec)).unwrap();
        let (ok, out) = run(Command::new(&tool).arg("verify").arg(&unit));
        assert!(
            ok && out.trim().is_empty(),
            "{name} systemd-analyze verify:\n{out}"
        );
    }
}

/// The real Mosquitto starts with every spec's generated `mosquitto.conf`
/// (container paths moved to a temporary directory, listeners to free
/// loopback ports) and listens on every listener. TLS needs certificates,
/// so `tests/broker.rs` covers those specs with certificates from the test CA; here
/// the TLS lines are dropped.
#[test]
fn mosquitto_accepts_the_generated_config() {
    if require("mosquitto").is_none() {
        return;
    }
    let mut checked = 0;
    for name in common::SPECS {
        let file = common::load(name);
        let files = render(&file, None, &[Target::Compose]).unwrap();
        let get = |p: &str| files.iter().find(|f| f.path == p);
        let Some(conf) = get("compose/mosquitto/mosquitto.conf") else {
            continue;
        };
        let tls = [
            "cafile ",
            "certfile ",
            "keyfile ",
            "require_certificate ",
            "use_identity_as_username ",
        ];
        if conf
            .contents
            .lines()
            .any(|l| tls.iter().any(|t| l.starts_with(t)))
        {
            continue;
        }
        assert!(
            conf.contents.contains("max_packet_size 262144"),
            "{}",
            conf.contents
        );
        let dir = tempfile::tempdir().unwrap();
        for extra in ["passwd", "acl"] {
            if let Some(f) = get(&format!("compose/mosquitto/{extra}")) {
                fs::create_dir_all(dir.path().join("config")).unwrap();
                fs::write(dir.path().join("config").join(extra), &f.contents).unwrap();
            }
        }
        let broker = common::broker::Broker::start(&conf.contents, dir.path());
        assert!(broker.is_some_and(|b| b.ports.len() >= 2), "{name}");
        checked += 1;
    }
    assert!(
        checked >= 2,
        "only {checked} specs have a plaintext MQTT broker"
    );
}
