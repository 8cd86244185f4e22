//! Secrets reach only the services that read them: the systemd unit names
//! exactly the spec's secret keys (the Kubernetes Deployment's
//! `secretKeyRef` variables) and requires its environment file; in compose,
//! each service gets only its own secret variables, by `${VAR}`
//! interpolation, never through a shared `env_file:` and never inlined.

mod common;

use std::collections::BTreeSet;

use iot_deploy::DeploySpec;
use iot_deploy::emit::to_json;
use iot_deploy::generate::{compose, systemd};
use iot_deploy::spec::{Postgres, SecretRef};
use serde_json::Value;

const POSTGRES_PASSWORD: &str = "POSTGRES_PASSWORD";
const GRAFANA_PASSWORD: &str = "GF_SECURITY_ADMIN_PASSWORD";

/// The spec's secret keys, in spec order, each once.
fn spec_keys(spec: &DeploySpec) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for k in spec.secrets.iter().flat_map(|s| &s.keys) {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    keys
}

/// The variables the Kubernetes Deployment (or, for share-group members,
/// StatefulSet; or the Rollout replacing either) takes from Secrets.
fn k8s_secret_keys(spec: &DeploySpec) -> Vec<String> {
    let m = iot_deploy::generate::k8s::manifests(spec)
        .into_iter()
        .find(|m| {
            ["deployment.yaml", "statefulset.yaml", "rollout.yaml"].contains(&m.file.as_str())
        })
        .expect("deployment.yaml, statefulset.yaml or rollout.yaml");
    let doc: Value = serde_json::from_str(&to_json(&m.docs[0])).unwrap();
    doc["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .flat_map(|c| c["env"].as_array().cloned().unwrap_or_default())
        .filter(|e| e["valueFrom"].get("secretKeyRef").is_some())
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

fn environment_files(unit: &str) -> Vec<&str> {
    unit.lines()
        .filter_map(|l| l.strip_prefix("EnvironmentFile="))
        .collect()
}

/// Checks the unit of `spec`; `label` names the spec in failures.
fn check_unit(label: &str, spec: &DeploySpec) {
    let unit = systemd::unit(spec);
    let keys = spec_keys(spec);
    assert_eq!(
        systemd::secret_keys(spec),
        keys,
        "{label}: secret keys of the unit"
    );
    assert_eq!(
        k8s_secret_keys(spec),
        keys,
        "{label}: the unit and the Deployment read the same secrets"
    );
    let files = environment_files(&unit);
    assert_eq!(files.len(), 1, "{label}: one EnvironmentFile=:\n{unit}");
    let named: Vec<&str> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("# Secrets: "))
        .flat_map(|l| l.split(", "))
        .collect();
    if keys.is_empty() {
        assert!(named.is_empty(), "{label}: names secrets:\n{unit}");
        assert!(
            files[0].starts_with('-'),
            "{label}: no secrets, so the file is optional:\n{unit}"
        );
    } else {
        assert_eq!(named, keys, "{label}: the unit's secret list:\n{unit}");
        assert!(
            !files[0].starts_with('-'),
            "{label}: a unit with secrets must require its EnvironmentFile:\n{unit}"
        );
        assert!(
            unit.contains("Required"),
            "{label}: the comment says the file is required:\n{unit}"
        );
    }
    // POSTGRES_PASSWORD_FILE (a credential's path, not the value) is the
    // service's own way to the password.
    let unit_values = unit.replace("POSTGRES_PASSWORD_FILE=", "");
    for foreign in [POSTGRES_PASSWORD, GRAFANA_PASSWORD] {
        if !keys.iter().any(|k| k == foreign) {
            assert!(
                !unit_values.contains(foreign),
                "{label}: the unit mentions {foreign}, which the service does not read:\n{unit}"
            );
        }
    }
}

/// The compose file as JSON.
fn compose_doc(spec: &DeploySpec) -> (Value, String) {
    let files = compose::files(spec);
    let get = |path: &str| {
        files
            .iter()
            .find(|f| f.path == path)
            .unwrap_or_else(|| panic!("no {path}"))
            .contents
            .clone()
    };
    let yaml = get("compose/docker-compose.yaml");
    let body = yaml.strip_prefix("---\n").unwrap_or(&yaml);
    let doc: Value = serde_saphyr::from_str(body).unwrap();
    (doc, get("compose/env.example"))
}

/// Variable names of a service's `environment:` map.
fn env_names(service: &Value) -> BTreeSet<String> {
    service
        .get("environment")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Checks the compose file of `spec`.
fn check_compose(label: &str, spec: &DeploySpec) {
    let (doc, example) = compose_doc(spec);
    let services = doc["services"].as_object().expect("services");
    let app_keys: BTreeSet<String> = spec_keys(spec).into_iter().collect();
    let mut all: BTreeSet<String> = app_keys.clone();
    if spec.dependencies.postgres.is_some() {
        all.insert(POSTGRES_PASSWORD.into());
    }
    if spec.compose.grafana {
        all.insert(GRAFANA_PASSWORD.into());
    }
    for (name, service) in services {
        assert!(
            service.get("env_file").is_none(),
            "{label}: {name} has an env_file (it would get every secret)"
        );
        let own: BTreeSet<String> = if name == &spec.name {
            app_keys.clone()
        } else if name == "postgres" {
            [POSTGRES_PASSWORD.to_string()].into()
        } else if name == "grafana" {
            [GRAFANA_PASSWORD.to_string()].into()
        } else {
            BTreeSet::new()
        };
        let names = env_names(service);
        let secrets: BTreeSet<String> = names.intersection(&all).cloned().collect();
        assert_eq!(secrets, own, "{label}: secret variables of {name}");
        for key in &own {
            let value = service["environment"][key].as_str().unwrap_or_default();
            assert!(
                value.starts_with(&format!("${{{key}:?")) && value.ends_with('}'),
                "{label}: {name}.{key} must be a required ${{{key}}} reference, not {value:?}"
            );
        }
    }
    for name in ["postgres", "grafana"] {
        if let Some(service) = services.get(name) {
            let names = env_names(service);
            for key in &app_keys {
                if key != POSTGRES_PASSWORD && key != GRAFANA_PASSWORD {
                    assert!(!names.contains(key), "{label}: {name} gets {key}");
                }
            }
        }
    }
    let defined: Vec<&str> = example
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.strip_suffix('=').expect("an empty KEY= line"))
        .collect();
    let unique: BTreeSet<String> = defined.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        unique.len(),
        defined.len(),
        "{label}: env.example defines a key twice:\n{example}"
    );
    assert_eq!(unique, all, "{label}: env.example keys:\n{example}");
}

