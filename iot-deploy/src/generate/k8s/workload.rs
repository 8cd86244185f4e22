//! Deployment (or StatefulSet) and CronJob: the pod, its container and its
//! hardening.

use super::kinds::{CronJobSpec, JobSpec, JobTemplate};
use super::types::*;
use crate::generate::{labels, mqtt_client};
use crate::spec::{DeploySpec, ProbeKind, Resources};

/// Environment variables: plain values, dependency endpoints, then secret references.
pub(crate) fn env(spec: &DeploySpec) -> Vec<EnvVar> {
    let plain = |name: &str, value: String| EnvVar {
        name: name.into(),
        value: Some(value),
        value_from: None,
    };
    let mut out: Vec<EnvVar> = spec.env.iter().map(|(k, v)| plain(k, v.clone())).collect();
    let d = &spec.dependencies;
    if let Some(m) = &d.mqtt {
        for (k, v) in mqtt_client::env(m, &spec.name, &m.host) {
            out.push(plain(k, v));
        }
        if let Some(g) = &m.share_group {
            // The pod's name: stable per StatefulSet replica.
            out.push(EnvVar {
                name: g.client_id_env.clone(),
                value: None,
                value_from: Some(EnvSource {
                    secret_key_ref: None,
                    field_ref: Some(FieldRef {
                        field_path: "metadata.name",
                    }),
                }),
            });
        }
    }
    if let Some(p) = &d.postgres {
        out.push(plain("POSTGRES_HOST", p.host.clone()));
        out.push(plain("POSTGRES_PORT", p.port.to_string()));
        out.push(plain("POSTGRES_DB", p.database.clone()));
        out.push(plain("POSTGRES_USER", p.user.clone()));
        out.push(plain("POSTGRES_PASSWORD_FILE", postgres_password_file()));
    }
    if let Some(r) = &d.redis {
        out.push(plain("REDIS_HOST", r.host.clone()));
        out.push(plain("REDIS_PORT", r.port.to_string()));
    }
    for s in &spec.secrets {
        for key in &s.keys {
            out.push(EnvVar {
                name: key.clone(),
                value: None,
                value_from: Some(EnvSource {
                    secret_key_ref: Some(KeyRef {
                        name: s.name.clone(),
                        key: key.clone(),
                    }),
                    field_ref: None,
                }),
            });
        }
    }
    out
}

/// Requests and limits from the spec's quantities (`"none"` left out).
pub(crate) fn resources(r: &Resources) -> ResourceRequirements {
    let pair = |cpu: Option<&str>, mem: Option<&str>| {
        let mut m = Labels::new();
        if let Some(c) = cpu {
            m.insert("cpu".into(), c.into());
        }
        if let Some(v) = mem {
            m.insert("memory".into(), v.into());
        }
        (!m.is_empty()).then_some(m)
    };
    ResourceRequirements {
        requests: pair(r.request_cpu(), r.request_memory()),
        limits: pair(r.limit_cpu(), r.limit_memory()),
    }
}

fn probe(spec: &DeploySpec, kind: ProbeKind) -> Probe {
    let p = spec.probes.resolved(kind);
    Probe {
        http_get: Some(HttpGet {
            path: p.path,
            port: "http",
        }),
        tcp_socket: None,
        initial_delay_seconds: (p.initial_delay_seconds > 0).then_some(p.initial_delay_seconds),
        period_seconds: p.period_seconds,
        timeout_seconds: p.timeout_seconds,
        failure_threshold: p.failure_threshold,
    }
}

/// The hardened container running the service (or, with `args`, a job).
pub(crate) fn container(spec: &DeploySpec, args: Option<Vec<String>>) -> Container {
    let h = &spec.hardening;
    let serving = args.is_none();
    let mut ports = vec![ContainerPort {
        name: "http",
        container_port: spec.ports.http,
        protocol: "TCP",
    }];
    if let Some(m) = spec.ports.metrics {
        ports.push(ContainerPort {
            name: "metrics",
            container_port: m,
            protocol: "TCP",
        });
    }
    let mut mounts = vec![VolumeMount {
        name: "tmp",
        mount_path: "/tmp".into(),
        read_only: false,
    }];
    if !spec.config_files.is_empty() {
        mounts.push(VolumeMount {
            name: "config",
            mount_path: spec.config_dir(),
            read_only: true,
        });
    }
    if spec
        .dependencies
        .mqtt
        .as_ref()
        .is_some_and(mqtt_client::has_files)
    {
        mounts.push(VolumeMount {
            name: "mqtt",
            mount_path: mqtt_client::SECRETS_DIR.into(),
            read_only: true,
        });
    }
    if spec.dependencies.postgres.is_some() {
        mounts.push(VolumeMount {
            name: "postgres",
            mount_path: POSTGRES_SECRETS_DIR.into(),
            read_only: true,
        });
    }
    let env = env(spec);
    Container {
        name: spec.name.clone(),
        image: spec.image.reference(),
        image_pull_policy: spec.image.pull_policy.as_str(),
        command: None,
        args,
        ports: serving.then_some(ports),
        env: (!env.is_empty()).then_some(env),
        resources: resources(&spec.resources),
        liveness_probe: serving.then(|| probe(spec, ProbeKind::Liveness)),
        readiness_probe: serving.then(|| probe(spec, ProbeKind::Readiness)),
        startup_probe: serving.then(|| probe(spec, ProbeKind::Startup)),
        security_context: ContainerSecurityContext {
            allow_privilege_escalation: false,
            read_only_root_filesystem: h.read_only_root_filesystem,
            run_as_non_root: h.run_as_user != 0,
            capabilities: h
                .drop_all_capabilities
                .then(|| Capabilities { drop: vec!["ALL"] }),
        },
        volume_mounts: mounts,
    }
}

