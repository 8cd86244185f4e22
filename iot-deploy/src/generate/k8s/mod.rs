//! Kubernetes manifests.

pub mod broker;
pub mod cert_manager;
pub(crate) mod kinds;
pub mod migrations;
pub mod platform;
pub(crate) mod types;
mod workload;

pub(crate) use workload::env as workload_env;
pub(crate) use workload::{
    MQTT_FILE_MODE, POSTGRES_PASSWORD_KEY, POSTGRES_SECRETS_DIR, mqtt_sources,
    postgres_password_file, postgres_sources,
};
pub use workload::{workload_api_version, workload_kind};

use kinds::*;
use types::*;

use crate::emit::{Value, to_value};
use crate::generate::{labels, sha256};
use crate::spec::DeploySpec;

/// One manifest file: its path under `k8s/` and its documents.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// File name, like `deployment.yaml`.
    pub file: String,
    /// The objects, in order.
    pub docs: Vec<Value>,
}

fn meta(spec: &DeploySpec, name: &str) -> Meta {
    Meta {
        name: Some(name.to_string()),
        namespace: Some(spec.namespace().to_string()),
        labels: Some(labels::all(spec)),
        annotations: None,
    }
}

/// The SHA-256 of the ConfigMap data, if there is any.
pub(crate) fn config_hash(spec: &DeploySpec) -> Option<String> {
    if spec.config_files.is_empty() {
        return None;
    }
    let mut bytes = Vec::new();
    for (name, file) in &spec.config_files {
        for part in [name.as_bytes(), &[0], file.text().as_bytes(), &[0]] {
            bytes.extend_from_slice(part);
        }
    }
    Some(sha256::hex(&bytes))
}

/// Whether the pod meets the `restricted` Pod Security Standard.
fn restricted(spec: &DeploySpec) -> bool {
    let h = &spec.hardening;
    h.run_as_user != 0 && h.drop_all_capabilities && h.seccomp_runtime_default
}

fn namespace(spec: &DeploySpec) -> Value {
    let mut m = Meta {
        name: Some(spec.namespace().into()),
        labels: Some(labels::all(spec)),
        ..Meta::default()
    };
    let level = if restricted(spec) {
        "restricted"
    } else {
        "baseline"
    };
    if let Some(l) = m.labels.as_mut() {
        l.insert("pod-security.kubernetes.io/enforce".into(), level.into());
        l.insert(
            "pod-security.kubernetes.io/warn".into(),
            "restricted".into(),
        );
    }
    to_value(&Plain::new("v1", "Namespace", m))
}

fn service(spec: &DeploySpec) -> Value {
    let mut ports = vec![ServicePort {
        name: "http",
        port: spec.ports.http,
        target_port: "http",
        protocol: "TCP",
    }];
    if let Some(m) = spec.ports.metrics {
        ports.push(ServicePort {
            name: "metrics",
            port: m,
            target_port: "metrics",
            protocol: "TCP",
        });
    }
    let s = ServiceSpec {
        kind: "ClusterIP",
        cluster_ip: None,
        selector: labels::selector(spec),
        ports,
    };
    to_value(&Object {
        api_version: "v1",
        kind: "Service",
        metadata: meta(spec, &spec.name),
        spec: Some(s),
    })
}

/// The Services a rollout strategy needs (`<name>-canary` and
/// `<name>-stable`, or `<name>-preview`): copies of the main Service whose
/// selectors Argo Rollouts narrows to one ReplicaSet.
fn strategy_services(spec: &DeploySpec) -> Vec<Value> {
    platform::strategy_services(spec)
        .into_iter()
        .map(|suffix| {
            let mut v = service(spec);
            if let Some(Value::Map(md)) = v.get_mut("metadata") {
                for (k, val) in md.iter_mut() {
                    if k == "name" {
                        *val = Value::from(format!("{}-{suffix}", spec.name));
                    }
                }
            }
            v
        })
        .collect()
}

/// The name of the headless Service Prometheus discovers pods through.
pub fn headless_name(spec: &DeploySpec) -> String {
    format!("{}-headless", spec.name)
}

