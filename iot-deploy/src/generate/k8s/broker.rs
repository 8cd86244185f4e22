//! The Mosquitto broker in Kubernetes, when the spec runs it there: a
//! ConfigMap with `mosquitto.conf`, a Service and the headless Service
//! governing a one-replica StatefulSet whose PersistentVolumeClaim holds the
//! persistence database, and a NetworkPolicy admitting only the service's
//! pods (and the spec's device networks) to the client listener(s).
//!
//! The broker's configuration directory is one read-only projected volume
//! with the compose layout (`mosquitto.conf` from the ConfigMap, `passwd`
//! and `acl` from the auth Secret, `certs/{ca.crt,tls.crt,tls.key}` from the
//! TLS Secret, cert-manager's key names), so the same `mosquitto.conf` runs
//! in compose, in the tests and in the cluster.

use super::kinds::{NetworkPolicySpec, Peer, Plain, PolicyPort, PolicyRule, PortValue};
use super::types::*;
use super::workload::resources;
use crate::emit::{Value, to_value};
use crate::generate::{labels, mosquitto, sha256};
use crate::spec::{DeploySpec, Mqtt, MqttAuth};

/// The `mosquitto` user and group of the eclipse-mosquitto image.
pub const BROKER_UID: u32 = 1883;
/// The config file's key in the ConfigMap (and its file name).
pub const CONFIG_KEY: &str = "mosquitto.conf";
/// The password file's key in the auth Secret.
pub const PASSWD_KEY: &str = "passwd";
/// The ACL's key in the auth Secret.
pub const ACL_KEY: &str = "acl";
/// The `app.kubernetes.io/component` of the broker's objects.
pub const COMPONENT: &str = "mqtt-broker";
/// The TLS Secret's keys and where they land in the config directory.
pub const TLS_ITEMS: [(&str, &str); 3] = [
    ("ca.crt", "certs/ca.crt"),
    ("tls.crt", "certs/tls.crt"),
    ("tls.key", "certs/tls.key"),
];
/// The mode of every file in the config directory: owner and group (the
/// pod's fsGroup, the broker's group) read, nobody else.
pub const FILE_MODE: u32 = 0o440;

/// The names of the broker's objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerNames {
    /// The Service clients connect to (`host`'s first label) and the StatefulSet.
    pub service: String,
    /// The headless Service governing the StatefulSet.
    pub headless: String,
    /// The ConfigMap with `mosquitto.conf`.
    pub config: String,
    /// The Secret with `passwd` and `acl` (modes with an ACL).
    pub auth_secret: Option<String>,
    /// The Secret with the broker's TLS files (TLS only).
    pub tls_secret: Option<String>,
}

impl BrokerNames {
    /// The names for `spec`'s broker `m`.
    pub fn of(spec: &DeploySpec, m: &Mqtt) -> BrokerNames {
        let service = m
            .local_service(spec.namespace())
            .unwrap_or(&m.host)
            .to_string();
        BrokerNames {
            headless: format!("{service}-headless"),
            config: format!("{service}-config"),
            service,
            auth_secret: m.has_acl().then(|| m.broker.auth_secret_for(&spec.name)),
            tls_secret: m.tls.as_ref().map(|t| t.broker_secret_for(&spec.name)),
        }
    }
}

/// Every label of the broker's objects: the app's name, the broker's
/// Service name as instance, component `mqtt-broker`.
pub(crate) fn broker_labels(spec: &DeploySpec, n: &BrokerNames) -> Labels {
    labels::all_for(spec, &n.service, COMPONENT)
}

/// The broker pods' selector (name and instance: immutable).
pub(crate) fn broker_selector(spec: &DeploySpec, n: &BrokerNames) -> Labels {
    labels::selector_for(spec, &n.service)
}

fn meta(spec: &DeploySpec, n: &BrokerNames, name: &str) -> Meta {
    Meta {
        name: Some(name.to_string()),
        namespace: Some(spec.namespace().to_string()),
        labels: Some(broker_labels(spec, n)),
        annotations: None,
    }
}

