//! The chart's operator knobs (issue #15, item 6): `imagePullSecrets`,
//! `podLabels`, `affinity`, `serviceAccount.create/name/annotations`,
//! `ingress.annotations` and `.extraHosts`, `service.type`, `extraEnv`, `extraVolumes`,
//! `extraVolumeMounts`, a `values.schema.json` that refuses misspelt or
//! mistyped overrides, and a `helm test` pod. Real `helm template`, then
//! kubernetes-validate --strict on the result.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::tools::{require, run};
use common::yaml_docs;
use iot_deploy::DeploySpec;
use iot_deploy::generate::helm;
use serde_json::Value as Json;

/// Writes the spec's chart; returns its directory.
fn chart(spec: &DeploySpec, dir: &Path) -> std::path::PathBuf {
    for f in helm::files(spec) {
        let p = dir.join(&f.path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, &f.contents).unwrap();
    }
    dir.join("helm").join(&spec.name)
}

fn template(helm: &Path, chart: &Path, args: &[&str]) -> (bool, String) {
    run(Command::new(helm)
        .args(["template", "rel"])
        .arg(chart)
        .args(args))
}

const KNOBS: &str = r#"
imagePullSecrets: [{name: regcred}]
podLabels: {team: edge}
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms:
        - matchExpressions: [{key: kubernetes.io/arch, operator: In, values: [arm64]}]
serviceAccount: {create: false, name: shared-sa}
ingress: {annotations: {cert-manager.io/cluster-issuer: letsencrypt}, extraHosts: [edge.example.com]}
service: {type: LoadBalancer}
extraEnv: [{name: EXTRA, value: "1"}]
extraVolumes: [{name: cache, emptyDir: {}}]
extraVolumeMounts: [{name: cache, mountPath: /cache}]
"#;

fn pods(docs: &[Json]) -> Vec<(String, Json)> {
    let mut out = Vec::new();
    for d in docs {
        let kind = d["kind"].as_str().unwrap_or_default().to_string();
        let pod = match kind.as_str() {
            "Deployment" | "StatefulSet" | "Rollout" => d.pointer("/spec/template"),
            "CronJob" => d.pointer("/spec/jobTemplate/spec/template"),
            _ => None,
        };
        if let Some(p) = pod {
            if d["metadata"]["name"]
                .as_str()
                .is_some_and(|n| !n.contains("mosquitto"))
            {
                out.push((kind, p.clone()));
            }
        }
    }
    out
}

