//! The PostgreSQL schema migration (`dependencies.postgres.migrations`): a
//! ConfigMap with the SQL, a Job running `psql` from the postgres image as
//! a non-root user with the password from the service's PostgreSQL Secret,
//! and a NetworkPolicy letting that Job reach PostgreSQL only.

use super::kinds::NetworkPolicySpec;
use super::types::{Labels, Selector};
use super::{Meta, meta, network_egress_base};
use crate::emit::{Value, to_value};
use crate::generate::{labels, sha256};
use crate::spec::{DeploySpec, Postgres};

/// The ConfigMap key (and file name) of the SQL.
pub const SQL_KEY: &str = "migrations.sql";
/// Where the Job mounts the ConfigMap.
pub const SQL_DIR: &str = "/migrations";
/// The user of the official (Debian-based) postgres images: `postgres`, 999.
pub const POSTGRES_UID: u32 = 999;

/// The ConfigMap's name: `<name>-migrations`.
pub fn config_map_name(spec: &DeploySpec) -> String {
    format!("{}-migrations", spec.name)
}

/// The Job pods' `app.kubernetes.io/instance`: `<name>-migrate`.
pub fn instance(spec: &DeploySpec) -> String {
    format!("{}-migrate", spec.name)
}

/// The Job's name in the plain manifests: `<name>-migrate-<8 hex of the
/// SQL's SHA-256>`, so a changed schema is a new Job (a Job's pod template
/// cannot be changed in place) and an unchanged one re-applies as is.
pub fn job_name(spec: &DeploySpec, sql: &str) -> String {
    let hash = sha256::hex(sql.as_bytes());
    format!("{}-{}", instance(spec), &hash[..8])
}

/// The spec's PostgreSQL dependency and its migration SQL, when it has one.
pub fn migration(spec: &DeploySpec) -> Option<(&Postgres, &str)> {
    let p = spec.dependencies.postgres.as_ref()?;
    Some((p, p.migrations_sql.as_deref()?))
}

fn env(name: &str, value: impl Into<Value>) -> Value {
    Value::map().with("name", name).with("value", value)
}

/// The Job's container: `psql` from the postgres image, connecting with
/// the service's settings; the SQL stops at its first error.
pub(crate) fn container(spec: &DeploySpec, p: &Postgres) -> Value {
    let password = Value::map().with(
        "secretKeyRef",
        Value::map()
            .with("name", p.password_secret_for(&spec.name))
            .with("key", super::POSTGRES_PASSWORD_KEY),
    );
    let envs = vec![
        env("PGHOST", p.host.as_str()),
        env("PGPORT", p.port.to_string()),
        env("PGDATABASE", p.database.as_str()),
        env("PGUSER", p.user.as_str()),
        env("PGCONNECT_TIMEOUT", "10"),
        env("PGAPPNAME", instance(spec)),
        Value::map()
            .with("name", "PGPASSWORD")
            .with("valueFrom", password),
    ];
    let quantities = |cpu: &str, memory: &str| Value::map().with("cpu", cpu).with("memory", memory);
    let mount = |name: &str, path: &str, ro: bool| {
        Value::map()
            .with("name", name)
            .with("mountPath", path)
            .with("readOnly", ro)
    };
    Value::map()
        .with("name", "migrate")
        .with("image", p.image.as_str())
        .with("imagePullPolicy", "IfNotPresent")
        .with("command", command())
        .with("env", envs)
        .with(
            "resources",
            Value::map()
                .with("requests", quantities("50m", "64Mi"))
                .with("limits", quantities("500m", "128Mi")),
        )
        .with(
            "securityContext",
            Value::map()
                .with("allowPrivilegeEscalation", false)
                .with("readOnlyRootFilesystem", true)
                .with("runAsNonRoot", true)
                .with("capabilities", Value::map().with("drop", vec!["ALL"])),
        )
        .with(
            "volumeMounts",
            vec![
                mount("migrations", SQL_DIR, true),
                mount("tmp", "/tmp", false),
            ],
        )
}

/// `psql -X -w -v ON_ERROR_STOP=1 -f /migrations/migrations.sql`: no
/// `.psqlrc`, never a password prompt, exit 3 at the first failing
/// statement (a plain `psql -f` carries on and exits 0).
pub fn command() -> Vec<String> {
    ["psql", "-X", "-w", "-v", "ON_ERROR_STOP=1", "-f"]
        .into_iter()
        .map(String::from)
        .chain([format!("{SQL_DIR}/{SQL_KEY}")])
        .collect()
}

/// The Job pod's security context: the postgres image's non-root user.
pub(crate) fn pod_security_context() -> Value {
    Value::map()
        .with("runAsNonRoot", true)
        .with("runAsUser", POSTGRES_UID)
        .with("runAsGroup", POSTGRES_UID)
        .with(
            "seccompProfile",
            Value::map().with("type", "RuntimeDefault"),
        )
}

fn job(spec: &DeploySpec, p: &Postgres, sql: &str) -> Value {
    let volumes = vec![
        Value::map().with("name", "migrations").with(
            "configMap",
            Value::map()
                .with("name", config_map_name(spec))
                .with("defaultMode", 0o444u32),
        ),
        Value::map()
            .with("name", "tmp")
            .with("emptyDir", Value::map().with("sizeLimit", "16Mi")),
    ];
    let pod = Value::map()
        .with("restartPolicy", "Never")
        .with("automountServiceAccountToken", false)
        .with("enableServiceLinks", false)
        .with("securityContext", pod_security_context())
        .with("containers", vec![container(spec, p)])
        .with("volumes", volumes);
    let template = Value::map()
        .with(
            "metadata",
            Value::map().with(
                "labels",
                to_value(&labels::selector_for(spec, &instance(spec))),
            ),
        )
        .with("spec", pod);
    Value::map()
        .with("apiVersion", "batch/v1")
        .with("kind", "Job")
        .with("metadata", to_value(&meta(spec, &job_name(spec, sql))))
        .with(
            "spec",
            Value::map()
                .with("backoffLimit", 4i64)
                .with("activeDeadlineSeconds", 600i64)
                .with("template", template),
        )
}

/// The Job's NetworkPolicy: no ingress; egress to DNS and PostgreSQL only.
pub(crate) fn network_policy(spec: &DeploySpec, p: &Postgres) -> NetworkPolicySpec {
    NetworkPolicySpec {
        pod_selector: Selector {
            match_labels: labels::selector_for(spec, &instance(spec)),
        },
        policy_types: vec!["Ingress", "Egress"],
        ingress: None,
        egress: Some(network_egress_base(&[(p.port, p.cidr.clone())])),
    }
}

/// The ConfigMap, the Job and (with `hardening.network_policy`) its
/// NetworkPolicy; empty without a migration.
pub fn objects(spec: &DeploySpec) -> Vec<Value> {
    let Some((p, sql)) = migration(spec) else {
        return Vec::new();
    };
    let mut cm = super::kinds::Plain::new("v1", "ConfigMap", meta(spec, &config_map_name(spec)));
    cm.data = Some(Labels::from([(SQL_KEY.to_string(), sql.to_string())]));
    let mut out = vec![to_value(&cm), job(spec, p, sql)];
    if spec.hardening.network_policy {
        let md: Meta = meta(spec, &instance(spec));
        out.push(to_value(&super::types::Object {
            api_version: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
            metadata: md,
            spec: Some(network_policy(spec, p)),
        }));
    }
    out
}