/// The config directory's sources: the ConfigMap, the auth Secret's
/// password file and ACL, the TLS Secret's files under `certs/`.
pub(crate) fn config_sources(m: &Mqtt, n: &BrokerNames) -> Vec<Projection> {
    let item = |key: &'static str, path: &'static str| KeyToPath { key, path };
    let mut out = vec![Projection {
        secret: None,
        config_map: Some(SecretProjection {
            name: n.config.clone(),
            items: vec![item(CONFIG_KEY, CONFIG_KEY)],
        }),
    }];
    if let Some(auth) = &n.auth_secret {
        let mut items = Vec::new();
        if m.auth() == MqttAuth::Password {
            items.push(item(PASSWD_KEY, PASSWD_KEY));
        }
        items.push(item(ACL_KEY, ACL_KEY));
        out.push(Projection {
            secret: Some(SecretProjection {
                name: auth.clone(),
                items,
            }),
            config_map: None,
        });
    }
    if let Some(tls) = &n.tls_secret {
        out.push(Projection {
            secret: Some(SecretProjection {
                name: tls.clone(),
                items: TLS_ITEMS.iter().map(|(k, p)| item(k, p)).collect(),
            }),
            config_map: None,
        });
    }
    out
}

fn tcp_probe(port: &'static str, period: u32, failures: u32) -> Probe {
    Probe {
        http_get: None,
        tcp_socket: Some(TcpSocket { port }),
        initial_delay_seconds: None,
        period_seconds: period,
        timeout_seconds: 2,
        failure_threshold: failures,
    }
}

/// The broker's `mosquitto.conf` for `spec` (the compose file's text).
pub fn config(spec: &DeploySpec, m: &Mqtt) -> String {
    mosquitto::mosquitto_conf(m, spec.mqtt_consumers())
}

fn config_map(spec: &DeploySpec, m: &Mqtt, n: &BrokerNames) -> Value {
    let mut cm = Plain::new("v1", "ConfigMap", meta(spec, n, &n.config));
    cm.data = Some(Labels::from([(CONFIG_KEY.into(), config(spec, m))]));
    to_value(&cm)
}

fn service(spec: &DeploySpec, m: &Mqtt, n: &BrokerNames, headless: bool) -> Value {
    let ports = m
        .client_ports()
        .into_iter()
        .map(|(name, port)| ServicePort {
            name,
            port,
            target_port: name,
            protocol: "TCP",
        })
        .collect();
    let name = if headless { &n.headless } else { &n.service };
    to_value(&Object {
        api_version: "v1",
        kind: "Service",
        metadata: meta(spec, n, name),
        spec: Some(ServiceSpec {
            kind: "ClusterIP",
            cluster_ip: headless.then_some("None"),
            selector: broker_selector(spec, n),
            ports,
        }),
    })
}

/// The broker's container: the image's mosquitto on the mounted config,
/// non-root, read-only root filesystem, no capabilities, TCP probes on the
/// first client listener.
fn container(m: &Mqtt) -> Container {
    let ports = m
        .client_ports()
        .into_iter()
        .map(|(name, port)| ContainerPort {
            name,
            container_port: port,
            protocol: "TCP",
        })
        .collect::<Vec<_>>();
    let probe_port = ports.first().map_or("mqtt", |p| p.name);
    Container {
        name: "mosquitto".into(),
        image: m.image.clone(),
        image_pull_policy: "IfNotPresent",
        command: Some(vec![
            "/usr/sbin/mosquitto".into(),
            "-c".into(),
            format!("{}/{CONFIG_KEY}", mosquitto::CONFIG_DIR),
        ]),
        args: None,
        ports: Some(ports),
        env: None,
        resources: resources(&m.broker.resources),
        liveness_probe: Some(tcp_probe(probe_port, 20, 3)),
        readiness_probe: Some(tcp_probe(probe_port, 10, 3)),
        startup_probe: Some(tcp_probe(probe_port, 2, 60)),
        security_context: ContainerSecurityContext {
            allow_privilege_escalation: false,
            read_only_root_filesystem: true,
            run_as_non_root: true,
            capabilities: Some(Capabilities { drop: vec!["ALL"] }),
        },
        volume_mounts: vec![
            VolumeMount {
                name: "config",
                mount_path: mosquitto::CONFIG_DIR.into(),
                read_only: true,
            },
            VolumeMount {
                name: "data",
                mount_path: mosquitto::DATA_DIR.into(),
                read_only: false,
            },
        ],
    }
}

