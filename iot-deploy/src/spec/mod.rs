//! The typed deployment spec: one service, described once.
//!
//! Every struct has defaults for every field (so a missing field is never a
//! parse failure: required values are checked by validation, with the
//! position of the enclosing table), and rejects unknown fields.

mod app;
mod broker;
mod deps;
mod image;
mod mqtt;
mod platform;
mod probes;
mod resources;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use app::{Alerts, Build, ComposeOptions, CronJob, Hardening, Metrics, Runtime, Systemd};
pub use broker::{Broker, DEFAULT_CLIENT_ID_ENV, MAX_INFLIGHT, MAX_QUEUE, QueueLimits, ShareGroup};
pub use deps::{Dependencies, Postgres, Redis};
pub use image::{Image, PullPolicy};
pub use mqtt::{CertManager, IssuerKind, Mqtt, MqttAuth, MqttTls, Plaintext, TlsMode};
pub use platform::{
    Analysis, CanaryStep, DEFAULT_PROMETHEUS_ADDRESS, Keda, KedaMetric, PrometheusOperator,
    Rollout, RolloutStrategy, TrafficRouting,
};
pub use probes::{Probe, ProbeKind, Probes, ResolvedProbe};
pub use resources::{Quantities, Resources};

/// A deployment spec for one service, for one environment (the loader
/// merges an environment's overrides over the base before building this).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeploySpec {
    /// Service name: a DNS-1035 label (lowercase letters, digits, `-`,
    /// starting with a letter, at most 63 characters). Required.
    pub name: String,
    /// Kubernetes namespace; defaults to the name.
    pub namespace: Option<String>,
    /// `app.kubernetes.io/part-of`; defaults to the name.
    pub part_of: Option<String>,
    /// `app.kubernetes.io/component`.
    pub component: String,
    /// One line describing the service (OCI label, Chart description).
    pub description: String,
    /// The container image.
    pub image: Image,
    /// How the Dockerfile builds the binary.
    pub build: Build,
    /// Listening ports.
    pub ports: Ports,
    /// Metrics scraping.
    pub metrics: Metrics,
    /// Plain environment variables (never secrets: use `secrets`).
    pub env: BTreeMap<String, String>,
    /// Configuration files, by file name, mounted under `config_dir`.
    pub config_files: BTreeMap<String, ConfigFile>,
    /// Where config files are mounted; defaults to `/etc/<name>`.
    pub config_dir: Option<String>,
    /// Secrets the service reads, by reference: names and keys, never values.
    pub secrets: Vec<SecretRef>,
    /// CPU and memory requests and limits.
    pub resources: Resources,
    /// Replicas and autoscaling.
    pub scaling: Scaling,
    /// Liveness, readiness and startup probes.
    pub probes: Probes,
    /// Backing services: MQTT broker, PostgreSQL, Redis.
    pub dependencies: Dependencies,
    /// Public HTTP(S) entry point.
    pub ingress: Option<Ingress>,
    /// Seconds the service needs after SIGTERM to drain; the grace period
    /// given to the pod is this plus 10 s.
    pub drain_seconds: u32,
    /// An optional scheduled job running the same image.
    pub cronjob: Option<CronJob>,
    /// Security hardening; every default is on, each can be opted out of.
    pub hardening: Hardening,
    /// Alert thresholds.
    pub alerts: Alerts,
    /// Extra services in docker-compose.
    pub compose: ComposeOptions,
    /// The systemd unit.
    pub systemd: Systemd,
    /// prometheus-operator objects (ServiceMonitor, PrometheusRule).
    pub prometheus_operator: Option<PrometheusOperator>,
    /// An Argo Rollouts `Rollout` in place of the Deployment.
    pub rollout: Option<Rollout>,
    /// `check` settings: acknowledged findings.
    pub lint: LintOptions,
}

/// `check` settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LintOptions {
    /// Findings accepted on purpose: reported as acknowledged, not failing.
    pub acknowledge: Vec<Acknowledge>,
}

/// One accepted finding: a rule id, why, and optionally where.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Acknowledge {
    /// The rule id, like `ID007`.
    pub id: String,
    /// Why the finding is accepted (required).
    pub reason: String,
    /// The environments it applies to (`dev`, `staging`, `prod`); empty:
    /// the base spec and every environment.
    pub environments: Vec<String>,
}

impl Acknowledge {
    /// Whether this acknowledges rule `id` in `env` (`None`: the base spec).
    pub fn covers(&self, id: &str, env: Option<&str>) -> bool {
        self.id == id
            && (self.environments.is_empty()
                || env.is_some_and(|e| self.environments.iter().any(|x| x == e)))
    }
}

impl Default for DeploySpec {
    fn default() -> Self {
        DeploySpec {
            name: String::new(),
            namespace: None,
            part_of: None,
            component: "server".into(),
            description: String::new(),
            image: Image::default(),
            build: Build::default(),
            ports: Ports::default(),
            metrics: Metrics::default(),
            env: BTreeMap::new(),
            config_files: BTreeMap::new(),
            config_dir: None,
            secrets: Vec::new(),
            resources: Resources::default(),
            scaling: Scaling::default(),
            probes: Probes::default(),
            dependencies: Dependencies::default(),
            ingress: None,
            drain_seconds: 15,
            cronjob: None,
            hardening: Hardening::default(),
            alerts: Alerts::default(),
            compose: ComposeOptions::default(),
            systemd: Systemd::default(),
            prometheus_operator: None,
            rollout: None,
            lint: LintOptions::default(),
        }
    }
}

impl DeploySpec {
    /// The namespace (defaults to the name).
    pub fn namespace(&self) -> &str {
        self.namespace.as_deref().unwrap_or(&self.name)
    }

