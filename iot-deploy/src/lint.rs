//! `check` rules over the generated Kubernetes objects, with stable ids.

use std::fmt;

use crate::emit::Value;
use crate::generate::k8s::{manifests, workload_kind};
use crate::metrics_contract::LIVENESS_PATH;
use crate::spec::{DeploySpec, Plaintext};

/// One finding of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The stable rule id, like `ID001`.
    pub id: &'static str,
    /// The object, as `Kind/name`.
    pub object: String,
    /// What is wrong and how to fix it in the spec.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.id, self.object, self.message)
    }
}

/// The rules: id and one-line summary.
pub const RULES: [(&str, &str); 9] = [
    ("ID001", "a container has no CPU or memory limit"),
    (
        "ID002",
        "an image is not pinned (the `latest` tag, or neither tag nor digest)",
    ),
    ("ID003", "a pod runs as root"),
    (
        "ID004",
        "the liveness probe checks dependencies (it would restart every pod when one is down)",
    ),
    (
        "ID005",
        "a secret-looking value in a ConfigMap or a plain environment variable",
    ),
    ("ID006", "a hardening default is turned off"),
    (
        "ID007",
        "a single replica without autoscaling: no availability during rollouts and node drains",
    ),
    (
        "ID008",
        "the MQTT broker accepts plaintext on every interface (no TLS, or plaintext = \"all\")",
    ),
    (
        "ID009",
        "a share group with an autoscaler or a Rollout: a removed member's session keeps holding its share of the messages",
    ),
];

const SECRET_WORDS: [&str; 8] = [
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "private_key",
    "credential",
];

fn secret_like_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase().replace('-', "_");
    SECRET_WORDS.iter().any(|w| n.contains(w))
}

/// A `scheme://user:password@host` URL, or a `password = "x"` style line.
fn secret_like_value(text: &str) -> bool {
    let url = text.split("://").skip(1).any(|rest| {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        authority
            .split_once('@')
            .is_some_and(|(cred, _)| cred.contains(':'))
    });
    let assignment = text.lines().any(|l| {
        let Some((k, v)) = l.split_once(['=', ':']) else {
            return false;
        };
        let v = v.trim().trim_matches(['"', '\'']);
        secret_like_name(k.trim()) && !v.is_empty() && !v.starts_with("${") && !v.starts_with('<')
    });
    url || assignment
}

fn s<'a>(v: &'a Value, path: &str) -> &'a str {
    v.pointer(path).and_then(Value::as_str).unwrap_or("")
}

fn items<'a>(v: &'a Value, path: &str) -> &'a [Value] {
    match v.pointer(path) {
        Some(Value::Seq(items)) => items,
        _ => &[],
    }
}

fn pod_rules(obj: &str, pod: &Value, out: &mut Vec<Finding>) {
    let mut add = |id, message: String| {
        out.push(Finding {
            id,
            object: obj.to_string(),
            message,
        })
    };
    if matches!(
        pod.pointer("securityContext/runAsUser"),
        Some(Value::Int(0))
    ) {
        add(
            "ID003",
            "runs as user 0; set hardening.run_as_user to a non-zero UID (default 65532)".into(),
        );
    }
    if pod.pointer("securityContext/seccompProfile").is_none() {
        add(
            "ID006",
            "no seccomp profile; set hardening.seccomp_runtime_default = true".into(),
        );
    }
    for c in items(pod, "containers") {
        let name = s(c, "name");
        let limits = c.pointer("resources/limits");
        for what in ["cpu", "memory"] {
            if limits.and_then(|l| l.get(what)).is_none() {
                add(
                    "ID001",
                    format!("container {name} has no {what} limit; set resources.limits.{what}"),
                );
            }
        }
        let image = s(c, "image");
        let last = image.rsplit('/').next().unwrap_or(image);
        if last.ends_with(":latest") || image.contains(":latest@") {
            add(
                "ID002",
                format!("image {image} uses the latest tag; pin image.tag or image.digest"),
            );
        } else if !last.contains(':') && !image.contains('@') {
            add("ID002", format!("image {image} has neither tag nor digest"));
        }
        let live = s(c, "livenessProbe/httpGet/path");
        let ready = s(c, "readinessProbe/httpGet/path");
        let lower = live.to_ascii_lowercase();
        if !live.is_empty()
            && live != LIVENESS_PATH
            && (live == ready
                || ["ready", "readiness", "deps", "depend", "db"]
                    .iter()
                    .any(|w| lower.contains(w)))
        {
            add(
                "ID004",
                format!(
                    "liveness probe {live} looks like a dependency check; keep it on {LIVENESS_PATH}"
                ),
            );
        }
        if c.pointer("securityContext/readOnlyRootFilesystem") == Some(&Value::Bool(false)) {
            add(
                "ID006",
                format!(
                    "container {name} has a writable root filesystem; set hardening.read_only_root_filesystem = true"
                ),
            );
        }
        if c.pointer("securityContext/capabilities").is_none() {
            add(
                "ID006",
                format!(
                    "container {name} keeps its capabilities; set hardening.drop_all_capabilities = true"
                ),
            );
        }
        for e in items(c, "env") {
            if let Some(Value::Str(v)) = e.get("value") {
                let n = s(e, "name");
                // `*_FILE` holding an absolute path names where a secret
                // is mounted (MQTT_PASSWORD_FILE), not the secret.
                let path_to_secret = n.ends_with("_FILE") && v.starts_with('/');
                if (secret_like_name(n) && !path_to_secret) || secret_like_value(v) {
                    add(
                        "ID005",
                        format!(
                            "environment variable {n} looks like a secret; move it to `secrets`"
                        ),
                    );
                }
            }
        }
    }
}

