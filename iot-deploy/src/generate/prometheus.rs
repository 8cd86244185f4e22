//! Prometheus: scrape configs, alert rules and their unit tests.

use super::File;
use super::alerts::{rule_tests, rules};
use crate::emit::{Value, to_yaml};
use crate::spec::DeploySpec;

fn global(spec: &DeploySpec) -> Value {
    Value::map()
        .with("scrape_interval", spec.metrics.scrape_interval.as_str())
        .with("evaluation_interval", "30s")
}

/// Scrapes the compose service by name.
fn compose_config(spec: &DeploySpec) -> Value {
    let target = format!("{}:{}", spec.name, spec.metrics_port());
    let job = Value::map()
        .with("job_name", spec.name.as_str())
        .with("metrics_path", spec.metrics.path.as_str())
        .with(
            "static_configs",
            vec![Value::map().with("targets", vec![target])],
        );
    Value::map()
        .with("global", global(spec))
        .with("rule_files", vec!["/etc/prometheus/rules/*.yml"])
        .with("scrape_configs", vec![job])
}

/// Finds the service's pods in Kubernetes through the headless Service's
/// DNS records (no Kubernetes API access or RBAC needed, and it works with
/// every Prometheus build); `job` is the service name, as the rules expect.
fn kubernetes_config(spec: &DeploySpec) -> Value {
    let dns = format!(
        "{}.{}.svc.cluster.local",
        super::k8s::headless_name(spec),
        spec.namespace()
    );
    let sd = Value::map()
        .with("names", vec![dns])
        .with("type", "A")
        .with("port", spec.metrics_port());
    let ns = Value::map()
        .with("target_label", "namespace")
        .with("replacement", spec.namespace());
    let job = Value::map()
        .with("job_name", spec.name.as_str())
        .with("metrics_path", spec.metrics.path.as_str())
        .with("dns_sd_configs", vec![sd])
        .with("relabel_configs", vec![ns]);
    let mut jobs = vec![job];
    let ksm = &spec.alerts.kube_state_metrics;
    if !ksm.is_empty() {
        // The restart alert reads kube_pod_container_status_restarts_total.
        jobs.push(Value::map().with("job_name", KUBE_STATE_METRICS_JOB).with(
            "static_configs",
            vec![Value::map().with("targets", vec![ksm.as_str()])],
        ));
    }
    let mut config = Value::map()
        .with("global", global(spec))
        .with("rule_files", vec![format!("rules/{}.rules.yml", spec.name)]);
    if !spec.alerts.alertmanagers.is_empty() {
        let targets: Vec<&str> = spec
            .alerts
            .alertmanagers
            .iter()
            .map(String::as_str)
            .collect();
        config.set(
            "alerting",
            Value::map().with(
                "alertmanagers",
                vec![Value::map().with(
                    "static_configs",
                    vec![Value::map().with("targets", targets)],
                )],
            ),
        );
    }
    config.with("scrape_configs", Value::Seq(jobs))
}

/// The scrape job of kube-state-metrics in the in-cluster config.
pub(crate) const KUBE_STATE_METRICS_JOB: &str = "kube-state-metrics";

/// Files for the compose stack's Prometheus.
pub(crate) fn compose_files(spec: &DeploySpec) -> Vec<File> {
    // Compose runs no kube-state-metrics: no restart alert, no absent() for it.
    let mut compose = spec.clone();
    compose.alerts.kube_state_metrics.clear();
    let spec = &compose;
    vec![
        File::new(
            "compose/prometheus/prometheus.yml",
            to_yaml(&compose_config(spec)),
        ),
        File::new(
            format!("compose/prometheus/rules/{}.rules.yml", spec.name),
            to_yaml(&rules(spec)),
        ),
    ]
}

/// Scrape config for Kubernetes, alert rules and `promtool test rules` cases.
pub fn files(spec: &DeploySpec) -> Vec<File> {
    let rule_file = format!("rules/{}.rules.yml", spec.name);
    vec![
        File::new(
            "prometheus/prometheus.yml",
            to_yaml(&kubernetes_config(spec)),
        ),
        File::new(format!("prometheus/{rule_file}"), to_yaml(&rules(spec))),
        File::new(
            format!("prometheus/tests/{}.test.yml", spec.name),
            to_yaml(&rule_tests(spec, &format!("../{rule_file}"))),
        ),
    ]
}
