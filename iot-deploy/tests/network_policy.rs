//! Issue #15, item 3: every pod the manifests run (the service's and the
//! CronJob's) is selected by a NetworkPolicy restricting both directions,
//! and no ingress rule is open to any source: the metrics port admits the
//! spec's Prometheus pods only, the http port the namespace itself, the
//! ingress controller and the namespaces the spec lists.

mod common;

use iot_deploy::emit::to_json;
use iot_deploy::generate::k8s::manifests;
use iot_deploy::{DeploySpec, Format, SpecFile};
use serde_json::{Value as Json, json};

fn objects(spec: &DeploySpec) -> Vec<Json> {
    manifests(spec)
        .into_iter()
        .flat_map(|m| m.docs)
        .map(|d| serde_json::from_str(&to_json(&d)).unwrap())
        .collect()
}

fn selects(policy: &Json, labels: &Json) -> bool {
    policy["spec"]["podSelector"]["matchLabels"]
        .as_object()
        .is_some_and(|m| m.iter().all(|(k, v)| &labels[k] == v))
}

fn ns_peer(ns: &str) -> Json {
    json!({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}})
}

#[test]
fn every_pod_is_isolated_and_every_ingress_rule_names_its_sources() {
    for (label, spec) in common::all_variants() {
        if !spec.hardening.network_policy {
            continue;
        }
        let objs = objects(&spec);
        let policies: Vec<&Json> = objs
            .iter()
            .filter(|o| o["kind"] == "NetworkPolicy")
            .collect();
        for o in &objs {
            let pod = match o["kind"].as_str() {
                Some("Deployment" | "StatefulSet") => &o["spec"]["template"]["metadata"]["labels"],
                Some("CronJob") => {
                    &o["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
                }
                _ => continue,
            };
            for dir in ["Ingress", "Egress"] {
                assert!(
                    policies.iter().any(|p| selects(p, pod)
                        && p["spec"]["policyTypes"]
                            .as_array()
                            .unwrap()
                            .contains(&json!(dir))),
                    "{label}: the pods of {} {} have no {dir} policy",
                    o["kind"],
                    o["metadata"]["name"]
                );
            }
        }
        for p in &policies {
            for rule in p["spec"]["ingress"].as_array().into_iter().flatten() {
                let from = rule["from"].as_array();
                assert!(
                    from.is_some_and(|f| !f.is_empty()),
                    "{label}: {} admits any source: {rule}",
                    p["metadata"]["name"]
                );
            }
        }
        let allow = policies
            .iter()
            .find(|p| p["metadata"]["name"] == format!("{}-allow", spec.name))
            .unwrap();
        let prometheus = json!({
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
        });
        for rule in allow["spec"]["ingress"].as_array().unwrap() {
            let from = rule["from"].as_array().unwrap();
            if rule["ports"][0]["port"] == "metrics" {
                assert_eq!(from, &vec![prometheus.clone()], "{label}");
            } else {
                assert!(
                    from.contains(&json!({"podSelector": {"matchLabels": {}}})),
                    "{label}"
                );
                assert_eq!(
                    from.contains(&prometheus),
                    spec.ports.metrics.is_none(),
                    "{label}: Prometheus scrapes http only without a metrics port"
                );
                if let Some(i) = &spec.ingress {
                    assert!(from.contains(&ns_peer(i.controller_namespace())), "{label}");
                }
            }
        }
    }
}

#[test]
fn the_sources_come_from_the_spec() {
    let text = r#"
name = "sensor-api"
[image]
repository = "ghcr.io/acme/sensor-api"
tag = "0.3.1"
[ports]
metrics = 9100
http_from_namespaces = ["edge"]
[metrics]
prometheus_namespace = "obs"
prometheus_pod_labels = { "app" = "prom" }
[ingress]
host = "api.example.com"
controller_namespace = "traefik"
"#;
    let spec = SpecFile::parse(text, Format::Toml).unwrap().base;
    let objs = objects(&spec);
    let allow = objs
        .iter()
        .find(|o| o["metadata"]["name"] == "sensor-api-allow")
        .unwrap();
    assert_eq!(
        allow["spec"]["ingress"],
        json!([
            {"from": [{"podSelector": {"matchLabels": {}}}, ns_peer("traefik"), ns_peer("edge")],
             "ports": [{"protocol": "TCP", "port": "http"}]},
            {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "obs"}},
                       "podSelector": {"matchLabels": {"app": "prom"}}}],
             "ports": [{"protocol": "TCP", "port": "metrics"}]},
        ])
    );
}

#[test]
fn bad_sources_are_rejected_at_their_field() {
    let text = "name = \"sensor-api\"\n[image]\nrepository = \"ghcr.io/acme/sensor-api\"\ntag = \"0.3.1\"\n[ports]\nhttp_from_namespaces = [\"Bad NS\"]\n[metrics]\nprometheus_namespace = \"\"\n";
    let err = SpecFile::parse(text, Format::Toml).unwrap_err();
    let paths: Vec<&str> = err.items.iter().map(|d| d.path.as_str()).collect();
    assert!(paths.contains(&"ports.http_from_namespaces[0]"), "{err}");
    assert!(paths.contains(&"metrics.prometheus_namespace"), "{err}");
}