/// A headless Service: its DNS name resolves to every ready pod, so
/// Prometheus finds the pods with `dns_sd_configs` and needs no API access.
fn headless_service(spec: &DeploySpec) -> Value {
    let (name, port) = match spec.ports.metrics {
        Some(m) => ("metrics", m),
        None => ("http", spec.ports.http),
    };
    let ports = vec![ServicePort {
        name,
        port,
        target_port: name,
        protocol: "TCP",
    }];
    let s = ServiceSpec {
        kind: "ClusterIP",
        cluster_ip: Some("None"),
        selector: labels::selector(spec),
        ports,
    };
    to_value(&Object {
        api_version: "v1",
        kind: "Service",
        metadata: meta(spec, &headless_name(spec)),
        spec: Some(s),
    })
}

fn hpa(spec: &DeploySpec) -> Option<Value> {
    let a = spec.scaling.autoscale.as_ref()?;
    let policy = |kind, value, period_seconds| ScalingPolicy {
        kind,
        value,
        period_seconds,
    };
    let s = HpaSpec {
        scale_target_ref: TargetRef {
            api_version: workload_api_version(spec),
            kind: workload_kind(spec),
            name: spec.name.clone(),
        },
        min_replicas: a.min,
        max_replicas: a.max,
        metrics: vec![HpaMetric {
            kind: "Resource",
            resource: HpaResource {
                name: "cpu",
                target: HpaTarget {
                    kind: "Utilization",
                    average_utilization: a.cpu_percent,
                },
            },
        }],
        behavior: HpaBehavior {
            scale_up: ScalingRules {
                stabilization_window_seconds: 0,
                select_policy: "Max",
                policies: vec![policy("Percent", 100, 60), policy("Pods", 4, 60)],
            },
            scale_down: ScalingRules {
                stabilization_window_seconds: 300,
                select_policy: "Min",
                policies: vec![policy("Percent", 50, 60)],
            },
        },
    };
    let api = "autoscaling/v2";
    Some(to_value(&Object {
        api_version: api,
        kind: "HorizontalPodAutoscaler",
        metadata: meta(spec, &spec.name),
        spec: Some(s),
    }))
}

fn pdb(spec: &DeploySpec) -> Option<Value> {
    spec.hardening.pod_disruption_budget.then(|| {
        let s = PdbSpec {
            max_unavailable: 1,
            selector: Selector {
                match_labels: labels::selector(spec),
            },
        };
        to_value(&Object {
            api_version: "policy/v1",
            kind: "PodDisruptionBudget",
            metadata: meta(spec, &spec.name),
            spec: Some(s),
        })
    })
}

fn ingress(spec: &DeploySpec) -> Option<Value> {
    let ing = spec.ingress.as_ref()?;
    let secret = ing
        .tls_secret
        .clone()
        .unwrap_or_else(|| format!("{}-tls", spec.name));
    let backend = IngressBackend {
        service: BackendService {
            name: spec.name.clone(),
            port: NamedPort { name: "http" },
        },
    };
    let s = IngressSpec {
        ingress_class_name: ing.class.clone(),
        tls: vec![IngressTls {
            hosts: vec![ing.host.clone()],
            secret_name: secret,
        }],
        rules: vec![IngressRule {
            host: ing.host.clone(),
            http: IngressHttp {
                paths: vec![IngressPath {
                    path: "/",
                    path_type: "Prefix",
                    backend,
                }],
            },
        }],
    };
    Some(to_value(&Object {
        api_version: "networking.k8s.io/v1",
        kind: "Ingress",
        metadata: meta(spec, &spec.name),
        spec: Some(s),
    }))
}