/// The pod spec; `restart` is set for jobs.
pub(crate) fn pod(
    spec: &DeploySpec,
    container: Container,
    restart: Option<&'static str>,
) -> PodSpec {
    let h = &spec.hardening;
    let mut volumes = vec![Volume {
        name: "tmp",
        empty_dir: Some(EmptyDir { size_limit: "64Mi" }),
        config_map: None,
        projected: None,
    }];
    if !spec.config_files.is_empty() {
        volumes.push(Volume {
            name: "config",
            empty_dir: None,
            config_map: Some(ConfigMapVolume {
                name: spec.name.clone(),
                default_mode: 0o444,
            }),
            projected: None,
        });
    }
    for (name, sources) in [
        ("mqtt", mqtt_sources(spec)),
        ("postgres", postgres_sources(spec)),
    ] {
        if !sources.is_empty() {
            volumes.push(secret_volume(name, sources));
        }
    }
    let spread = |key| TopologySpread {
        max_skew: 1,
        topology_key: key,
        when_unsatisfiable: "ScheduleAnyway",
        label_selector: Selector {
            match_labels: labels::selector(spec),
        },
    };
    PodSpec {
        service_account_name: Some(spec.name.clone()),
        automount_service_account_token: h.automount_service_account_token,
        enable_service_links: false,
        restart_policy: restart,
        termination_grace_period_seconds: spec.grace_seconds(),
        security_context: PodSecurityContext {
            run_as_non_root: h.run_as_user != 0,
            run_as_user: h.run_as_user,
            run_as_group: h.run_as_user,
            fs_group: h.run_as_user,
            fs_group_change_policy: None,
            seccomp_profile: h.seccomp_runtime_default.then_some(Seccomp {
                kind: "RuntimeDefault",
            }),
        },
        topology_spread_constraints: restart.is_none().then(|| {
            vec![
                spread("topology.kubernetes.io/zone"),
                spread("kubernetes.io/hostname"),
            ]
        }),
        containers: vec![container],
        volumes,
    }
}

/// Secret files in one read-only directory, readable by the pod's group
/// (fsGroup) only: the service's MQTT files (the TLS keys from the client
/// TLS Secret, in cert-manager's format; the password from the password
/// Secret), or its PostgreSQL password.
fn secret_volume(name: &'static str, sources: Vec<Projection>) -> Volume {
    Volume {
        name,
        empty_dir: None,
        config_map: None,
        projected: Some(ProjectedVolume {
            default_mode: MQTT_FILE_MODE,
            sources,
        }),
    }
}

/// Where the service's PostgreSQL password Secret is mounted.
pub(crate) const POSTGRES_SECRETS_DIR: &str = "/run/secrets/postgres";
/// The key of the PostgreSQL password in its Secret (and the file name).
pub(crate) const POSTGRES_PASSWORD_KEY: &str = "password";

/// `POSTGRES_PASSWORD_FILE`: the mounted password.
pub(crate) fn postgres_password_file() -> String {
    format!("{POSTGRES_SECRETS_DIR}/{POSTGRES_PASSWORD_KEY}")
}

/// The PostgreSQL password Secret, projected into its directory.
pub(crate) fn postgres_sources(spec: &DeploySpec) -> Vec<Projection> {
    let Some(p) = spec.dependencies.postgres.as_ref() else {
        return Vec::new();
    };
    vec![Projection {
        secret: Some(SecretProjection {
            name: p.password_secret_for(&spec.name),
            items: vec![KeyToPath {
                key: POSTGRES_PASSWORD_KEY,
                path: POSTGRES_PASSWORD_KEY,
            }],
        }),
        config_map: None,
    }]
}

/// The mode of the service's MQTT files: owner and group (the pod's
/// fsGroup) read, nobody else.
pub(crate) const MQTT_FILE_MODE: u32 = 0o440;

/// The Secrets (and their keys) projected into the service's MQTT directory.
pub(crate) fn mqtt_sources(spec: &DeploySpec) -> Vec<Projection> {
    let Some(m) = spec.dependencies.mqtt.as_ref() else {
        return Vec::new();
    };
    let items = |keys: Vec<&'static str>| {
        keys.into_iter()
            .map(|k| KeyToPath { key: k, path: k })
            .collect()
    };
    let mut sources = Vec::new();
    if let Some(t) = &m.tls {
        sources.push(Projection {
            secret: Some(SecretProjection {
                name: t.client_secret_for(&spec.name),
                items: items(mqtt_client::tls_keys(m)),
            }),
            config_map: None,
        });
    }
    if mqtt_client::needs_password(m) {
        sources.push(Projection {
            secret: Some(SecretProjection {
                name: m.password_secret_for(&spec.name),
                items: items(vec![mqtt_client::PASSWORD_KEY]),
            }),
            config_map: None,
        });
    }
    sources
}

