//! Objects of Kubernetes add-ons: prometheus-operator (`ServiceMonitor`,
//! `PrometheusRule`), Argo Rollouts (`Rollout`, `AnalysisTemplate`, the
//! Services a strategy needs) and KEDA (`ScaledObject`).
//!
//! These kinds are not in k8s-openapi; the tests check them against the
//! CRD schemas (`shared/crds/validate.py`). Every query is built from
//! [`crate::metrics_contract`], with the same expressions as the alerts.

use super::{Meta, headless_name, meta};
use crate::emit::{Value, float_text, to_value};
use crate::generate::alerts::{breaker_open, decode_error_rate, error_ratio, rules};
use crate::metrics_contract as m;
use crate::spec::{DeploySpec, KedaMetric, Rollout, RolloutStrategy, TrafficRouting};

/// prometheus-operator's API version.
pub const MONITORING_API: &str = "monitoring.coreos.com/v1";
/// Argo Rollouts' API version.
pub const ROLLOUTS_API: &str = "argoproj.io/v1alpha1";
/// KEDA's API version.
pub const KEDA_API: &str = "keda.sh/v1alpha1";
/// The AnalysisTemplate argument carrying the new pods' template hash.
pub const HASH_ARG: &str = "canary-hash";

fn object(api: &str, kind: &str, metadata: Meta, spec: Value) -> Value {
    Value::map()
        .with("apiVersion", api)
        .with("kind", kind)
        .with("metadata", to_value(&metadata))
        .with("spec", spec)
}

/// Metadata with prometheus-operator's selector labels added.
fn monitoring_meta(spec: &DeploySpec, name: &str) -> Meta {
    let mut md = meta(spec, name);
    if let (Some(op), Some(l)) = (&spec.prometheus_operator, md.labels.as_mut()) {
        l.extend(op.labels.clone());
    }
    md
}

/// The name of the port serving `/metrics` (on the headless Service).
pub fn metrics_port_name(spec: &DeploySpec) -> &'static str {
    if spec.ports.metrics.is_some() {
        "metrics"
    } else {
        "http"
    }
}

/// The ServiceMonitor's endpoint: the headless Service's pods only (the
/// main Service selects the same pods), job label = the service name, as
/// the rules expect.
pub(crate) fn monitor_endpoint(spec: &DeploySpec) -> Value {
    let keep = Value::map()
        .with("action", "keep")
        .with("sourceLabels", vec!["__meta_kubernetes_service_name"])
        .with("regex", headless_name(spec));
    let job = Value::map()
        .with("action", "replace")
        .with("targetLabel", "job")
        .with("replacement", spec.name.as_str());
    Value::map()
        .with("port", metrics_port_name(spec))
        .with("path", spec.metrics.path.as_str())
        .with("interval", spec.metrics.scrape_interval.as_str())
        .with("relabelings", vec![keep, job])
}

/// The pod labels copied onto the series: the Rollout's pod-template hash,
/// which scopes the analysis to the new pods.
pub(crate) fn pod_target_labels(spec: &DeploySpec) -> Vec<&'static str> {
    if spec.rollout.is_some() {
        vec![m::POD_TEMPLATE_HASH_LABEL]
    } else {
        Vec::new()
    }
}

/// The ServiceMonitor and the PrometheusRule (the alerts of the rule file,
/// from the same function); empty without `prometheus_operator`.
pub fn monitoring(spec: &DeploySpec) -> Vec<Value> {
    if spec.prometheus_operator.is_none() {
        return Vec::new();
    }
    let mut sm = Value::map()
        .with(
            "selector",
            Value::map().with("matchLabels", to_value(&super::labels::selector(spec))),
        )
        .with("endpoints", vec![monitor_endpoint(spec)]);
    let hash = pod_target_labels(spec);
    if !hash.is_empty() {
        sm.set("podTargetLabels", hash);
    }
    vec![
        object(
            MONITORING_API,
            "ServiceMonitor",
            monitoring_meta(spec, &spec.name),
            sm,
        ),
        object(
            MONITORING_API,
            "PrometheusRule",
            monitoring_meta(spec, &spec.name),
            rules(spec),
        ),
    ]
}

