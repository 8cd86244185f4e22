//! Build, runtime, hardening, alerting and packaging options.

use serde::{Deserialize, Serialize};

use crate::metrics_contract::METRICS_PATH;

/// How the Dockerfile builds the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Build {
    /// The binary to ship; defaults to the service name.
    pub binary: Option<String>,
    /// The cargo package building it (`-p`); defaults to the binary.
    pub package: Option<String>,
    /// Cargo features to enable.
    pub features: Vec<String>,
    /// Runtime base image family.
    pub runtime: Runtime,
    /// The Rust toolchain image tag for the build stages.
    pub rust_version: String,
    /// The cargo-chef version installed in the build stage.
    pub cargo_chef_version: String,
    /// Where the generated Dockerfile sits, relative to the Cargo workspace
    /// root (the build context): render into that directory. Compose and CI
    /// build with it.
    pub dockerfile: String,
    /// SPDX identifiers of the licences the dependencies may carry (e.g.
    /// `["MIT", "Apache-2.0"]`). Set: a `deny.toml` next to the Dockerfile
    /// and a `cargo deny check licenses` step in the generated CI. Empty
    /// (the default): licences are not checked (the project keeps its own
    /// `deny.toml`).
    pub licenses: Vec<String>,
    /// Pins the build stages' `rust` image by digest (`sha256:<64 hex>`),
    /// next to its tag; the generated Dependabot configuration keeps tag
    /// and digest current.
    pub builder_digest: Option<String>,
    /// Pins the runtime base image by digest (not for `static`, which is
    /// `scratch`).
    pub runtime_digest: Option<String>,
}

impl Build {
    /// The workspace root as seen from the compose directory (`<out>/compose`).
    pub fn compose_context(&self) -> String {
        let depth = self.dockerfile.matches('/').count();
        vec![".."; depth + 1].join("/")
    }
}

impl Default for Build {
    fn default() -> Self {
        Build {
            binary: None,
            package: None,
            features: Vec::new(),
            runtime: Runtime::Distroless,
            rust_version: "1.85".into(),
            cargo_chef_version: "0.1.68".into(),
            dockerfile: "deploy/Dockerfile".into(),
            licenses: Vec::new(),
            builder_digest: None,
            runtime_digest: None,
        }
    }
}

/// The runtime stage of the Dockerfile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runtime {
    /// `gcr.io/distroless/cc-debian12:nonroot`: glibc, no shell.
    #[default]
    Distroless,
    /// `debian:bookworm-slim`: a shell for debugging.
    DebianSlim,
    /// A static musl binary on `scratch`.
    Static,
}

impl Runtime {
    /// Every runtime, in declaration order.
    pub const ALL: [Runtime; 3] = [Runtime::Distroless, Runtime::DebianSlim, Runtime::Static];

    /// The spec spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Distroless => "distroless",
            Runtime::DebianSlim => "debian-slim",
            Runtime::Static => "static",
        }
    }
}

/// Metrics scraping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Metrics {
    /// The path serving Prometheus text.
    pub path: String,
    /// How often Prometheus scrapes (a Prometheus duration).
    pub scrape_interval: String,
    /// The namespace Prometheus runs in: the only namespace the
    /// NetworkPolicy admits to the metrics port.
    pub prometheus_namespace: String,
    /// Labels of the Prometheus pods admitted to the metrics port.
    pub prometheus_pod_labels: std::collections::BTreeMap<String, String>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            path: METRICS_PATH.into(),
            scrape_interval: "30s".into(),
            prometheus_namespace: "monitoring".into(),
            prometheus_pod_labels: std::collections::BTreeMap::from([(
                "app.kubernetes.io/name".into(),
                "prometheus".into(),
            )]),
        }
    }
}

/// A scheduled job running the service image with other arguments.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CronJob {
    /// Five-field cron schedule (required).
    pub schedule: String,
    /// Arguments to the binary (required).
    pub args: Vec<String>,
    /// IANA time zone for the schedule.
    pub time_zone: Option<String>,
}

/// Security hardening. All on by default; set a field to opt out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Hardening {
    /// Numeric user and group the container runs as (0 = root, reported by `check`).
    pub run_as_user: u32,
    /// Mount the root filesystem read-only (with an emptyDir at `/tmp`).
    pub read_only_root_filesystem: bool,
    /// Drop every Linux capability.
    pub drop_all_capabilities: bool,
    /// Seccomp profile `RuntimeDefault`.
    pub seccomp_runtime_default: bool,
    /// Mount the service-account token (off: the service does not call the API server).
    pub automount_service_account_token: bool,
    /// Emit a default-deny NetworkPolicy with only the flows the spec needs.
    pub network_policy: bool,
    /// Emit a PodDisruptionBudget.
    pub pod_disruption_budget: bool,
}

impl Default for Hardening {
    fn default() -> Self {
        Hardening {
            run_as_user: 65532,
            read_only_root_filesystem: true,
            drop_all_capabilities: true,
            seccomp_runtime_default: true,
            automount_service_account_token: false,
            network_policy: true,
            pod_disruption_budget: true,
        }
    }
}

/// Alert thresholds for the generated Prometheus rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Alerts {
    /// Share of failed requests (0-1) over 5 minutes that pages.
    pub error_ratio: f64,
    /// p95 request latency, in seconds, that pages.
    pub p95_latency_seconds: f64,
    /// Share of online devices (0-1) lost within 10 minutes that pages.
    pub devices_offline_ratio: f64,
    /// MQTT frame decode errors per second that warn.
    pub decode_errors_per_second: f64,
    /// Rate-limit rejections per second that warn.
    pub rate_limited_per_second: f64,
    /// Container restarts within an hour that warn.
    pub restarts_per_hour: u32,
    /// Alertmanager addresses (`host:port`) the in-cluster Prometheus sends
    /// alerts to.
    pub alertmanagers: Vec<String>,
    /// The kube-state-metrics address (`host:port`) the in-cluster
    /// Prometheus scrapes for the restart alert; empty drops that alert.
    pub kube_state_metrics: String,
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts {
            error_ratio: 0.05,
            p95_latency_seconds: 0.5,
            devices_offline_ratio: 0.2,
            decode_errors_per_second: 1.0,
            rate_limited_per_second: 5.0,
            restarts_per_hour: 3,
            alertmanagers: vec!["alertmanager.monitoring.svc:9093".into()],
            kube_state_metrics: "kube-state-metrics.kube-system.svc:8080".into(),
        }
    }
}

/// Observability services in docker-compose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComposeOptions {
    /// Run Prometheus with the generated config and rules.
    pub prometheus: bool,
    /// Run Grafana with the data source and dashboard provisioned.
    pub grafana: bool,
    /// The env file holding secret values (never committed).
    pub env_file: String,
}

impl Default for ComposeOptions {
    fn default() -> Self {
        ComposeOptions {
            prometheus: true,
            grafana: true,
            env_file: ".env".into(),
        }
    }
}

/// The systemd unit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Systemd {
    /// Where the binary is installed.
    pub exec_path: Option<String>,
    /// Environment file with secrets (mode 0600, owned by root).
    pub environment_file: Option<String>,
}
