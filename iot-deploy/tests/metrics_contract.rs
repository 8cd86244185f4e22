//! Every metric the generated alerts, dashboard, rollout analysis and KEDA
//! trigger query is in the contract (`metrics_contract::ALL_METRICS`), and
//! the probe defaults are iot-observe's paths.

mod common;

use iot_deploy::generate::{Target, render};
use iot_deploy::metrics_contract::{ALL_METRICS, KUBE_RESTARTS_TOTAL};

/// Names followed by `{` in PromQL text.
fn metric_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes: Vec<char> = text.chars().collect();
    for (i, c) in bytes.iter().enumerate() {
        if *c != '{' {
            continue;
        }
        let start = bytes[..i]
            .iter()
            .rposition(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
            .map_or(0, |p| p + 1);
        let name: String = bytes[start..i].iter().collect();
        if name.len() > 1 && name.contains('_') || name == "up" {
            out.push(name);
        }
    }
    out
}

fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

#[test]
fn rules_and_dashboard_use_only_contract_metrics() {
    let mut files = Vec::new();
    for name in ["gateway.yaml", "hardened-static.toml"] {
        let targets = [
            Target::Prometheus,
            Target::Grafana,
            Target::K8s,
            Target::Helm,
        ];
        files.extend(render(&common::load(name), None, &targets).unwrap());
    }
    // The rule file, the dashboard, and the add-on objects' queries
    // (PrometheusRule, AnalysisTemplate, ScaledObject, in raw and Helm form).
    let queries = [
        "rules/",
        ".json",
        "k8s/monitoring.yaml",
        "k8s/rollout.yaml",
        "k8s/scaledobject.yaml",
        "/values.yaml",
    ];
    let mut seen = 0;
    for f in files
        .iter()
        .filter(|f| queries.iter().any(|q| f.path.contains(q)))
    {
        // The strings of the file, as a reader sees them (the emitter folds
        // long ones over several lines).
        let text = if f.path.ends_with(".json") {
            f.contents.clone()
        } else {
            let mut all = Vec::new();
            for d in common::yaml_docs(&f.contents) {
                strings(&d, &mut all);
            }
            all.join("\n")
        };
        for name in metric_names(&text) {
            let base = name.trim_end_matches("_bucket");
            assert!(
                ALL_METRICS.contains(&base) || base == "up" || base == KUBE_RESTARTS_TOTAL,
                "{}: {name} is not in metrics_contract",
                f.path
            );
            seen += 1;
        }
    }
    assert!(seen > 60, "found the metric selectors ({seen})");
}

#[test]
fn probe_defaults_are_iot_observe_paths() {
    let text = &render(&common::load("minimal.toml"), None, &[Target::K8s]).unwrap();
    let d = &text
        .iter()
        .find(|f| f.path == "k8s/deployment.yaml")
        .unwrap()
        .contents;
    for p in [
        "path: /health/live",
        "path: /health/ready",
        "path: /health/startup",
        "prometheus.io/path: /metrics",
    ] {
        assert!(d.contains(p), "{p}");
    }
    assert!(d.contains("runAsUser: 65532"));
}