/// The label matchers of the analysis queries: the job, and the new pods'
/// hash when the series carry it (prometheus-operator).
pub(crate) fn analysis_matchers(spec: &DeploySpec) -> String {
    let mut s = format!("job=\"{}\"", spec.name);
    if spec.prometheus_operator.is_some() {
        s.push_str(&format!(
            ",{}=\"{{{{args.{HASH_ARG}}}}}\"",
            m::POD_TEMPLATE_HASH_LABEL.replace('-', "_")
        ));
    }
    s
}

/// The AnalysisTemplate's metrics: error ratio, decode errors, open
/// breakers, with the alert thresholds unless the spec sets its own.
pub(crate) fn analysis_metrics(spec: &DeploySpec, r: &Rollout) -> Vec<Value> {
    let a = &r.analysis;
    let sel = analysis_matchers(spec);
    let max_errors = a.max_error_ratio.unwrap_or(spec.alerts.error_ratio);
    let max_decode = a
        .max_decode_errors_per_second
        .unwrap_or(spec.alerts.decode_errors_per_second);
    [
        (
            "error-ratio",
            format!("({}) or vector(0)", error_ratio(&sel)),
            format!(
                "isNaN(result[0]) || result[0] <= {}",
                float_text(max_errors)
            ),
        ),
        (
            "decode-errors",
            format!("({}) or vector(0)", decode_error_rate(&sel)),
            format!("result[0] <= {}", float_text(max_decode)),
        ),
        (
            "breaker-open",
            format!("max({}) or vector(0)", breaker_open(&sel)),
            "result[0] < 1".to_string(),
        ),
    ]
    .into_iter()
    .map(|(name, query, ok)| {
        let prom = Value::map()
            .with("address", a.prometheus_address.as_str())
            .with("query", query);
        Value::map()
            .with("name", name)
            .with("interval", a.interval.as_str())
            .with("failureLimit", a.failure_limit)
            .with("successCondition", ok)
            .with("provider", Value::map().with("prometheus", prom))
    })
    .collect()
}

fn analysis_template(spec: &DeploySpec, r: &Rollout) -> Value {
    let s = Value::map()
        .with("args", vec![Value::map().with("name", HASH_ARG)])
        .with("metrics", analysis_metrics(spec, r));
    object(ROLLOUTS_API, "AnalysisTemplate", meta(spec, &spec.name), s)
}

/// How the Rollout references the AnalysisTemplate (`template`: its name).
pub(crate) fn analysis_ref(template: &str) -> Value {
    let hash = Value::map().with("name", HASH_ARG).with(
        "valueFrom",
        Value::map().with("podTemplateHashValue", "Latest"),
    );
    Value::map()
        .with(
            "templates",
            vec![Value::map().with("templateName", template)],
        )
        .with("args", vec![hash])
}

/// The canary steps as Argo writes them.
pub(crate) fn canary_steps(r: &Rollout) -> Vec<Value> {
    let mut out = Vec::new();
    for s in &r.steps {
        out.push(Value::map().with("setWeight", s.weight));
        let pause = match &s.pause {
            Some(d) => Value::map().with("duration", d.as_str()),
            None => Value::map(),
        };
        out.push(Value::map().with("pause", pause));
    }
    out
}

/// The suffixed Services a strategy needs: `canary` and `stable` with
/// traffic routing, `preview` for blue-green.
pub fn strategy_services(spec: &DeploySpec) -> Vec<&'static str> {
    match &spec.rollout {
        Some(r) if r.strategy == RolloutStrategy::BlueGreen => vec!["preview"],
        Some(r) if r.traffic.is_some() => vec!["canary", "stable"],
        _ => Vec::new(),
    }
}