/// The acknowledgement of `spec` (for environment `env`, `None` for the
/// base) that covers finding `f`, if any.
pub fn acknowledged<'a>(
    spec: &'a DeploySpec,
    env: Option<&str>,
    f: &Finding,
) -> Option<&'a crate::spec::Acknowledge> {
    spec.lint.acknowledge.iter().find(|a| a.covers(f.id, env))
}

/// Runs every rule on what `spec` generates.
pub fn lint(spec: &DeploySpec) -> Vec<Finding> {
    let mut out = Vec::new();
    let objects: Vec<Value> = manifests(spec).into_iter().flat_map(|m| m.docs).collect();
    let kinds: Vec<&str> = objects.iter().map(|o| s(o, "kind")).collect();
    for o in &objects {
        let obj = format!("{}/{}", s(o, "kind"), s(o, "metadata/name"));
        match s(o, "kind") {
            "Deployment" | "StatefulSet" | "Rollout" => {
                if let Some(pod) = o.pointer("spec/template/spec") {
                    pod_rules(&obj, pod, &mut out);
                }
                let replicas = o.pointer("spec/replicas");
                // The broker's StatefulSet has one replica by design.
                let service = s(o, "metadata/name") == spec.name;
                if service
                    && replicas == Some(&Value::Int(1))
                    && !kinds.contains(&"HorizontalPodAutoscaler")
                {
                    out.push(Finding {
                        id: "ID007",
                        object: obj.clone(),
                        message: "1 replica; set scaling.replicas to 2 or more".into(),
                    });
                }
            }
            "CronJob" => {
                if let Some(pod) = o.pointer("spec/jobTemplate/spec/template/spec") {
                    pod_rules(&obj, pod, &mut out);
                }
            }
            // The PostgreSQL migration Job (dependencies.postgres.migrations).
            "Job" => {
                if let Some(pod) = o.pointer("spec/template/spec") {
                    pod_rules(&obj, pod, &mut out);
                }
            }
            "ConfigMap" => {
                if let Some(Value::Map(data)) = o.get("data") {
                    for (k, v) in data {
                        if secret_like_value(v.as_str().unwrap_or("")) {
                            let message = format!(
                                "config file {k} holds a secret-looking value; reference it from `secrets` instead"
                            );
                            out.push(Finding {
                                id: "ID005",
                                object: obj.clone(),
                                message,
                            });
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let deployment = format!("{}/{}", workload_kind(spec), spec.name);
    if let Some(m) = &spec.dependencies.mqtt {
        if m.plaintext() == Plaintext::All {
            let message = if m.tls.is_none() {
                "MQTT in plaintext: the broker listens without TLS on every interface; add [dependencies.mqtt.tls] (mode = \"server\" or \"mutual\")"
            } else {
                "the broker also accepts plaintext on every interface; set dependencies.mqtt.plaintext = \"loopback\" (or leave it out)"
            };
            out.push(Finding {
                id: "ID008",
                object: deployment.clone(),
                message: message.into(),
            });
        }
    }
    if spec.share_group().is_some() && spec.autoscaled() {
        out.push(Finding {
            id: "ID009",
            object: deployment.clone(),
            message: "the autoscaler removes share-group members whose sessions stay in the group: Mosquitto keeps dealing them their share, which waits until that pod returns or the session expires; use fixed scaling.replicas".into(),
        });
    }
    if spec.share_group().is_some() && spec.rollout.is_some() {
        out.push(Finding {
            id: "ID009",
            object: deployment.clone(),
            message: "a Rollout's pods get new names (so new client ids) on every release: the old members' sessions stay in the share group holding their share until they expire; set dependencies.mqtt.broker.persistent_client_expiration_hours, or acknowledge".into(),
        });
    }
    if !kinds.contains(&"NetworkPolicy") {
        out.push(Finding {
            id: "ID006",
            object: deployment.clone(),
            message: "no NetworkPolicy; set hardening.network_policy = true".into(),
        });
    }
    if !kinds.contains(&"PodDisruptionBudget") {
        out.push(Finding {
            id: "ID006",
            object: deployment,
            message: "no PodDisruptionBudget; set hardening.pod_disruption_budget = true".into(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_detection() {
        assert!(secret_like_value("postgres://app:hunter2@db/app"));
        assert!(secret_like_value("[db]\npassword = \"hunter2\"\n"));
        assert!(!secret_like_value("password = \"${DB_PASSWORD}\""));
        assert!(!secret_like_value("mqtt://broker:1883"));
        assert!(secret_like_name("MQTT_PASSWORD") && !secret_like_name("RUST_LOG"));
    }
}
