//! The Helm chart's `Chart.yaml` and `values.yaml`.

use crate::emit::to_value;
use crate::emit::{Value, to_yaml};
use crate::generate::k8s::cert_manager::{
    DURATION, RENEW_BEFORE, broker_subject, client_subject, private_key,
};
use crate::generate::k8s::{self, mqtt_sources, platform, workload_env};
use crate::spec::{DeploySpec, ProbeKind, Resources};
use crate::spec::{IssuerKind, MqttTls};

/// `Chart.yaml`.
pub(crate) fn chart(spec: &DeploySpec) -> String {
    let desc = if spec.description.is_empty() {
        format!("The {} service", spec.name)
    } else {
        spec.description.clone()
    };
    to_yaml(
        &Value::map()
            .with("apiVersion", "v2")
            .with("name", spec.name.as_str())
            .with("description", desc)
            .with("type", "application")
            .with("version", "0.1.0")
            .with("appVersion", spec.image.version()),
    )
}

fn quantities(cpu: Option<&str>, mem: Option<&str>) -> Value {
    let mut m = Value::map();
    if let Some(c) = cpu {
        m.set("cpu", c);
    }
    if let Some(v) = mem {
        m.set("memory", v);
    }
    m
}

/// `resources`: requests and limits (`"none"` left out).
fn resources(r: &Resources) -> Value {
    Value::map()
        .with("requests", quantities(r.request_cpu(), r.request_memory()))
        .with("limits", quantities(r.limit_cpu(), r.limit_memory()))
}

fn probe(spec: &DeploySpec, kind: ProbeKind) -> Value {
    let p = spec.probes.resolved(kind);
    Value::map()
        .with("path", p.path)
        .with("initialDelaySeconds", p.initial_delay_seconds)
        .with("periodSeconds", p.period_seconds)
        .with("timeoutSeconds", p.timeout_seconds)
        .with("failureThreshold", p.failure_threshold)
}

/// `mqtt`: the Secrets projected into the service's MQTT directory, and
/// the cert-manager objects.
fn mqtt(spec: &DeploySpec) -> Value {
    let sources: Vec<Value> = mqtt_sources(spec).iter().map(to_value).collect();
    let mut cm = Value::map();
    let m = spec.dependencies.mqtt.as_ref();
    match m.and_then(|m| m.tls.as_ref().map(|t| (m, t))) {
        Some((
            m,
            tls @ MqttTls {
                cert_manager: Some(c),
                ..
            },
        )) => {
            let name = &spec.name;
            cm.set("enabled", true)
                .set("createIssuer", c.issuer_kind == IssuerKind::Issuer)
                .set("issuer", c.issuer_for(name))
                .set("issuerKind", c.issuer_kind.as_str())
                .set("caSecret", c.ca_secret_for(name))
                .set("duration", DURATION)
                .set("renewBefore", RENEW_BEFORE)
                .set("privateKey", private_key())
                .set(
                    "broker",
                    Value::map()
                        .with("secretName", tls.broker_secret_for(name))
                        .with("subject", broker_subject(spec, m)),
                )
                .set(
                    "client",
                    Value::map()
                        .with("secretName", tls.client_secret_for(name))
                        .with("subject", client_subject(m, name)),
                );
        }
        _ => {
            cm.set("enabled", false);
        }
    }
    let group = match spec.share_group() {
        Some(g) => Value::map()
            .with("enabled", true)
            .with("clientIdEnv", g.client_id_env.as_str()),
        None => Value::map().with("enabled", false),
    };
    Value::map()
        .with("secretSources", Value::Seq(sources))
        .with("certManager", cm)
        .with("broker", broker(spec))
        .with("shareGroup", group)
}