/// The Rollout's `strategy`, with `name` the service's (full) name.
fn strategy(r: &Rollout, name: &str) -> Value {
    let analysis = analysis_ref(name);
    if r.strategy == RolloutStrategy::BlueGreen {
        let mut bg = Value::map()
            .with("activeService", name)
            .with("previewService", format!("{name}-preview"))
            .with("autoPromotionEnabled", r.auto_promotion_seconds.is_some());
        if let Some(s) = r.auto_promotion_seconds {
            bg.set("autoPromotionSeconds", s);
        }
        bg.set("prePromotionAnalysis", analysis);
        return Value::map().with("blueGreen", bg);
    }
    let mut c = Value::map();
    if let Some(t) = r.traffic {
        c.set("canaryService", format!("{name}-canary"))
            .set("stableService", format!("{name}-stable"));
        let routing = match t {
            TrafficRouting::Istio => Value::map().with(
                "istio",
                Value::map().with(
                    "virtualService",
                    Value::map().with("name", r.virtual_service_for(name)),
                ),
            ),
            TrafficRouting::Smi => Value::map().with("smi", Value::map().with("rootService", name)),
        };
        c.set("trafficRouting", routing);
    }
    let mut analysis = analysis;
    analysis.set("startingStep", 1i64);
    c.set("analysis", analysis).set("steps", canary_steps(r));
    Value::map().with("canary", c)
}

/// The workload as a Rollout: the Deployment's (or StatefulSet's) pod
/// template, selector and replicas, with the strategy of the spec.
pub(crate) fn rollout(spec: &DeploySpec, r: &Rollout, workload: Value) -> Value {
    let mut out = Value::map();
    let Value::Map(fields) = workload else {
        return workload;
    };
    for (k, v) in fields {
        match k.as_str() {
            "apiVersion" => out.set(k, ROLLOUTS_API),
            "kind" => out.set(k, "Rollout"),
            "spec" => {
                let mut s = Value::map();
                if let Value::Map(sf) = v {
                    for (sk, sv) in sf {
                        match sk.as_str() {
                            // StatefulSet and Deployment-only fields.
                            "serviceName"
                            | "podManagementPolicy"
                            | "updateStrategy"
                            | "volumeClaimTemplates" => {}
                            "strategy" => {}
                            "template" => {
                                s.set("strategy", strategy(r, &spec.name));
                                s.set(sk, sv);
                            }
                            _ => {
                                s.set(sk, sv);
                            }
                        }
                    }
                }
                out.set(k, s)
            }
            _ => out.set(k, v),
        };
    }
    out
}

/// The AnalysisTemplate, when the spec has a rollout.
pub fn analysis(spec: &DeploySpec) -> Option<Value> {
    spec.rollout.as_ref().map(|r| analysis_template(spec, r))
}

/// The PromQL query KEDA sizes the workload on.
pub(crate) fn keda_query(spec: &DeploySpec, metric: KedaMetric) -> String {
    let job = format!("job=\"{}\"", spec.name);
    match metric {
        KedaMetric::InFlight => format!("sum({}{{{job}}})", m::REQUESTS_IN_FLIGHT),
        KedaMetric::FramesPerSecond => {
            format!("sum(rate({}{{{job}}}[2m]))", m::MQTT_FRAMES_RECEIVED_TOTAL)
        }
    }
}

/// The KEDA trigger: a Prometheus query and its per-replica target.
pub(crate) fn keda_trigger(spec: &DeploySpec) -> Option<Value> {
    let k = spec.scaling.keda.as_ref()?;
    let md = Value::map()
        .with("serverAddress", k.prometheus_address.as_str())
        .with("query", keda_query(spec, k.metric))
        .with("threshold", float_text(k.target));
    Some(
        Value::map()
            .with("type", "prometheus")
            .with("name", k.metric.as_str())
            .with("metadata", md),
    )
}

/// The KEDA ScaledObject, when `scaling.keda` is set.
pub fn scaled_object(spec: &DeploySpec) -> Option<Value> {
    let k = spec.scaling.keda.as_ref()?;
    let target = Value::map()
        .with("apiVersion", super::workload_api_version(spec))
        .with("kind", super::workload_kind(spec))
        .with("name", spec.name.as_str());
    let s = Value::map()
        .with("scaleTargetRef", target)
        .with("minReplicaCount", k.min)
        .with("maxReplicaCount", k.max)
        .with("triggers", vec![keda_trigger(spec)?]);
    Some(object(KEDA_API, "ScaledObject", meta(spec, &spec.name), s))
}