fn network_policies(spec: &DeploySpec) -> Vec<Value> {
    if !spec.hardening.network_policy {
        return Vec::new();
    }
    let pods = || Selector {
        match_labels: labels::selector(spec),
    };
    let obj = |name: String, s| {
        to_value(&Object {
            api_version: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
            metadata: meta(spec, &name),
            spec: Some(s),
        })
    };
    let deny = NetworkPolicySpec {
        pod_selector: pods(),
        policy_types: vec!["Ingress", "Egress"],
        ingress: None,
        egress: None,
    };
    let tcp = |port| PolicyPort {
        protocol: "TCP",
        port,
    };
    let (http_from, metrics_from) = ingress_peers(spec);
    let mut inbound = vec![PolicyRule {
        from: Some(http_from),
        to: None,
        ports: vec![tcp(PortValue::Name("http"))],
    }];
    if spec.ports.metrics.is_some() {
        inbound.push(PolicyRule {
            from: Some(metrics_from),
            to: None,
            ports: vec![tcp(PortValue::Name("metrics"))],
        });
    }
    let mut egress = network_egress_base(&[]);
    let d = &spec.dependencies;
    if let Some(m) = spec.cluster_broker() {
        // The broker iot-deploy runs: its pods only.
        let n = broker::BrokerNames::of(spec, m);
        egress.push(PolicyRule {
            from: None,
            to: Some(vec![Peer {
                pod_selector: Some(Selector {
                    match_labels: broker::broker_selector(spec, &n),
                }),
                ..Peer::default()
            }]),
            ports: vec![tcp(PortValue::Number(m.client_port()))],
        });
    }
    let deps = [
        d.mqtt
            .as_ref()
            .filter(|_| spec.cluster_broker().is_none())
            .map(|m| (m.client_port(), m.cidr.clone())),
        d.postgres.as_ref().map(|p| (p.port, p.cidr.clone())),
        d.redis.as_ref().map(|r| (r.port, r.cidr.clone())),
    ];
    egress.extend(
        deps.into_iter()
            .flatten()
            .map(|(p, c)| dependency_egress(p, c)),
    );
    let cron = spec.cronjob.as_ref().map(|_| {
        // The CronJob's pods (instance `<name>-cron`): no ingress at all,
        // the service's egress.
        let instance = format!("{}-cron", spec.name);
        let egress = egress.clone();
        obj(
            format!("{}-cron", spec.name),
            NetworkPolicySpec {
                pod_selector: Selector {
                    match_labels: labels::selector_for(spec, &instance),
                },
                policy_types: vec!["Ingress", "Egress"],
                ingress: None,
                egress: Some(egress),
            },
        )
    });
    let allow = NetworkPolicySpec {
        pod_selector: pods(),
        policy_types: vec!["Ingress", "Egress"],
        ingress: Some(inbound),
        egress: Some(egress),
    };
    let mut out = vec![
        obj(format!("{}-default-deny", spec.name), deny),
        obj(format!("{}-allow", spec.name), allow),
    ];
    out.extend(cron);
    out
}

/// Egress to the cluster DNS, then to each `(port, cidr)` dependency.
pub(crate) fn network_egress_base(deps: &[(u32, Option<String>)]) -> Vec<PolicyRule> {
    let dns_peer = Peer {
        namespace_selector: Some(Selector {
            match_labels: Labels::from([(
                "kubernetes.io/metadata.name".into(),
                "kube-system".into(),
            )]),
        }),
        pod_selector: Some(Selector {
            match_labels: Labels::from([("k8s-app".into(), "kube-dns".into())]),
        }),
        ip_block: None,
    };
    let dns = PolicyRule {
        from: None,
        to: Some(vec![dns_peer]),
        ports: vec![
            PolicyPort {
                protocol: "UDP",
                port: PortValue::Number(53),
            },
            PolicyPort {
                protocol: "TCP",
                port: PortValue::Number(53),
            },
        ],
    };
    std::iter::once(dns)
        .chain(deps.iter().map(|(p, c)| dependency_egress(*p, c.clone())))
        .collect()
}

/// Egress to a dependency's TCP port, to its CIDR when it has one.
fn dependency_egress(port: u32, cidr: Option<String>) -> PolicyRule {
    let to = cidr.map(|c| {
        vec![Peer {
            ip_block: Some(IpBlock { cidr: c }),
            ..Peer::default()
        }]
    });
    PolicyRule {
        from: None,
        to,
        ports: vec![PolicyPort {
            protocol: "TCP",
            port: PortValue::Number(port),
        }],
    }
}