/// `mqtt.broker`: the broker's objects in the chart, from the same
/// functions as the plain manifests (names, config text, volume sources).
fn broker(spec: &DeploySpec) -> Value {
    let Some(m) = spec.cluster_broker() else {
        return Value::map().with("enabled", false);
    };
    let n = k8s::broker::BrokerNames::of(spec, m);
    let ports: Vec<Value> = m
        .client_ports()
        .into_iter()
        .map(|(name, port)| Value::map().with("name", name).with("port", port))
        .collect();
    let sources: Vec<Value> = k8s::broker::config_sources(m, &n)
        .iter()
        .map(to_value)
        .collect();
    Value::map()
        .with("enabled", true)
        .with("name", n.service.as_str())
        .with("image", m.image.as_str())
        .with("uid", k8s::broker::BROKER_UID)
        .with("ports", Value::Seq(ports))
        .with("clientPort", m.client_port())
        .with("config", k8s::broker::config(spec, m))
        .with("configSources", Value::Seq(sources))
        .with("resources", resources(&m.broker.resources))
        .with(
            "storage",
            Value::map().with("size", m.broker.storage.as_str()).with(
                "storageClassName",
                m.broker.storage_class.clone().unwrap_or_default(),
            ),
        )
        .with("deviceCidrs", m.broker.device_cidrs.clone())
}

/// `postgres`: the password Secret projected for the service, and the
/// migration Job's SQL, container and egress (from the same functions as
/// the plain manifests).
fn postgres(spec: &DeploySpec) -> Value {
    let sources: Vec<Value> = k8s::postgres_sources(spec).iter().map(to_value).collect();
    let mut m = Value::map();
    match k8s::migrations::migration(spec) {
        Some((p, sql)) => {
            let policy = k8s::migrations::network_policy(spec, p);
            m.set("enabled", true)
                .set("sql", sql)
                .set("container", k8s::migrations::container(spec, p))
                .set(
                    "podSecurityContext",
                    k8s::migrations::pod_security_context(),
                )
                .set("egress", to_value(&policy.egress));
        }
        None => {
            m.set("enabled", false);
        }
    }
    Value::map()
        .with("secretSources", Value::Seq(sources))
        .with("migrations", m)
}

/// `prometheusOperator`: the ServiceMonitor's settings and the rule
/// groups, from the same functions as the plain manifests and rule file.
fn prometheus_operator(spec: &DeploySpec) -> Value {
    let Some(op) = &spec.prometheus_operator else {
        return Value::map().with("enabled", false);
    };
    let groups = crate::generate::alerts::rules(spec)
        .get("groups")
        .cloned()
        .unwrap_or(Value::Seq(Vec::new()));
    Value::map()
        .with("enabled", true)
        .with("labels", to_value(&op.labels))
        .with("job", spec.name.as_str())
        .with("interval", spec.metrics.scrape_interval.as_str())
        .with("podTargetLabels", platform::pod_target_labels(spec))
        .with("ruleGroups", groups)
}

/// `rollout`: the Rollout's strategy settings and the analysis metrics.
fn rollout(spec: &DeploySpec) -> Value {
    let Some(r) = &spec.rollout else {
        return Value::map()
            .with("enabled", false)
            .with("services", Value::Seq(Vec::new()));
    };
    Value::map()
        .with("enabled", true)
        .with("strategy", r.strategy.as_str())
        .with(
            "trafficRouting",
            r.traffic.map(|t| t.as_str()).unwrap_or_default(),
        )
        .with("virtualService", r.virtual_service_for(&spec.name))
        .with(
            "autoPromotion",
            Value::map()
                .with("enabled", r.auto_promotion_seconds.is_some())
                .with("seconds", r.auto_promotion_seconds.unwrap_or(0)),
        )
        .with("services", platform::strategy_services(spec))
        .with("steps", platform::canary_steps(r))
        .with("analysisMetrics", platform::analysis_metrics(spec, r))
}

/// `keda`: the ScaledObject's bounds and trigger.
fn keda(spec: &DeploySpec) -> Value {
    match (&spec.scaling.keda, platform::keda_trigger(spec)) {
        (Some(k), Some(t)) => Value::map()
            .with("enabled", true)
            .with("minReplicas", k.min)
            .with("maxReplicas", k.max)
            .with("triggers", vec![t]),
        _ => Value::map().with("enabled", false),
    }
}

