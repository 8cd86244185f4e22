//! The setups of `benches/observe.rs`, shared with `tests/observe_*.rs`:
//! a [`MetricsLayer`] recording into a real Prometheus recorder, and a
//! [`HealthEndpoint`] over a registry of ten cached checks.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::{Request, Uri};
use iot_observe::endpoint::HealthEndpoint;
use iot_observe::health::{CheckOptions, CheckResult, HealthConfig, HealthRegistry, check_fn};
use iot_observe::metrics_layer::{DefaultClassifier, MetricsLayer, MetricsService};
use iot_observe::prometheus::{PrometheusConfig, PrometheusExporter};
use tower::Layer;

/// The `operation` label of the benchmark's layer.
pub const OPERATION: &str = "bench";

/// `GET /health`: every check.
pub const HEALTH: &str = "/health";
/// `GET /health/ready`: the readiness group.
pub const READY: &str = "/health/ready";
/// `GET /health/live`: the liveness group.
pub const LIVE: &str = "/health/live";

/// A Prometheus exporter built by iot-observe (explicit buckets, HELP
/// text, upkeep task) and its recorder, *not* installed globally: use it
/// with `metrics::with_local_recorder`. Needs a tokio runtime context
/// (the upkeep task is spawned on it; on a runtime that is only entered,
/// never driven, it never runs, so call `run_upkeep` yourself).
pub fn prometheus() -> (PrometheusExporter, impl metrics::Recorder) {
    PrometheusExporter::build(PrometheusConfig::default()).expect("default config is valid")
}

/// `MetricsLayer::new(OPERATION)` (prefix `iot`, labels `operation` and
/// `outcome`, the default classifier), its handles bound to `recorder`.
pub fn metrics_layer(recorder: &dyn metrics::Recorder) -> MetricsLayer {
    metrics::with_local_recorder(recorder, || MetricsLayer::new(OPERATION))
}

/// The layer around `inner`.
pub fn metered<S>(layer: &MetricsLayer, inner: S) -> MetricsService<S, DefaultClassifier> {
    layer.layer(inner)
}

/// `iot_requests_total{operation="bench",outcome="success"}` as rendered.
pub fn success_series() -> String {
    format!(r#"iot_requests_total{{operation="{OPERATION}",outcome="success"}}"#)
}

/// The value of the first sample line of `series` in an exposition `text`.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

/// The ten checks: name, in the liveness group (else readiness), result.
fn checks() -> [(&'static str, bool, CheckResult); 10] {
    [
        ("process:heartbeat", true, CheckResult::pass()),
        (
            "worker:loop",
            true,
            CheckResult::pass().with_observed(12, "ms"),
        ),
        (
            "memory:utilization",
            true,
            CheckResult::pass()
                .with_observed(41.5, "%")
                .with_component_type("system"),
        ),
        (
            "mqtt:connection",
            false,
            CheckResult::pass()
                .with_component_id("broker-1.plant.local:8883")
                .with_component_type("component"),
        ),
        (
            "db:responseTime",
            false,
            CheckResult::pass()
                .with_observed(3, "ms")
                .with_component_type("datastore"),
        ),
        ("cache:ping", false, CheckResult::pass()),
        (
            "disk:free",
            false,
            CheckResult::pass()
                .with_observed(73, "%")
                .with_component_type("system"),
        ),
        (
            "upstream:responseTime",
            false,
            CheckResult::warn("p99 above 250 ms").with_observed(310, "ms"),
        ),
        (
            "queue:depth",
            false,
            CheckResult::pass().with_observed_value(0),
        ),
        ("config:loaded", false, CheckResult::pass()),
    ]
}

/// Checks in the liveness group.
pub const LIVENESS_CHECKS: usize = 3;
/// Checks in the readiness group.
pub const READINESS_CHECKS: usize = 7;
/// All checks.
pub const ALL_CHECKS: usize = LIVENESS_CHECKS + READINESS_CHECKS;

/// The health setup.
#[derive(Debug, Clone)]
pub struct Health {
    /// Ten checks (none instant, so requests read the cache), version set.
    pub registry: HealthRegistry,
    /// The endpoint over it.
    pub endpoint: HealthEndpoint,
    /// How many check runs happened, all checks together.
    pub runs: Arc<AtomicUsize>,
}

impl Health {
    /// Check runs so far.
    pub fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }
}

/// A registry of [`ALL_CHECKS`] checks (not yet run: call
/// `registry.refresh()` once) and its endpoint.
pub fn health() -> Health {
    let runs = Arc::new(AtomicUsize::new(0));
    let mut builder = HealthRegistry::builder().config(
        HealthConfig::default()
            .version("1.0.0")
            .service_id("gateway-7"),
    );
    for (name, liveness, result) in checks() {
        let runs = Arc::clone(&runs);
        let check = check_fn(move || {
            runs.fetch_add(1, Ordering::SeqCst);
            let result = result.clone();
            async move { result }
        });
        let options = if liveness {
            CheckOptions::liveness()
        } else {
            CheckOptions::readiness()
        };
        builder = builder.check(name, check, options);
    }
    let registry = builder.build().expect("valid checks");
    let endpoint = HealthEndpoint::new(registry.clone());
    Health {
        registry,
        endpoint,
        runs,
    }
}

/// `GET path`, built without allocating (static URI, no headers).
pub fn get(path: &'static str) -> Request<()> {
    let mut request = Request::new(());
    *request.uri_mut() = Uri::from_static(path);
    request
}
