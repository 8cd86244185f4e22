//! The observe benchmark's setups do what they claim: the `MetricsLayer`
//! records every request into the Prometheus recorder (counter, histogram,
//! in-flight gauge), and the health endpoint answers from ten cached
//! checks (run once, never by a request) with full JSON bodies.

use http_body_util::BodyExt;
use iot_benches::observe_setup::{
    ALL_CHECKS, HEALTH, LIVE, LIVENESS_CHECKS, OPERATION, READINESS_CHECKS, READY, get, health,
    metered, metrics_layer, prometheus, sample, success_series,
};
use iot_benches::resilience_driver::{Echo, call, runtime};
use iot_benches::resilience_setup::REQUEST;
use iot_observe::HEALTH_CONTENT_TYPE;
use iot_observe::metrics_layer::MetricsLayer;

#[test]
fn metrics_layer_records_into_the_prometheus_recorder() {
    let rt = runtime();
    let _context = rt.enter();
    let (exporter, recorder) = prometheus();
    let layer = metrics_layer(&recorder);
    let mut svc = metered(&layer, Echo);
    // As in the benchmark: called with the recorder as the local one.
    metrics::with_local_recorder(&recorder, || {
        for _ in 0..1_000 {
            assert_eq!(call(&mut svc, REQUEST).unwrap(), REQUEST);
        }
    });
    exporter.run_upkeep();
    let text = exporter.render();
    assert_eq!(sample(&text, &success_series()), Some(1_000.0), "{text}");
    let count = format!(
        r#"iot_request_duration_seconds_count{{operation="{OPERATION}",outcome="success"}}"#
    );
    assert_eq!(sample(&text, &count), Some(1_000.0), "{text}");
    let in_flight = format!(r#"iot_requests_in_flight{{operation="{OPERATION}"}}"#);
    assert_eq!(sample(&text, &in_flight), Some(0.0), "{text}");
    // Handles bind at build time: calls outside the local recorder count too.
    call(&mut svc, REQUEST).unwrap();
    assert_eq!(sample(&exporter.render(), &success_series()), Some(1_001.0));
}

#[test]
fn a_layer_built_without_the_recorder_records_nothing_there() {
    let rt = runtime();
    let _context = rt.enter();
    let (exporter, _recorder) = prometheus();
    let layer =
        metrics::with_local_recorder(&metrics::NoopRecorder, || MetricsLayer::new(OPERATION));
    let mut svc = metered(&layer, Echo);
    for _ in 0..10 {
        call(&mut svc, REQUEST).unwrap();
    }
    assert_eq!(sample(&exporter.render(), &success_series()), None);
}

/// `GET path` through `Service::call` (the benchmark's driver): status,
/// content type, and the body parsed.
fn get_json(
    rt: &tokio::runtime::Runtime,
    endpoint: &mut iot_observe::endpoint::HealthEndpoint,
    path: &'static str,
) -> (http::StatusCode, String, serde_json::Value) {
    let response = call(endpoint, get(path)).unwrap();
    let status = response.status();
    let content_type = response.headers()[http::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    let length: usize = response.headers()[http::header::CONTENT_LENGTH]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = rt
        .block_on(response.into_body().collect())
        .expect("infallible")
        .to_bytes();
    assert_eq!(body.len(), length, "{path}: Content-Length");
    let json = serde_json::from_slice(&body).expect("a JSON body");
    (status, content_type, json)
}

#[test]
fn health_endpoint_answers_from_ten_cached_checks() {
    let rt = runtime();
    let _context = rt.enter();
    let setup = health();
    assert_eq!(setup.runs(), 0);
    rt.block_on(setup.registry.refresh());
    assert_eq!(setup.runs(), ALL_CHECKS);

    let mut endpoint = setup.endpoint.clone();
    for (path, checks) in [
        (HEALTH, ALL_CHECKS),
        (READY, READINESS_CHECKS),
        (LIVE, LIVENESS_CHECKS),
    ] {
        let (status, content_type, json) = get_json(&rt, &mut endpoint, path);
        assert_eq!(status, 200, "{path}");
        assert_eq!(content_type, HEALTH_CONTENT_TYPE);
        let entries = json["checks"].as_object().expect("checks object");
        assert_eq!(entries.len(), checks, "{path}: {json}");
        for (name, entry) in entries {
            let entry = &entry[0];
            assert!(entry["time"].is_string(), "{name} has run: {entry}");
            assert_ne!(entry["status"], "fail", "{name}: {entry}");
        }
        assert_eq!(json["version"], "1.0.0");
    }
    // One readiness check warns: the aggregate warns, still 200.
    let (_, _, json) = get_json(&rt, &mut endpoint, READY);
    assert_eq!(json["status"], "warn");

    // Requests read the cache: no check ran again.
    for _ in 0..1_000 {
        call(&mut endpoint, get(HEALTH)).unwrap();
        call(&mut endpoint, get(READY)).unwrap();
    }
    assert_eq!(setup.runs(), ALL_CHECKS);
}