#[test]
fn every_knob_lands_where_it_belongs() {
    let (Some(helm), validate) = (require("helm"), require("kubernetes-validate")) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let values = tmp.path().join("knobs.yaml");
    fs::write(&values, KNOBS).unwrap();
    for name in ["minimal.toml", "gateway.yaml", "mqtt-broker.toml"] {
        let spec = common::load(name).base;
        let dir = tmp.path().join(name);
        let c = chart(&spec, &dir);
        let (ok, out) = template(&helm, &c, &["-f", values.to_str().unwrap()]);
        assert!(ok, "{name}:\n{out}");
        let docs = yaml_docs(&out);
        let pods = pods(&docs);
        assert!(!pods.is_empty(), "{name}");
        for (kind, p) in &pods {
            let s = &p["spec"];
            assert_eq!(s["imagePullSecrets"][0]["name"], "regcred", "{name} {kind}");
            assert_eq!(s["serviceAccountName"], "shared-sa", "{name} {kind}");
            assert!(s["affinity"]["nodeAffinity"].is_object(), "{name} {kind}");
            let c = &s["containers"][0];
            assert!(
                c["env"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["name"] == "EXTRA"),
                "{name} {kind}"
            );
            assert!(
                c["volumeMounts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m["mountPath"] == "/cache"),
                "{name} {kind}"
            );
            assert!(
                s["volumes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|v| v["name"] == "cache"),
                "{name} {kind}"
            );
            if kind != "CronJob" {
                assert_eq!(p["metadata"]["labels"]["team"], "edge", "{name} {kind}");
            }
        }
        // Pod labels stay off the selectors.
        for d in &docs {
            assert!(
                d.pointer("/spec/selector/matchLabels/team").is_none(),
                "{name}: {}",
                d["kind"]
            );
        }
        // An existing service account: none is created.
        assert!(
            !docs.iter().any(|d| d["kind"] == "ServiceAccount"),
            "{name}"
        );
        let main = docs
            .iter()
            .find(|d| d["kind"] == "Service" && d["metadata"]["name"] == "rel")
            .or_else(|| {
                docs.iter().find(|d| {
                    d["kind"] == "Service" && d["metadata"]["name"] == format!("rel-{}", spec.name)
                })
            })
            .unwrap_or_else(|| panic!("{name}: the main Service"));
        assert_eq!(main["spec"]["type"], "LoadBalancer", "{name}");
        for d in docs.iter().filter(|d| d["kind"] == "Service") {
            let n = d["metadata"]["name"].as_str().unwrap();
            if n.ends_with("-headless") || n.ends_with("-canary") || n.ends_with("-stable") {
                assert_eq!(d["spec"]["type"], "ClusterIP", "{name} {n}");
            }
        }
        if let Some(i) = docs.iter().find(|d| d["kind"] == "Ingress") {
            assert_eq!(
                i["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
                "letsencrypt"
            );
            let host = spec.ingress.as_ref().unwrap().host.as_str();
            assert_eq!(
                i["spec"]["tls"][0]["hosts"],
                serde_json::json!([host, "edge.example.com"])
            );
            let rules: Vec<&Json> = i["spec"]["rules"].as_array().unwrap().iter().collect();
            assert_eq!(rules.len(), 2, "{name}");
            assert_eq!(rules[1]["host"], "edge.example.com");
            assert_eq!(rules[1]["http"], rules[0]["http"]);
        }
        // The core objects stay valid.
        if let Some(validate) = &validate {
            let core: String = docs
                .iter()
                .filter(|d| {
                    let api = d["apiVersion"].as_str().unwrap_or_default();
                    ![
                        "cert-manager.io/",
                        "monitoring.coreos.com/",
                        "argoproj.io/",
                        "keda.sh/",
                    ]
                    .iter()
                    .any(|g| api.starts_with(g))
                })
                .map(|d| format!("---\n{}\n", serde_json::to_string(d).unwrap()))
                .collect();
            let path = tmp.path().join(format!("{name}.core.yaml"));
            fs::write(&path, core).unwrap();
            let (ok, out) = run(Command::new(validate)
                .args(["-k", "1.33.0", "--strict", "--quiet"])
                .arg(&path));
            assert!(
                ok && !out.contains("ERROR") && !out.contains("WARN"),
                "{name}:\n{out}"
            );
        }
    }
}

#[test]
fn the_values_schema_refuses_misspelt_and_mistyped_overrides() {
    let Some(helm) = require("helm") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for (label, spec) in common::all_variants() {
        let dir = tmp.path().join(label.replace(['.', '@'], "_"));
        let c = chart(&spec, &dir);
        // The defaults pass the schema (helm lint --strict checks it too).
        let (ok, out) = template(&helm, &c, &[]);
        assert!(ok, "{label}:\n{out}");
        for (args, message) in [
            (
                ["--set", "replicaCont=3"],
                "Additional property replicaCont is not allowed",
            ),
            (
                ["--set-string", "replicaCount=three"],
                "replicaCount: Invalid type",
            ),
            (
                ["--set", "image.tgs=1.0"],
                "Additional property tgs is not allowed",
            ),
            (
                ["--set-string", "service.httpPort=http"],
                "httpPort: Invalid type",
            ),
        ] {
            let (ok, out) = template(&helm, &c, &args);
            assert!(!ok && out.contains(message), "{label}: {args:?}:\n{out}");
        }
        // Free-form maps take any key.
        let (ok, out) = template(
            &helm,
            &c,
            &[
                "--set",
                "podAnnotations.anything=1",
                "--set",
                "nodeSelector.disk=ssd",
            ],
        );
        assert!(ok, "{label}:\n{out}");
    }
}

#[test]
fn the_helm_test_pod_asks_the_service_and_is_not_one_of_its_pods() {
    let Some(helm) = require("helm") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let spec = common::load("gateway.yaml").base;
    let c = chart(&spec, tmp.path());
    let (ok, out) = template(&helm, &c, &["-s", "templates/tests/test-connection.yaml"]);
    assert!(ok, "{out}");
    let pod = &yaml_docs(&out)[0];
    assert_eq!(pod["metadata"]["annotations"]["helm.sh/hook"], "test");
    let cmd: Vec<&str> = pod["spec"]["containers"][0]["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        cmd.last().copied(),
        Some("http://rel-telemetry-gateway:8080/health/ready")
    );
    assert_eq!(
        pod["metadata"]["labels"]["app.kubernetes.io/instance"],
        "rel-test"
    );
    assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"],
        true
    );
}