/// The values: every knob the templates read, defaulting to the spec.
fn values_tree(spec: &DeploySpec) -> Value {
    let h = &spec.hardening;
    let mut env = Value::map();
    for e in workload_env(spec).into_iter().filter(|e| e.value.is_some()) {
        env.set(e.name, e.value.unwrap_or_default());
    }
    let secrets: Vec<Value> = spec
        .secrets
        .iter()
        .map(|s| {
            Value::map()
                .with("name", s.name.as_str())
                .with("keys", s.keys.clone())
        })
        .collect();
    let files: Value = Value::Map(
        spec.config_files
            .iter()
            .map(|(k, f)| (k.clone(), Value::from(f.text())))
            .collect(),
    );
    let a = spec.scaling.autoscale.clone().unwrap_or_default();
    let ing = spec.ingress.clone().unwrap_or_default();
    let (http_from, metrics_from) = k8s::ingress_peers(spec);
    let mut egress_ports: Vec<Value> = Vec::new();
    let d = &spec.dependencies;
    for (port, cidr) in [
        // The cluster broker has its own egress rule (to its pods only).
        d.mqtt
            .as_ref()
            .filter(|_| spec.cluster_broker().is_none())
            .map(|m| (m.client_port(), m.cidr.clone())),
        d.postgres.as_ref().map(|p| (p.port, p.cidr.clone())),
        d.redis.as_ref().map(|x| (x.port, x.cidr.clone())),
    ]
    .into_iter()
    .flatten()
    {
        // The same rule as the plain manifests': the CIDR when given.
        let mut rule = Value::map().with("port", port);
        if let Some(c) = cidr {
            rule.set("cidr", c);
        }
        egress_ports.push(rule);
    }
    let cron = spec.cronjob.clone().unwrap_or_default();
    Value::map()
        .with("nameOverride", "")
        .with("fullnameOverride", "")
        .with(
            "image",
            Value::map()
                .with("repository", spec.image.repository.as_str())
                .with("tag", spec.image.tag.clone().unwrap_or_default())
                .with("digest", spec.image.digest.clone().unwrap_or_default())
                .with("pullPolicy", spec.image.pull_policy.as_str()),
        )
        .with("replicaCount", spec.scaling.replicas)
        .with(
            "autoscaling",
            Value::map()
                .with("enabled", spec.scaling.autoscale.is_some())
                .with("minReplicas", a.min)
                .with("maxReplicas", a.max)
                .with("targetCPUUtilizationPercentage", a.cpu_percent),
        )
        .with("resources", resources(&spec.resources))
        .with(
            "service",
            Value::map()
                .with("type", "ClusterIP")
                .with("httpPort", spec.ports.http)
                .with("metricsPort", spec.ports.metrics.unwrap_or(0)),
        )
        .with(
            "metrics",
            Value::map().with("path", spec.metrics.path.as_str()),
        )
        .with(
            "probes",
            Value::map()
                .with("liveness", probe(spec, ProbeKind::Liveness))
                .with("readiness", probe(spec, ProbeKind::Readiness))
                .with("startup", probe(spec, ProbeKind::Startup)),
        )
        .with("env", env)
        .with("mqtt", mqtt(spec))
        .with("secrets", Value::Seq(secrets))
        .with(
            "config",
            Value::map()
                .with("mountPath", spec.config_dir())
                .with("files", files),
        )
        .with(
            "ingress",
            Value::map()
                .with("enabled", spec.ingress.is_some())
                .with("className", ing.class.unwrap_or_default())
                .with("annotations", Value::map())
                .with("extraHosts", Value::Seq(vec![]))
                .with("host", ing.host.as_str())
                .with(
                    "tlsSecret",
                    ing.tls_secret
                        .unwrap_or_else(|| format!("{}-tls", spec.name)),
                ),
        )
        .with(
            "securityContext",
            Value::map()
                .with("runAsUser", h.run_as_user)
                .with("readOnlyRootFilesystem", h.read_only_root_filesystem)
                .with("dropAllCapabilities", h.drop_all_capabilities)
                .with("seccompRuntimeDefault", h.seccomp_runtime_default),
        )
        .with(
            "serviceAccount",
            Value::map()
                .with("create", true)
                .with("name", "")
                .with("annotations", Value::map())
                .with("automountToken", h.automount_service_account_token),
        )
        .with(
            "networkPolicy",
            Value::map()
                .with("enabled", h.network_policy)
                .with(
                    "httpFrom",
                    Value::Seq(http_from.iter().map(to_value).collect()),
                )
                .with(
                    "metricsFrom",
                    Value::Seq(metrics_from.iter().map(to_value).collect()),
                )
                .with("egress", Value::Seq(egress_ports)),
        )
        .with(
            "podDisruptionBudget",
            Value::map()
                .with("enabled", h.pod_disruption_budget)
                .with("maxUnavailable", 1i64),
        )
        .with("terminationGracePeriodSeconds", spec.grace_seconds())
        .with(
            "cronjob",
            Value::map()
                .with("enabled", spec.cronjob.is_some())
                .with(
                    "schedule",
                    if cron.schedule.is_empty() {
                        "0 3 * * *".to_string()
                    } else {
                        cron.schedule
                    },
                )
                .with("args", cron.args)
                .with("timeZone", cron.time_zone.unwrap_or_default()),
        )
        .with("postgres", postgres(spec))
        .with("prometheusOperator", prometheus_operator(spec))
        .with("rollout", rollout(spec))
        .with("keda", keda(spec))
        .with("imagePullSecrets", Value::Seq(vec![]))
        .with("podAnnotations", Value::map())
        .with("podLabels", Value::map())
        .with("nodeSelector", Value::map())
        .with("affinity", Value::map())
        .with("tolerations", Value::Seq(vec![]))
        .with("extraEnv", Value::Seq(vec![]))
        .with("extraVolumes", Value::Seq(vec![]))
        .with("extraVolumeMounts", Value::Seq(vec![]))
}

