//! Kubernetes add-ons the cluster may run: prometheus-operator, Argo
//! Rollouts and KEDA. Each is optional; without it, the plain objects are
//! generated (scrape config and rule file, Deployment, HorizontalPodAutoscaler).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The in-cluster Prometheus every add-on queries by default (the
/// `prometheus-operated` Service prometheus-operator creates).
pub const DEFAULT_PROMETHEUS_ADDRESS: &str = "http://prometheus-operated.monitoring.svc:9090";

/// prometheus-operator: a `ServiceMonitor` for the service's pods and a
/// `PrometheusRule` with the same alerts as the generated rule file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct PrometheusOperator {
    /// Extra labels on both objects: what the Prometheus resource's
    /// `serviceMonitorSelector` and `ruleSelector` match (for
    /// kube-prometheus-stack, `release = "<its release>"`).
    pub labels: BTreeMap<String, String>,
}

/// Argo Rollouts: a `Rollout` replaces the Deployment, with an
/// `AnalysisTemplate` on the service's own metrics that aborts (and so
/// rolls back) a bad release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Rollout {
    /// `canary` (default) or `blue-green`.
    pub strategy: RolloutStrategy,
    /// Canary steps, in order (canary only).
    pub steps: Vec<CanaryStep>,
    /// Traffic routing for the canary's HTTP traffic (canary only): `istio`
    /// or `smi`. Without it, Argo approximates a weight by pod counts.
    pub traffic: Option<TrafficRouting>,
    /// The Istio VirtualService whose route Argo Rollouts re-weights
    /// (`traffic = "istio"`); defaults to the service name.
    pub virtual_service: Option<String>,
    /// Blue-green: promote the preview automatically after this many
    /// seconds once analysis passed; left out, promotion is manual.
    pub auto_promotion_seconds: Option<u32>,
    /// The analysis run against the new pods.
    pub analysis: Analysis,
}

impl Default for Rollout {
    fn default() -> Self {
        Rollout {
            strategy: RolloutStrategy::Canary,
            steps: vec![
                CanaryStep {
                    weight: 20,
                    pause: Some("5m".into()),
                },
                CanaryStep {
                    weight: 50,
                    pause: Some("5m".into()),
                },
            ],
            traffic: None,
            virtual_service: None,
            auto_promotion_seconds: None,
            analysis: Analysis::default(),
        }
    }
}

impl Rollout {
    /// The VirtualService name (defaults to the service name).
    pub fn virtual_service_for(&self, service: &str) -> String {
        self.virtual_service
            .clone()
            .unwrap_or_else(|| service.to_string())
    }
}

/// How a Rollout replaces the old pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RolloutStrategy {
    /// New pods take a growing share, step by step, under analysis.
    #[default]
    Canary,
    /// A full new set runs beside the old one behind a preview Service,
    /// and the active Service switches at once after analysis.
    BlueGreen,
}

impl RolloutStrategy {
    /// The spec spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutStrategy::Canary => "canary",
            RolloutStrategy::BlueGreen => "blue-green",
        }
    }
}

/// A service mesh or SMI implementation that splits HTTP traffic by weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TrafficRouting {
    /// Istio: Argo re-weights a VirtualService's route.
    Istio,
    /// SMI: Argo manages a TrafficSplit under the service's Service.
    Smi,
}

impl TrafficRouting {
    /// The spec spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TrafficRouting::Istio => "istio",
            TrafficRouting::Smi => "smi",
        }
    }
}

/// One canary step: shift to `weight` percent, then pause.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CanaryStep {
    /// Percent of the traffic (or of the pods, without traffic routing), 1-100.
    pub weight: u32,
    /// How long to wait after the shift (a duration like `5m`); left out,
    /// the rollout waits for a manual promotion.
    pub pause: Option<String>,
}

/// The analysis of new pods: each query is a metric of the service's own
/// contract, scoped to the new pods when their pod-template hash reaches
/// the series (prometheus-operator's ServiceMonitor copies it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Analysis {
    /// The Prometheus the queries go to.
    pub prometheus_address: String,
    /// Time between measurements (a duration).
    pub interval: String,
    /// Failed measurements tolerated before the rollout aborts.
    pub failure_limit: u32,
    /// Largest share (0-1) of failed requests; defaults to `alerts.error_ratio`.
    pub max_error_ratio: Option<f64>,
    /// Most MQTT decode errors per second; defaults to
    /// `alerts.decode_errors_per_second`.
    pub max_decode_errors_per_second: Option<f64>,
}

impl Default for Analysis {
    fn default() -> Self {
        Analysis {
            prometheus_address: DEFAULT_PROMETHEUS_ADDRESS.into(),
            interval: "1m".into(),
            failure_limit: 1,
            max_error_ratio: None,
            max_decode_errors_per_second: None,
        }
    }
}

/// KEDA: a `ScaledObject` scaling the workload on a Prometheus query, in
/// place of the CPU HorizontalPodAutoscaler (`scaling.autoscale`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Keda {
    /// Fewest replicas.
    pub min: u32,
    /// Most replicas.
    pub max: u32,
    /// What the replicas are sized on.
    pub metric: KedaMetric,
    /// Target value of the metric per replica.
    pub target: f64,
    /// The Prometheus the query goes to.
    pub prometheus_address: String,
}

impl Default for Keda {
    fn default() -> Self {
        Keda {
            min: 2,
            max: 6,
            metric: KedaMetric::InFlight,
            target: 50.0,
            prometheus_address: DEFAULT_PROMETHEUS_ADDRESS.into(),
        }
    }
}

/// The metric KEDA sizes the workload on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum KedaMetric {
    /// Requests (frames) being processed, summed over the pods.
    #[default]
    InFlight,
    /// MQTT frames the consumers deliver per second, summed over the pods.
    FramesPerSecond,
}

impl KedaMetric {
    /// The spec spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            KedaMetric::InFlight => "in-flight",
            KedaMetric::FramesPerSecond => "frames-per-second",
        }
    }
}
