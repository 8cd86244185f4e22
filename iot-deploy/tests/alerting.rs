//! Issue #15, item 4: alerts reach an Alertmanager, every metric an alert
//! reads is scraped, and a vanished scrape target alerts (`absent()`).
//! `promtool check config|rules` and `test rules` run in tests/validators.rs.

mod common;

use common::yaml_docs;
use iot_deploy::generate::{File, Target, render};
use iot_deploy::{Format, SpecFile};
use serde_json::Value as Json;

fn get(files: &[File], path: &str) -> Json {
    let f = files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("no {path}"));
    yaml_docs(&f.contents).remove(0)
}

fn check(label: &str, f: &SpecFile) {
    let spec = &f.base;
    let files = render(f, None, &[Target::Prometheus, Target::Compose]).unwrap();
    let config = get(&files, "prometheus/prometheus.yml");
    let rules = get(&files, &format!("prometheus/rules/{}.rules.yml", spec.name));
    let tests = get(&files, &format!("prometheus/tests/{}.test.yml", spec.name));
    // Alerts go to the configured Alertmanagers.
    let targets = &config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"];
    assert_eq!(
        targets,
        &serde_json::json!(spec.alerts.alertmanagers),
        "{label}"
    );
    let jobs: Vec<&str> = config["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_name"].as_str().unwrap())
        .collect();
    let exprs: Vec<(&str, &str)> = rules["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["alert"].as_str().unwrap(), r["expr"].as_str().unwrap()))
        .collect();
    // kube-state-metrics metrics only with its scrape job.
    let uses_ksm = exprs.iter().any(|(_, e)| e.contains("kube_"));
    assert_eq!(
        uses_ksm,
        jobs.contains(&"kube-state-metrics"),
        "{label}: {jobs:?}"
    );
    // One absent() rule per scrape job, each with a promtool case that fires.
    for job in &jobs {
        let want = format!("absent(up{{job=\"{job}\"}})");
        let (alert, _) = exprs
            .iter()
            .find(|(_, e)| *e == want)
            .unwrap_or_else(|| panic!("{label}: no {want}"));
        let fires = tests["tests"].as_array().unwrap().iter().any(|t| {
            t["alert_rule_test"].as_array().unwrap().iter().any(|c| {
                c["alertname"] == *alert && !c["exp_alerts"].as_array().unwrap().is_empty()
            })
        });
        assert!(fires, "{label}: no promtool case fires {alert}");
    }
    // Compose's Prometheus scrapes no kube-state-metrics: no rule needs it.
    let compose = get(
        &files,
        &format!("compose/prometheus/rules/{}.rules.yml", spec.name),
    );
    let text = compose.to_string();
    assert!(
        !text.contains("kube_") && !text.contains("kube-state-metrics"),
        "{label}"
    );
}

#[test]
fn alerts_are_routed_scraped_and_absent_targets_alert() {
    for name in common::SPECS {
        check(name, &common::load(name));
    }
    let base = "name = \"sensor-api\"\n[image]\nrepository = \"ghcr.io/acme/sensor-api\"\ntag = \"0.3.1\"\n[alerts]\n";
    let custom = SpecFile::parse(
        &format!("{base}alertmanagers = [\"am-0.obs:9093\", \"am-1.obs:9093\"]\nkube_state_metrics = \"\"\n"),
        Format::Toml,
    )
    .unwrap();
    check("custom", &custom);
    let err = SpecFile::parse(
        &format!("{base}alertmanagers = [\"no port\"]\n"),
        Format::Toml,
    )
    .unwrap_err();
    assert!(
        err.items
            .iter()
            .any(|d| d.path == "alerts.alertmanagers[0]"),
        "{err}"
    );
}
