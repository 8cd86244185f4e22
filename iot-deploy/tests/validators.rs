//! The generated files pass the real validators: kubernetes-validate
//! (strict, Kubernetes 1.29 and the newest it ships; raw manifests, every
//! overlay built by the stand-in and by `kubectl kustomize`, and `helm
//! template` output), `helm lint --strict`, hadolint (every runtime), promtool, yamllint,
//! systemd-analyze, and PyYAML (a YAML 1.1 reader) reads every YAML file as
//! the YAML 1.2 reader does. A missing tool is a skip, or a failure under CI=true.

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
    assert_kubernetes_valid(&tool, &manifests, "manifests and overlays");
}

/// Validates `manifests` (files of YAML documents) with kubernetes-validate
/// --strict against Kubernetes 1.29 and the newest it ships.
fn assert_kubernetes_valid(tool: &Path, manifests: &[PathBuf], what: &str) {
    for version in ["1.29.0".to_string(), newest_kubernetes(tool)] {
        let (ok, out) = run(Command::new(tool)
            .args(["-k", &version, "--strict", "--quiet"])
            .args(manifests));
        assert!(
            ok && !out.contains("ERROR") && !out.contains("WARN"),
            "kubernetes-validate {version} on {what}:\n{out}"
        );
    }
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
    assert_kubernetes_valid(&validate, &built, "kustomize overlays");
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
        for kind in ["Deployment", "Service", "ServiceAccount"] {
            assert!(
                out.contains(&format!("kind: {kind}\n")),
                "{label}: no {kind}:\n{out}"
            );
        }
        let path = tmp.path().join(format!("helm-{label}.yaml"));
        fs::write(&path, out).unwrap();
        templated.push(path);
    }
    assert_kubernetes_valid(&validate, &templated, "helm template output");
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
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join(".yamllint");
    for (label, dir) in &dirs {
        let files = files_under(dir, &is_yaml);
        let (ok, out) = run(Command::new(&tool)
            .arg("-s")
            .arg("-c")
            .arg(&config)
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The real Mosquitto starts with the generated `mosquitto.conf` (paths
/// and ports moved to a temporary directory and free loopback ports) and
/// accepts connections on both listeners.
#[test]
fn mosquitto_accepts_the_generated_config() {
    let Some(mosquitto) = require("mosquitto") else {
        return;
    };
    let mut checked = 0;
    for name in common::SPECS {
        let file = common::load(name);
        let files = render(&file, None, &[Target::Compose]).unwrap();
        let Some(conf) = files
            .iter()
            .find(|f| f.path.ends_with("mosquitto/mosquitto.conf"))
        else {
            continue;
        };
        let dir = tempfile::tempdir().unwrap();
        let (clients, health) = (free_port(), free_port());
        let data = dir.path().join("data");
        fs::create_dir(&data).unwrap();
        let passwd = dir.path().join("passwd");
        fs::write(&passwd, "").unwrap();
        let mut text = String::new();
        for line in conf.contents.lines() {
            let line = if line.starts_with("persistence_location ") {
                format!("persistence_location {}/", data.display())
            } else if line.starts_with("password_file ") {
                format!("password_file {}", passwd.display())
            } else if line.starts_with("listener 1880 ") {
                format!("listener {health} 127.0.0.1")
            } else if line.starts_with("listener ") {
                format!("listener {clients} 127.0.0.1")
            } else {
                line.to_string()
            };
            text.push_str(&line);
            text.push('\n');
        }
        assert!(text.contains("max_packet_size 262144"), "{text}");
        let path = dir.path().join("mosquitto.conf");
        fs::write(&path, &text).unwrap();
        let mut child = Command::new(&mosquitto)
            .arg("-c")
            .arg(&path)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let up = |port| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        while !(up(clients) && up(health)) {
            if let Some(status) = child.try_wait().unwrap() {
                let out = child.wait_with_output().unwrap();
                panic!(
                    "{name}: mosquitto exited ({status}) on the generated config:\n{}\n---\n{text}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name}: mosquitto did not listen"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        checked += 1;
    }
    assert!(checked >= 2, "only {checked} specs have an MQTT broker");
}
