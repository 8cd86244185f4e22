//! PrometheusExporter: buckets, global labels, HELP text, install errors,
//! configuration validation and serde.
#![cfg(feature = "prometheus")]

use std::convert::Infallible;
use std::time::Duration;

use iot_observe::MetricsSource;
use iot_observe::metrics_layer::MetricsLayer;
use iot_observe::prometheus::{
    DEFAULT_BUCKETS, ExporterError, MetricMatcher, PrometheusConfig, PrometheusExporter,
};
use tower::{Layer, ServiceExt, service_fn};

fn lines_starting<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix)).collect()
}

#[tokio::test]
async fn layer_metrics_render_as_histograms_with_labels_and_help() {
    let config = PrometheusConfig::default()
        .service("gateway")
        .instance("pod-1")
        .label("region", "eu");
    let (exporter, recorder) = PrometheusExporter::build(config).unwrap();
    let layer = metrics::with_local_recorder(&recorder, || MetricsLayer::new("decode"));
    let svc = layer.layer(service_fn(|()| async { Ok::<_, Infallible>(()) }));
    svc.clone().oneshot(()).await.unwrap();
    svc.oneshot(()).await.unwrap();

    let text = exporter.render();
    let labels = r#"service="gateway",instance="pod-1",region="eu",operation="decode""#;
    for line in [
        concat!(
            "# HELP iot_requests_total ",
            "Requests completed, by operation and outcome (success or error)."
        ),
        "# TYPE iot_requests_total counter",
        "# TYPE iot_request_duration_seconds histogram",
        "# TYPE iot_requests_in_flight gauge",
        &format!(r#"iot_requests_total{{{labels},outcome="success"}} 2"#),
        &format!(r#"iot_requests_total{{{labels},outcome="error"}} 0"#),
        &format!(r#"iot_requests_in_flight{{{labels}}} 0"#),
        &format!(r#"iot_request_duration_seconds_bucket{{{labels},outcome="success",le="10"}} 2"#),
        &format!(
            r#"iot_request_duration_seconds_bucket{{{labels},outcome="success",le="+Inf"}} 2"#
        ),
        &format!(r#"iot_request_duration_seconds_count{{{labels},outcome="success"}} 2"#),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    let buckets = lines_starting(&text, "iot_request_duration_seconds_bucket{")
        .into_iter()
        .filter(|l| l.contains(r#"outcome="success""#))
        .count();
    assert_eq!(buckets, DEFAULT_BUCKETS.len() + 1);
    assert!(!text.contains("quantile="), "no summaries:\n{text}");
    assert_eq!(lines_starting(&text, "# HELP ").len(), 3, "{text}");
}

#[tokio::test]
async fn bucket_overrides_apply_by_name() {
    let config = PrometheusConfig::default().buckets([0.1, 1.0]).buckets_for(
        MetricMatcher::Prefix("health_".into()),
        [0.001, 0.002, 0.004],
    );
    let (exporter, recorder) = PrometheusExporter::build(config).unwrap();
    metrics::with_local_recorder(&recorder, || {
        metrics::histogram!("health_check_duration_seconds", "check" => "db").record(0.003);
        metrics::histogram!("decode_duration_seconds").record(0.5);
    });
    exporter.run_upkeep();
    let text = exporter.render();
    let health = lines_starting(&text, "health_check_duration_seconds_bucket");
    assert_eq!(
        health,
        [
            r#"health_check_duration_seconds_bucket{check="db",le="0.001"} 0"#,
            r#"health_check_duration_seconds_bucket{check="db",le="0.002"} 0"#,
            r#"health_check_duration_seconds_bucket{check="db",le="0.004"} 1"#,
            r#"health_check_duration_seconds_bucket{check="db",le="+Inf"} 1"#,
        ]
    );
    assert_eq!(
        lines_starting(&text, "decode_duration_seconds_bucket"),
        [
            r#"decode_duration_seconds_bucket{le="0.1"} 0"#,
            r#"decode_duration_seconds_bucket{le="1"} 1"#,
            r#"decode_duration_seconds_bucket{le="+Inf"} 1"#,
        ]
    );
    assert!(
        text.contains("# HELP health_check_duration_seconds "),
        "{text}"
    );
}

#[tokio::test]
async fn is_a_metrics_source() {
    let (exporter, recorder) = PrometheusExporter::build(PrometheusConfig::default()).unwrap();
    metrics::with_local_recorder(&recorder, || metrics::gauge!("queue_depth").set(7.0));
    let source: Box<dyn MetricsSource> = Box::new(exporter.clone());
    assert_eq!(source.render(), exporter.render());
    assert!(source.render().contains("queue_depth 7\n"));
}

#[test]
fn install_needs_a_runtime_then_installs_once() {
    let config = PrometheusConfig::default().service("svc");
    assert_eq!(
        PrometheusExporter::install(config.clone()).unwrap_err(),
        ExporterError::NoRuntime
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let exporter = PrometheusExporter::install(config.clone()).unwrap();
        let again = PrometheusExporter::install(config).unwrap_err();
        assert_eq!(again, ExporterError::RecorderAlreadySet);
        metrics::counter!("installed_total").increment(1);
        let text = exporter.render();
        assert!(
            text.contains(r#"installed_total{service="svc"} 1"#),
            "{text}"
        );
    });
}

#[test]
fn validation_rejects_bad_labels_buckets_and_interval() {
    let invalid_label = |name: &str| {
        PrometheusConfig::default()
            .label(name, "x")
            .validate()
            .unwrap_err()
    };
    for name in ["1abc", "a-b", "__name", "", "le", "outcome", "check"] {
        assert_eq!(
            invalid_label(name),
            ExporterError::InvalidLabelName(name.into())
        );
    }
    let bad_buckets = |buckets: Vec<f64>| PrometheusConfig::default().buckets(buckets).validate();
    assert!(bad_buckets(vec![]).is_err());
    assert!(bad_buckets(vec![0.1, 0.1]).is_err());
    assert!(bad_buckets(vec![1.0, 0.5]).is_err());
    assert!(bad_buckets(vec![0.1, f64::INFINITY]).is_err());
    assert!(bad_buckets(vec![f64::NAN]).is_err());
    let override_err = PrometheusConfig::default()
        .buckets_for(MetricMatcher::Full("x_seconds".into()), [])
        .validate()
        .unwrap_err();
    assert_eq!(
        override_err,
        ExporterError::InvalidBuckets {
            metric: Some("x_seconds".into()),
            reason: "empty"
        }
    );
    assert_eq!(
        PrometheusConfig::default()
            .upkeep_interval(Duration::ZERO)
            .validate(),
        Err(ExporterError::ZeroUpkeepInterval)
    );
    assert!(PrometheusConfig::default().validate().is_ok());
}

#[test]
fn service_and_instance_fields_win_over_labels() {
    let config = PrometheusConfig::default()
        .label("service", "old")
        .label("zone", "a")
        .service("new");
    let labels: Vec<_> = config.global_labels().collect();
    assert_eq!(labels, [("service", "new"), ("zone", "a")]);
}

#[test]
fn serde_round_trip_and_defaults() {
    let config = PrometheusConfig::default()
        .service("gw")
        .buckets_for(MetricMatcher::Suffix("_bytes".into()), [1024.0, 65536.0])
        .upkeep_interval(Duration::from_millis(1500));
    let json = serde_json::to_value(&config).unwrap();
    assert_eq!(json["upkeep_interval"], "1s500ms");
    assert_eq!(json["bucket_overrides"][0]["matcher"]["suffix"], "_bytes");
    let back: PrometheusConfig = serde_json::from_value(json).unwrap();
    assert_eq!(back, config);

    let parsed: PrometheusConfig =
        serde_json::from_str(r#"{"instance": "i-1", "upkeep_interval": "10s"}"#).unwrap();
    assert_eq!(parsed.upkeep_interval, Duration::from_secs(10));
    assert_eq!(parsed.buckets, DEFAULT_BUCKETS);
    let millis: PrometheusConfig = serde_json::from_str(r#"{"upkeep_interval": 250}"#).unwrap();
    assert_eq!(millis.upkeep_interval, Duration::from_millis(250));
    assert!(serde_json::from_str::<PrometheusConfig>(r#"{"bukets": []}"#).is_err());
    assert!(
        serde_json::from_str::<PrometheusConfig>(r#"{"upkeep_interval": "5 parsecs"}"#).is_err()
    );
}