/// Pod template annotations: the config hash and Prometheus scrape hints.
fn pod_annotations(spec: &DeploySpec, config_hash: Option<&str>) -> Labels {
    let mut a = Labels::new();
    if let Some(h) = config_hash {
        a.insert("checksum/config".into(), h.into());
    }
    a.insert("prometheus.io/scrape".into(), "true".into());
    a.insert("prometheus.io/port".into(), spec.metrics_port().to_string());
    a.insert("prometheus.io/path".into(), spec.metrics.path.clone());
    a
}

/// The service's pod template.
fn pod_template(spec: &DeploySpec, config_hash: Option<&str>) -> PodTemplate {
    PodTemplate {
        metadata: Meta {
            labels: Some(labels::all(spec)),
            annotations: Some(pod_annotations(spec, config_hash)),
            ..Meta::default()
        },
        spec: pod(spec, container(spec, None), None),
    }
}

/// The replicas field: left to the autoscaler when there is one.
fn replicas(spec: &DeploySpec) -> Option<u32> {
    (!spec.autoscaled()).then_some(spec.scaling.replicas)
}

/// The kind of the service's workload: an Argo Rollouts `Rollout` when
/// the spec has one, else a StatefulSet when it consumes through a share
/// group (stable pod names, so stable client ids), else a Deployment.
pub fn workload_kind(spec: &DeploySpec) -> &'static str {
    if spec.rollout.is_some() {
        "Rollout"
    } else if spec.share_group().is_some() {
        "StatefulSet"
    } else {
        "Deployment"
    }
}

/// The API version of [`workload_kind`].
pub fn workload_api_version(spec: &DeploySpec) -> &'static str {
    if spec.rollout.is_some() {
        super::platform::ROLLOUTS_API
    } else {
        "apps/v1"
    }
}

pub(crate) fn deployment(
    spec: &DeploySpec,
    meta: Meta,
    config_hash: Option<&str>,
) -> Object<DeploymentSpec> {
    Object {
        api_version: "apps/v1",
        kind: "Deployment",
        metadata: meta,
        spec: Some(DeploymentSpec {
            replicas: replicas(spec),
            revision_history_limit: 5,
            selector: Selector {
                match_labels: labels::selector(spec),
            },
            strategy: Strategy {
                kind: "RollingUpdate",
                rolling_update: RollingUpdate {
                    max_unavailable: 0,
                    max_surge: 1,
                },
            },
            template: pod_template(spec, config_hash),
        }),
    }
}

/// The service as a StatefulSet: pods `<name>-0`, `<name>-1`, ... whose
/// names (and so client ids) survive restarts and rescheduling, governed
/// by the headless Service. Pods start and stop in parallel (no member
/// waits for another); a rolling update replaces one pod at a time, and a
/// name is never held by two pods at once (no client-id takeover fights).
pub(crate) fn statefulset(
    spec: &DeploySpec,
    meta: Meta,
    config_hash: Option<&str>,
) -> Object<StatefulSetSpec> {
    Object {
        api_version: "apps/v1",
        kind: "StatefulSet",
        metadata: meta,
        spec: Some(StatefulSetSpec {
            replicas: replicas(spec),
            revision_history_limit: 5,
            service_name: super::headless_name(spec),
            pod_management_policy: Some("Parallel"),
            selector: Selector {
                match_labels: labels::selector(spec),
            },
            update_strategy: UpdateStrategy {
                kind: "RollingUpdate",
            },
            template: pod_template(spec, config_hash),
            volume_claim_templates: None,
        }),
    }
}

pub(crate) fn cronjob(spec: &DeploySpec, meta: Meta) -> Option<Object<CronJobSpec>> {
    let job = spec.cronjob.as_ref()?;
    let instance = format!("{}-cron", spec.name);
    let template = PodTemplate {
        metadata: Meta {
            labels: Some(labels::all_for(spec, &instance, "cronjob")),
            ..Meta::default()
        },
        spec: pod(
            spec,
            container(spec, Some(job.args.clone())),
            Some("OnFailure"),
        ),
    };
    Some(Object {
        api_version: "batch/v1",
        kind: "CronJob",
        metadata: meta,
        spec: Some(CronJobSpec {
            schedule: job.schedule.clone(),
            time_zone: job.time_zone.clone(),
            concurrency_policy: "Forbid",
            starting_deadline_seconds: 300,
            successful_jobs_history_limit: 3,
            failed_jobs_history_limit: 1,
            job_template: JobTemplate {
                spec: JobSpec {
                    backoff_limit: 2,
                    ttl_seconds_after_finished: 86400,
                    template,
                },
            },
        }),
    })
}