    /// `app.kubernetes.io/part-of` (defaults to the name).
    pub fn part_of(&self) -> &str {
        self.part_of.as_deref().unwrap_or(&self.name)
    }

    /// Where config files are mounted.
    pub fn config_dir(&self) -> String {
        self.config_dir
            .clone()
            .unwrap_or_else(|| format!("/etc/{}", self.name))
    }

    /// The binary the image runs (defaults to the name).
    pub fn binary(&self) -> &str {
        self.build.binary.as_deref().unwrap_or(&self.name)
    }

    /// The port serving `/metrics`: the metrics port, else the http port.
    pub fn metrics_port(&self) -> u32 {
        self.ports.metrics.unwrap_or(self.ports.http)
    }

    /// Pod termination grace period: the drain period plus 10 s.
    pub fn grace_seconds(&self) -> u32 {
        self.drain_seconds.saturating_add(10)
    }

    /// The MQTT dependency when iot-deploy runs its broker in Kubernetes.
    pub fn cluster_broker(&self) -> Option<&Mqtt> {
        self.dependencies
            .mqtt
            .as_ref()
            .filter(|m| m.broker_in_cluster(self.namespace()))
    }

    /// The share group, when the service consumes through one.
    pub fn share_group(&self) -> Option<&ShareGroup> {
        self.dependencies.mqtt.as_ref()?.share_group.as_ref()
    }

    /// How many consumers split the broker's traffic for the service: the
    /// replicas (the autoscaler's minimum) in a share group, else 1 (every
    /// subscriber gets every message).
    pub fn mqtt_consumers(&self) -> u32 {
        if self.share_group().is_none() {
            return 1;
        }
        self.min_replicas().max(1)
    }

    /// The fewest replicas: the autoscaler's (HPA or KEDA) minimum, else
    /// the replicas.
    pub fn min_replicas(&self) -> u32 {
        match (&self.scaling.autoscale, &self.scaling.keda) {
            (Some(a), _) => a.min,
            (None, Some(k)) => k.min,
            (None, None) => self.scaling.replicas,
        }
    }

    /// Whether an autoscaler (HPA or KEDA) owns the replica count.
    pub fn autoscaled(&self) -> bool {
        self.scaling.autoscale.is_some() || self.scaling.keda.is_some()
    }

    /// The broker's per-client queue limits for this service.
    pub fn mqtt_queue_limits(&self) -> Option<QueueLimits> {
        let m = self.dependencies.mqtt.as_ref()?;
        Some(m.broker.queue_limits(self.mqtt_consumers()))
    }
}

/// Listening ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ports {
    /// HTTP port: the API, the probes and (unless `metrics` is set) `/metrics`.
    pub http: u32,
    /// A separate port for `/metrics`, if the service has one.
    pub metrics: Option<u32>,
    /// Namespaces (besides the service's own and the ingress controller's)
    /// whose pods the NetworkPolicy admits to the http port.
    pub http_from_namespaces: Vec<String>,
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            http: 8080,
            metrics: None,
            http_from_namespaces: Vec::new(),
        }
    }
}

/// A configuration file: inline `content`, or a `path` relative to the spec
/// file (read by the loader; generators only see content).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigFile {
    /// The file's text.
    pub content: Option<String>,
    /// A file to read the text from, relative to the spec.
    pub path: Option<String>,
}

impl ConfigFile {
    /// The file's text (empty until a `path` is read).
    pub fn text(&self) -> &str {
        self.content.as_deref().unwrap_or("")
    }
}

/// A reference to a Kubernetes Secret: its name and the keys the service
/// reads, each exposed as an environment variable of the same name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretRef {
    /// The Secret's name (DNS-1123 subdomain).
    pub name: String,
    /// Keys, which are also the environment variable names.
    pub keys: Vec<String>,
}

/// Replicas and autoscaling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scaling {
    /// Replicas when autoscaling is off.
    pub replicas: u32,
    /// A HorizontalPodAutoscaler on CPU, when set.
    pub autoscale: Option<Autoscale>,
    /// A KEDA ScaledObject on a Prometheus query instead (never both).
    pub keda: Option<Keda>,
}

impl Default for Scaling {
    fn default() -> Self {
        Scaling {
            replicas: 2,
            autoscale: None,
            keda: None,
        }
    }
}

/// HorizontalPodAutoscaler bounds and target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Autoscale {
    /// Fewest replicas.
    pub min: u32,
    /// Most replicas.
    pub max: u32,
    /// Target average CPU utilisation, percent of the request.
    pub cpu_percent: u32,
}

impl Default for Autoscale {
    fn default() -> Self {
        Autoscale {
            min: 2,
            max: 6,
            cpu_percent: 70,
        }
    }
}

/// Public HTTP(S) entry point, always with TLS.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ingress {
    /// Host name (required).
    pub host: String,
    /// Secret holding the certificate; defaults to `<name>-tls`.
    pub tls_secret: Option<String>,
    /// `ingressClassName`, if the cluster needs one.
    pub class: Option<String>,
    /// The namespace of the ingress controller, admitted to the http port
    /// by the NetworkPolicy; defaults to `ingress-nginx`.
    pub controller_namespace: Option<String>,
}

impl Ingress {
    /// The ingress controller's namespace (`ingress-nginx` by default).
    pub fn controller_namespace(&self) -> &str {
        self.controller_namespace
            .as_deref()
            .unwrap_or("ingress-nginx")
    }
}

/// The environments a spec may override.
pub const ENVIRONMENTS: [&str; 3] = ["dev", "staging", "prod"];