#[test]
fn every_test_spec_keeps_secrets_to_their_services() {
    let variants = common::all_variants();
    assert!(
        variants.iter().any(|(_, s)| !s.secrets.is_empty()),
        "a test spec with secrets"
    );
    assert!(
        variants.iter().any(|(_, s)| s.secrets.is_empty()),
        "a test spec without secrets"
    );
    for (label, spec) in &variants {
        check_unit(label, spec);
        check_compose(label, spec);
    }
}

#[test]
fn gateway_unit_names_its_own_secrets_only() {
    let spec = common::load("gateway.yaml").base;
    let unit = systemd::unit(&spec);
    assert!(unit.contains("\n# Secrets: DATABASE_URL\n"), "{unit}");
    // The MQTT password is a credential file, never an environment value.
    assert!(
        unit.contains("\nEnvironment=\"MQTT_PASSWORD_FILE=%d/mqtt_password\"\n")
            && unit.contains("\nLoadCredential=mqtt:/etc/telemetry-gateway/mqtt\n"),
        "{unit}"
    );
    assert!(!unit.contains("MQTT_PASSWORD="), "{unit}");
    assert_eq!(
        environment_files(&unit),
        ["/etc/telemetry-gateway/telemetry-gateway.env"]
    );
    // The PostgreSQL password: a credential file, never a value.
    assert!(
        unit.contains("\nEnvironment=\"POSTGRES_PASSWORD_FILE=%d/postgres_password\"\n")
            && unit.contains("\nLoadCredential=postgres:/etc/telemetry-gateway/postgres\n"),
        "{unit}"
    );
    let values = unit.replace("POSTGRES_PASSWORD_FILE=", "");
    assert!(!values.contains(POSTGRES_PASSWORD) && !unit.contains(GRAFANA_PASSWORD));
}

fn with_secrets(keys: &[&str]) -> DeploySpec {
    let mut spec = common::load("minimal.toml").base;
    spec.secrets = vec![SecretRef {
        name: "api".into(),
        keys: keys.iter().map(|k| k.to_string()).collect(),
    }];
    spec.dependencies.postgres = Some(Postgres::default());
    spec
}

#[test]
fn constructed_spec_with_secrets_and_postgres() {
    let spec = with_secrets(&["API_TOKEN", "DATABASE_URL"]);
    check_unit("api", &spec);
    check_compose("api", &spec);
    let (doc, _) = compose_doc(&spec);
    let s = &doc["services"];
    assert_eq!(
        s["sensor-api"]["environment"]["API_TOKEN"],
        "${API_TOKEN:?set API_TOKEN in .env}"
    );
    assert!(s["postgres"]["environment"].get("API_TOKEN").is_none());
    assert!(s["grafana"]["environment"].get("DATABASE_URL").is_none());
    assert!(
        s["sensor-api"]["environment"]
            .get(POSTGRES_PASSWORD)
            .is_none()
    );
    assert!(
        s["sensor-api"]["environment"]
            .get(GRAFANA_PASSWORD)
            .is_none()
    );
}

/// A service that itself reads PostgreSQL's password gets it too (it is in
/// its spec), from the one `.env` entry postgres reads.
#[test]
fn a_shared_key_is_defined_once() {
    let spec = with_secrets(&[POSTGRES_PASSWORD]);
    check_unit("shared", &spec);
    check_compose("shared", &spec);
    let (doc, example) = compose_doc(&spec);
    for service in ["sensor-api", "postgres"] {
        assert!(
            doc["services"][service]["environment"]
                .get(POSTGRES_PASSWORD)
                .is_some(),
            "{service}"
        );
    }
    assert_eq!(example.matches("\nPOSTGRES_PASSWORD=\n").count(), 1);
}

/// Another env file name shows in the error message and the template.
#[test]
fn custom_env_file_name() {
    let mut spec = with_secrets(&["API_TOKEN"]);
    spec.compose.env_file = "secrets.env".into();
    let (doc, example) = compose_doc(&spec);
    assert_eq!(
        doc["services"]["sensor-api"]["environment"]["API_TOKEN"],
        "${API_TOKEN:?set API_TOKEN in secrets.env}"
    );
    assert!(example.contains("--env-file"), "{example}");
}

/// Compose substitutes `$VAR` in values: a literal `$` in the spec's `env`
/// is written as `$$`, so the service sees exactly the spec's value.
#[test]
fn dollar_signs_in_env_values_stay_literal() {
    let mut spec = common::load("minimal.toml").base;
    spec.env
        .insert("GREETING".into(), "cost: $5, ${HOME}".into());
    let (doc, _) = compose_doc(&spec);
    let app = &doc["services"][spec.name.as_str()]["environment"]["GREETING"];
    assert_eq!(app.as_str(), Some("cost: $$5, $${HOME}"), "{doc:#?}");
}