/// `values.yaml`: every knob the templates read, defaulting to the spec.
pub(crate) fn values(spec: &DeploySpec) -> String {
    to_yaml(&values_tree(spec))
}

/// Objects whose keys are the user's (labels, annotations, env, files,
/// selectors, raw Kubernetes fields): any key is allowed there.
const FREE_FORM: [&str; 14] = [
    "env",
    "podAnnotations",
    "podLabels",
    "nodeSelector",
    "affinity",
    "annotations",
    "labels",
    "files",
    "resources",
    "requests",
    "limits",
    "matchLabels",
    "subject",
    "privateKey",
];

/// The JSON Schema of a values tree: each default's type; objects of
/// settings refuse unknown keys (a misspelt override fails `helm lint`,
/// `install` and `template`), free-form ones ([`FREE_FORM`]) and list items
/// (raw Kubernetes or Argo objects) take any.
fn schema_of(v: &Value, key: &str, strict: bool) -> Value {
    match v {
        Value::Null => Value::map(),
        Value::Bool(_) => Value::map().with("type", "boolean"),
        Value::Int(_) => Value::map().with("type", "integer"),
        Value::Float(_) => Value::map().with("type", "number"),
        Value::Str(_) | Value::Raw(_) => Value::map().with("type", "string"),
        Value::Seq(_) => Value::map().with("type", "array"),
        Value::Map(entries) => {
            let mut s = Value::map().with("type", "object");
            if FREE_FORM.contains(&key) || !strict {
                return s;
            }
            let props = entries
                .iter()
                .map(|(k, v)| (k.clone(), schema_of(v, k, strict)))
                .collect();
            s.set("properties", Value::Map(props));
            s.set("additionalProperties", false);
            s
        }
    }
}

/// `values.schema.json`, from the same values as `values.yaml`.
pub(crate) fn values_schema(spec: &DeploySpec) -> String {
    let mut s = schema_of(&values_tree(spec), "", true);
    if let Value::Map(entries) = &mut s {
        entries.insert(
            0,
            (
                "$schema".into(),
                Value::from("https://json-schema.org/draft-07/schema#"),
            ),
        );
        entries.insert(
            1,
            ("title".into(), Value::from(format!("{} values", spec.name))),
        );
    }
    crate::emit::to_json(&s)
}