/// Who may reach the http port and who the metrics port: the http port is
/// open to the namespace's own pods, the ingress controller's namespace
/// (with an Ingress) and `ports.http_from_namespaces` (and Prometheus when
/// it scrapes there); the metrics port to the Prometheus pods only.
pub(crate) fn ingress_peers(spec: &DeploySpec) -> (Vec<Peer>, Vec<Peer>) {
    let ns = |n: &str| {
        Some(Selector {
            match_labels: Labels::from([("kubernetes.io/metadata.name".into(), n.to_string())]),
        })
    };
    let prometheus = Peer {
        namespace_selector: ns(&spec.metrics.prometheus_namespace),
        pod_selector: Some(Selector {
            match_labels: spec.metrics.prometheus_pod_labels.clone(),
        }),
        ip_block: None,
    };
    let mut http = vec![Peer {
        pod_selector: Some(Selector {
            match_labels: Labels::new(),
        }),
        ..Peer::default()
    }];
    if let Some(i) = &spec.ingress {
        http.push(Peer {
            namespace_selector: ns(i.controller_namespace()),
            ..Peer::default()
        });
    }
    for n in &spec.ports.http_from_namespaces {
        http.push(Peer {
            namespace_selector: ns(n),
            ..Peer::default()
        });
    }
    if spec.ports.metrics.is_none() {
        http.push(prometheus);
        (http, Vec::new())
    } else {
        (http, vec![prometheus])
    }
}

fn config_map(spec: &DeploySpec) -> Option<Value> {
    if spec.config_files.is_empty() {
        return None;
    }
    let mut cm = Plain::new("v1", "ConfigMap", meta(spec, &spec.name));
    cm.data = Some(
        spec.config_files
            .iter()
            .map(|(k, f)| (k.clone(), f.text().to_string()))
            .collect(),
    );
    Some(to_value(&cm))
}

fn service_account(spec: &DeploySpec) -> Value {
    let mut sa = Plain::new("v1", "ServiceAccount", meta(spec, &spec.name));
    sa.automount_service_account_token = Some(spec.hardening.automount_service_account_token);
    to_value(&sa)
}

/// The Secret templates: one per secret reference, values left as placeholders.
pub fn secret_templates(spec: &DeploySpec) -> Vec<Manifest> {
    let mut out: Vec<Manifest> = spec
        .secrets
        .iter()
        .map(|s| {
            let mut sec = Plain::new("v1", "Secret", meta(spec, &s.name));
            sec.secret_type = Some("Opaque");
            sec.string_data = Some(
                s.keys
                    .iter()
                    .map(|k| (k.clone(), format!("<{k}>")))
                    .collect(),
            );
            Manifest {
                file: format!("secret-templates/{}.yaml", s.name),
                docs: vec![to_value(&sec)],
            }
        })
        .collect();
    out.extend(mqtt_secret_templates(spec));
    if let Some(p) = &spec.dependencies.postgres {
        out.push(secret_template(
            spec,
            p.password_secret_for(&spec.name),
            vec![POSTGRES_PASSWORD_KEY],
        ));
    }
    out
}

/// A Secret template: `keys`, each with the placeholder `<key>`.
fn secret_template(spec: &DeploySpec, name: String, keys: Vec<&str>) -> Manifest {
    let mut sec = Plain::new("v1", "Secret", meta(spec, &name));
    sec.secret_type = Some("Opaque");
    sec.string_data = Some(
        keys.iter()
            .map(|k| (k.to_string(), format!("<{k}>")))
            .collect(),
    );
    Manifest {
        file: format!("secret-templates/{name}.yaml"),
        docs: vec![to_value(&sec)],
    }
}

/// Templates for the service's MQTT Secrets: the password, and the TLS
/// files unless cert-manager issues them.
fn mqtt_secret_templates(spec: &DeploySpec) -> Vec<Manifest> {
    let Some(m) = &spec.dependencies.mqtt else {
        return Vec::new();
    };
    let template = |name: String, keys: Vec<&str>| secret_template(spec, name, keys);
    let mut out = Vec::new();
    if spec.cluster_broker().is_some() {
        let n = broker::BrokerNames::of(spec, m);
        if let Some(auth) = n.auth_secret {
            let mut keys = Vec::new();
            if m.auth() == crate::spec::MqttAuth::Password {
                keys.push(broker::PASSWD_KEY);
            }
            keys.push(broker::ACL_KEY);
            out.push(template(auth, keys));
        }
        if let (Some(tls), Some(t)) = (n.tls_secret, &m.tls) {
            if t.cert_manager.is_none() {
                out.push(template(
                    tls,
                    broker::TLS_ITEMS.iter().map(|(k, _)| *k).collect(),
                ));
            }
        }
    }
    if let Some(t) = &m.tls {
        if t.cert_manager.is_none() {
            out.push(template(
                t.client_secret_for(&spec.name),
                crate::generate::mqtt_client::tls_keys(m),
            ));
        }
    }
    if crate::generate::mqtt_client::needs_password(m) {
        out.push(template(
            m.password_secret_for(&spec.name),
            vec![crate::generate::mqtt_client::PASSWORD_KEY],
        ));
    }
    out
}

