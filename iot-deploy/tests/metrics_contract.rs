//! Every metric the generated alerts and dashboard query is in the
//! contract (`metrics_contract::ALL_METRICS`), and the probe defaults are
//! iot-observe's paths.

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

#[test]
fn rules_and_dashboard_use_only_contract_metrics() {
    let file = common::load("gateway.yaml");
    let files = render(&file, None, &[Target::Prometheus, Target::Grafana]).unwrap();
    let mut seen = 0;
    for f in files
        .iter()
        .filter(|f| f.path.contains("rules/") || f.path.ends_with(".json"))
    {
        for name in metric_names(&f.contents) {
            let base = name.trim_end_matches("_bucket");
            assert!(
                ALL_METRICS.contains(&base) || base == "up" || base == KUBE_RESTARTS_TOTAL,
                "{}: {name} is not in metrics_contract",
                f.path
            );
            seen += 1;
        }
    }
    assert!(seen > 20, "found the metric selectors ({seen})");
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