fn statefulset(spec: &DeploySpec, m: &Mqtt, n: &BrokerNames) -> Value {
    let b = &m.broker;
    let annotations = Labels::from([(
        "checksum/config".into(),
        sha256::hex(config(spec, m).as_bytes()),
    )]);
    let pod = PodSpec {
        service_account_name: None,
        automount_service_account_token: false,
        enable_service_links: false,
        restart_policy: None,
        // Mosquitto saves its database on SIGTERM.
        termination_grace_period_seconds: 30,
        security_context: PodSecurityContext {
            run_as_non_root: true,
            run_as_user: BROKER_UID,
            run_as_group: BROKER_UID,
            fs_group: BROKER_UID,
            fs_group_change_policy: Some("OnRootMismatch"),
            seccomp_profile: Some(Seccomp {
                kind: "RuntimeDefault",
            }),
        },
        topology_spread_constraints: None,
        containers: vec![container(m)],
        volumes: vec![Volume {
            name: "config",
            empty_dir: None,
            config_map: None,
            projected: Some(ProjectedVolume {
                default_mode: FILE_MODE,
                sources: config_sources(m, n),
            }),
        }],
    };
    // The claim template is immutable: selector labels only, never the
    // version, so that a new release still applies.
    let claim = ClaimTemplate {
        api_version: "v1",
        kind: "PersistentVolumeClaim",
        metadata: Meta {
            name: Some("data".into()),
            labels: Some(broker_selector(spec, n)),
            ..Meta::default()
        },
        spec: ClaimSpec {
            access_modes: vec!["ReadWriteOnce"],
            storage_class_name: b.storage_class.clone(),
            resources: ClaimResources {
                requests: Labels::from([("storage".into(), b.storage.clone())]),
            },
        },
    };
    to_value(&Object {
        api_version: "apps/v1",
        kind: "StatefulSet",
        metadata: meta(spec, n, &n.service),
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            revision_history_limit: 5,
            service_name: n.headless.clone(),
            pod_management_policy: None,
            selector: Selector {
                match_labels: broker_selector(spec, n),
            },
            update_strategy: UpdateStrategy {
                kind: "RollingUpdate",
            },
            template: PodTemplate {
                metadata: Meta {
                    labels: Some(broker_labels(spec, n)),
                    annotations: Some(annotations),
                    ..Meta::default()
                },
                spec: pod,
            },
            volume_claim_templates: Some(vec![claim]),
        }),
    })
}

/// The pods allowed to connect: the service's, and its CronJob's.
pub(crate) fn client_selectors(spec: &DeploySpec) -> Vec<Labels> {
    let mut out = vec![labels::selector(spec)];
    if spec.cronjob.is_some() {
        out.push(labels::selector_for(spec, &format!("{}-cron", spec.name)));
    }
    out
}

/// Ingress to the client listener(s) from the service's pods and the
/// device networks; no egress at all (the broker opens no connection).
fn network_policy(spec: &DeploySpec, m: &Mqtt, n: &BrokerNames) -> Value {
    let ports = || {
        m.client_ports()
            .into_iter()
            .map(|(_, p)| PolicyPort {
                protocol: "TCP",
                port: PortValue::Number(p),
            })
            .collect::<Vec<_>>()
    };
    let pods = client_selectors(spec)
        .into_iter()
        .map(|l| Peer {
            pod_selector: Some(Selector { match_labels: l }),
            ..Peer::default()
        })
        .collect();
    let mut ingress = vec![PolicyRule {
        from: Some(pods),
        to: None,
        ports: ports(),
    }];
    if !m.broker.device_cidrs.is_empty() {
        let devices = m
            .broker
            .device_cidrs
            .iter()
            .map(|c| Peer {
                ip_block: Some(super::kinds::IpBlock { cidr: c.clone() }),
                ..Peer::default()
            })
            .collect();
        ingress.push(PolicyRule {
            from: Some(devices),
            to: None,
            ports: ports(),
        });
    }
    to_value(&Object {
        api_version: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: meta(spec, n, &n.service),
        spec: Some(NetworkPolicySpec {
            pod_selector: Selector {
                match_labels: broker_selector(spec, n),
            },
            policy_types: vec!["Ingress", "Egress"],
            ingress: Some(ingress),
            egress: None,
        }),
    })
}

/// The broker's objects, in apply order; empty unless the spec runs the
/// broker in Kubernetes.
pub fn objects(spec: &DeploySpec) -> Vec<Value> {
    let Some(m) = spec.cluster_broker() else {
        return Vec::new();
    };
    let n = BrokerNames::of(spec, m);
    let mut out = vec![
        config_map(spec, m, &n),
        service(spec, m, &n, false),
        service(spec, m, &n, true),
        statefulset(spec, m, &n),
    ];
    if spec.hardening.network_policy {
        out.push(network_policy(spec, m, &n));
    }
    out
}