/// Where the Namespace is written, relative to `k8s/` and `kustomize/`: a
/// directory of its own, outside the app's set, so `kubectl delete -f
/// deploy/k8s/` (not recursive) and `kubectl delete -k` never delete a
/// namespace other workloads may share. Create it once.
pub const NAMESPACE_FILE: &str = "namespace/namespace.yaml";

/// The Namespace, created once and never part of the app's manifests
/// (issue #15: deleting the app deleted a shared namespace).
pub fn namespace_manifest(spec: &DeploySpec) -> Manifest {
    Manifest {
        file: NAMESPACE_FILE.into(),
        docs: vec![namespace(spec)],
    }
}

/// Every manifest of the app to apply (Secret templates and the Namespace
/// excluded), in apply order.
pub fn manifests(spec: &DeploySpec) -> Vec<Manifest> {
    let hash = config_hash(spec);
    let one = |file: &str, v: Option<Value>| {
        v.map(|v| Manifest {
            file: file.into(),
            docs: vec![v],
        })
    };
    let policies = network_policies(spec);
    let certs = cert_manager::objects(spec);
    let broker = broker::objects(spec);
    let monitoring = platform::monitoring(spec);
    let migrations = migrations::objects(spec);
    let (file, workload) = {
        let (m, h) = (meta(spec, &spec.name), hash.as_deref());
        if let Some(r) = &spec.rollout {
            let base = if spec.share_group().is_some() {
                to_value(&workload::statefulset(spec, m, h))
            } else {
                to_value(&workload::deployment(spec, m, h))
            };
            ("rollout.yaml", platform::rollout(spec, r, base))
        } else if spec.share_group().is_some() {
            (
                "statefulset.yaml",
                to_value(&workload::statefulset(spec, m, h)),
            )
        } else {
            (
                "deployment.yaml",
                to_value(&workload::deployment(spec, m, h)),
            )
        }
    };
    [
        one("serviceaccount.yaml", Some(service_account(spec))),
        one("configmap.yaml", config_map(spec)),
        Some(Manifest {
            file: file.into(),
            docs: std::iter::once(workload)
                .chain(platform::analysis(spec))
                .collect(),
        }),
        Some(Manifest {
            file: "service.yaml".into(),
            docs: [service(spec), headless_service(spec)]
                .into_iter()
                .chain(strategy_services(spec))
                .collect(),
        }),
        one("hpa.yaml", hpa(spec)),
        one("scaledobject.yaml", platform::scaled_object(spec)),
        one("pdb.yaml", pdb(spec)),
        one("ingress.yaml", ingress(spec)),
        (!policies.is_empty()).then(|| Manifest {
            file: "networkpolicy.yaml".into(),
            docs: policies,
        }),
        (!certs.is_empty()).then(|| Manifest {
            file: "mqtt-certificates.yaml".into(),
            docs: certs,
        }),
        (!broker.is_empty()).then(|| Manifest {
            file: "mqtt-broker.yaml".into(),
            docs: broker,
        }),
        (!monitoring.is_empty()).then(|| Manifest {
            file: "monitoring.yaml".into(),
            docs: monitoring,
        }),
        (!migrations.is_empty()).then(|| Manifest {
            file: "migrations.yaml".into(),
            docs: migrations,
        }),
        one(
            "cronjob.yaml",
            workload::cronjob(spec, meta(spec, &format!("{}-cron", spec.name)))
                .map(|c| to_value(&c)),
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}
