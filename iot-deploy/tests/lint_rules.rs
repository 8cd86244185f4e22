//! `iot-deploy check` rules: each rule fires on a spec that breaks it, with
//! its stable id and the object it names, and stays quiet on the clean
//! baseline. A rule that never fires, or fires on the baseline, fails here.

use iot_deploy::lint::{Finding, RULES, lint};
use iot_deploy::{Format, SpecFile};

/// Clean: pinned tag, default hardening and limits, two replicas.
const BASE: &str = r#"
name = "sensor-api"

[image]
repository = "ghcr.io/acme/sensor-api"
tag = "0.3.1"

[scaling]
replicas = 2
"#;

fn lint_text(text: &str) -> Vec<Finding> {
    let file = SpecFile::parse(text, Format::Toml)
        .unwrap_or_else(|e| panic!("spec does not load: {e:?}\n{text}"));
    lint(file.resolve(None).expect("the base spec"))
}

/// Findings on the baseline with `extra` TOML tables appended.
fn findings(extra: &str) -> Vec<Finding> {
    lint_text(&format!("{BASE}\n{extra}"))
}

/// The ids that fired, each once, sorted.
fn ids(findings: &[Finding]) -> Vec<&'static str> {
    let mut ids: Vec<_> = findings.iter().map(|f| f.id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Exactly `id` fires, on `object`, with a message mentioning `hint`.
fn assert_only(extra: &str, id: &str, object: &str, hint: &str) {
    let found = findings(extra);
    assert_eq!(ids(&found), [id], "{found:#?}");
    assert!(
        found
            .iter()
            .all(|f| f.object == object && f.message.contains(hint)),
        "{found:#?}"
    );
}

#[test]
fn the_baseline_is_clean() {
    assert_eq!(findings(""), []);
}

#[test]
fn every_rule_has_a_test_here() {
    let source = include_str!("lint_rules.rs");
    for (id, summary) in RULES {
        assert!(
            source.contains(&format!("\"{id}\"")),
            "rule {id} ({summary}) has no test in this file"
        );
    }
}

#[test]
fn id001_missing_limits() {
    assert_only(
        "[resources.limits]\nmemory = \"none\"\n",
        "ID001",
        "Deployment/sensor-api",
        "no memory limit",
    );
    let both = findings("[resources.limits]\ncpu = \"none\"\nmemory = \"none\"\n");
    assert_eq!(both.iter().filter(|f| f.id == "ID001").count(), 2);
}

#[test]
fn id002_unpinned_image() {
    let text = BASE.replace("tag = \"0.3.1\"", "tag = \"latest\"\nallow_latest = true");
    let found = lint_text(&text);
    assert_eq!(ids(&found), ["ID002"], "{found:#?}");
    assert!(
        found[0].object == "Deployment/sensor-api"
            && found[0].message.contains("ghcr.io/acme/sensor-api:latest"),
        "{found:#?}"
    );
}

#[test]
fn id003_root_user() {
    assert_only(
        "[hardening]\nrun_as_user = 0\n",
        "ID003",
        "Deployment/sensor-api",
        "runs as user 0",
    );
}

#[test]
fn id004_liveness_on_dependencies() {
    assert_only(
        "[probes.liveness]\npath = \"/health/ready\"\n",
        "ID004",
        "Deployment/sensor-api",
        "/health/ready",
    );
}

#[test]
fn id005_secret_in_plain_env_and_in_config_files() {
    assert_only(
        "[env]\nMQTT_PASSWORD = \"hunter2\"\n",
        "ID005",
        "Deployment/sensor-api",
        "MQTT_PASSWORD",
    );
    let found = findings(
        "[config_files.\"app.toml\"]\ncontent = \"[db]\\nurl = \\\"postgres://app:hunter2@db/app\\\"\\n\"\n",
    );
    assert_eq!(ids(&found), ["ID005"], "{found:#?}");
    assert!(
        found[0].object.starts_with("ConfigMap/") && found[0].message.contains("app.toml"),
        "{found:#?}"
    );
    // Kubernetes does not expand `${..}` in a plain value: a secret-named
    // variable is a finding whatever its value.
    let placeholder = findings("[env]\nDB_PASSWORD = \"${DB_PASSWORD}\"\n");
    assert_eq!(ids(&placeholder), ["ID005"], "{placeholder:#?}");
    // Credentials in a URL give a value away; a plain URL does not.
    let url = findings("[env]\nBROKER_URL = \"mqtt://gw:hunter2@broker:1883\"\n");
    assert_eq!(ids(&url), ["ID005"], "{url:#?}");
    assert_eq!(
        findings("[env]\nBROKER_URL = \"mqtt://broker:1883\"\nRUST_LOG = \"info\"\n"),
        []
    );
}

#[test]
fn id006_each_hardening_default_turned_off() {
    for (switch, hint) in [
        ("seccomp_runtime_default", "seccomp"),
        ("read_only_root_filesystem", "writable root filesystem"),
        ("drop_all_capabilities", "capabilities"),
        ("network_policy", "NetworkPolicy"),
        ("pod_disruption_budget", "PodDisruptionBudget"),
    ] {
        let found = findings(&format!("[hardening]\n{switch} = false\n"));
        assert_eq!(ids(&found), ["ID006"], "{switch}: {found:#?}");
        assert!(
            found.iter().any(|f| f.message.contains(hint)),
            "{switch}: {found:#?}"
        );
    }
}

#[test]
fn id007_single_replica_without_autoscaling() {
    let single = BASE.replace("replicas = 2", "replicas = 1");
    let found = lint_text(&single);
    assert_eq!(ids(&found), ["ID007"], "{found:#?}");
    assert_eq!(found[0].object, "Deployment/sensor-api");
    let scaled = single.replace(
        "replicas = 1",
        "replicas = 1\nautoscale = { min = 1, max = 4, cpu_percent = 70 }",
    );
    assert_eq!(lint_text(&scaled), []);
}

#[test]
fn id008_plaintext_broker() {
    assert_only(
        "[dependencies.mqtt]\n",
        "ID008",
        "Deployment/sensor-api",
        "add [dependencies.mqtt.tls]",
    );
    assert_only(
        "[dependencies.mqtt]\nplaintext = \"all\"\n[dependencies.mqtt.tls]\n",
        "ID008",
        "Deployment/sensor-api",
        "plaintext = \"loopback\"",
    );
    // TLS, plaintext on loopback; the password is a file (MQTT_PASSWORD_FILE
    // names a path, not a secret value: no ID005).
    assert_eq!(
        findings("[dependencies.mqtt]\n[dependencies.mqtt.tls]\n"),
        []
    );
    assert_eq!(
        findings("[dependencies.mqtt]\n[dependencies.mqtt.tls]\nmode = \"mutual\"\n"),
        []
    );
}

#[test]
fn id009_autoscaled_share_group() {
    let group = "[dependencies.mqtt]\n[dependencies.mqtt.tls]\n[dependencies.mqtt.share_group]\n";
    // Fixed replicas: clean (the members are a StatefulSet).
    assert_eq!(findings(group), []);
    let scaled = BASE.replace(
        "replicas = 2",
        "replicas = 2\nautoscale = { min = 2, max = 4, cpu_percent = 70 }",
    );
    let found = lint_text(&format!("{scaled}\n{group}"));
    assert_eq!(ids(&found), ["ID009"], "{found:#?}");
    assert_eq!(found[0].object, "StatefulSet/sensor-api");
    assert!(found[0].message.contains("fixed scaling.replicas"));
}

#[test]
fn id009_share_group_under_a_rollout() {
    let group = "[dependencies.mqtt]\n[dependencies.mqtt.tls]\n[dependencies.mqtt.share_group]\n";
    let found = findings(&format!("{group}[rollout]\n"));
    assert_eq!(ids(&found), ["ID009"], "{found:#?}");
    assert_eq!(found[0].object, "Rollout/sensor-api");
    assert!(found[0].message.contains("new client ids"), "{found:#?}");
    // KEDA is an autoscaler too.
    let found = findings(&format!("{group}[scaling.keda]\n"));
    assert_eq!(ids(&found), ["ID009"], "{found:#?}");
    // A Rollout without a share group: the workload rules still apply, clean.
    assert_eq!(findings("[rollout]\n[prometheus_operator]\n"), []);
}

#[test]
fn the_migration_job_is_linted_like_the_other_pods() {
    // The gateway spec's migration Job: hardened, pinned, limited: clean.
    let spec = common_gateway();
    let found = lint(&spec);
    assert!(
        found.iter().all(|f| !f.object.starts_with("Job/")),
        "{found:#?}"
    );
    // An unpinned client image is reported on the Job.
    let mut spec = spec;
    if let Some(p) = spec.dependencies.postgres.as_mut() {
        p.image = "postgres:latest".into();
    }
    let found = lint(&spec);
    assert!(
        found
            .iter()
            .any(|f| f.id == "ID002" && f.object.starts_with("Job/telemetry-gateway-migrate-")),
        "{found:#?}"
    );
}

fn common_gateway() -> iot_deploy::DeploySpec {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/specs/gateway.yaml");
    SpecFile::load(&path).unwrap().base
}
