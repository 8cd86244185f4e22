//! The HTTP mode of the metrics layer over a real axum `Router`: series by
//! matched route template, method and status class; unmatched paths
//! collapse to one value; the in-flight gauge.
#![cfg(feature = "axum")]

use std::collections::BTreeMap;
use std::future::Future;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Method, Request, StatusCode};
use iot_observe::metrics_layer::{MetricsLayer, UNMATCHED_ROUTE};
use metrics_util::MetricKind;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tower::ServiceExt;

/// One snapshot (which resets the values: gauges read as the change since
/// the previous one): `name{label="value",...}` (labels sorted) to its
/// value, by kind.
#[derive(Debug, Default)]
struct Series {
    counters: BTreeMap<String, f64>,
    gauges: BTreeMap<String, f64>,
    histograms: BTreeMap<String, f64>,
}

fn snapshot(snapshotter: &Snapshotter) -> Series {
    let mut out = Series::default();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let (kind, key) = key.into_parts();
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}=\"{}\"", l.key(), l.value()))
            .collect();
        labels.sort();
        let value = match value {
            DebugValue::Counter(v) => v as f64,
            DebugValue::Gauge(v) => v.into_inner(),
            DebugValue::Histogram(v) => v.len() as f64,
        };
        let map = match kind {
            MetricKind::Counter => &mut out.counters,
            MetricKind::Gauge => &mut out.gauges,
            MetricKind::Histogram => &mut out.histograms,
        };
        map.insert(format!("{}{{{}}}", key.name(), labels.join(",")), value);
    }
    out
}

/// Runs `f` on a current-thread runtime with `recorder` as the local
/// recorder, so the layer's handles (described at build time, registered
/// on first sight of a series) land in it.
fn with_recorder<F: Future<Output = ()>>(recorder: &DebuggingRecorder, f: impl FnOnce() -> F) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    metrics::with_local_recorder(recorder, || runtime.block_on(f()));
}

fn request(method: Method, path: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .unwrap()
}

fn app() -> Router {
    Router::new()
        .route(
            "/devices/{id}",
            get(|| async { "a device" }).put(|| async { StatusCode::NO_CONTENT }),
        )
        .route(
            "/devices",
            axum::routing::post(|| async { StatusCode::CREATED }),
        )
        .route("/fail", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .nest(
            "/api",
            Router::new().route("/readings/{device}", get(|| async { "[]" })),
        )
        .layer(MetricsLayer::http())
}

#[test]
fn labels_are_route_templates_methods_and_status_classes() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    with_recorder(&recorder, || async {
        let app = app();
        let calls = [
            (Method::GET, "/devices/d-1", StatusCode::OK),
            (Method::GET, "/devices/d-2", StatusCode::OK),
            (Method::GET, "/devices/d-3?verbose=1", StatusCode::OK),
            (Method::PUT, "/devices/d-1", StatusCode::NO_CONTENT),
            (Method::POST, "/devices", StatusCode::CREATED),
            (Method::GET, "/fail", StatusCode::SERVICE_UNAVAILABLE),
            (Method::GET, "/api/readings/d-9", StatusCode::OK),
            // Matched route, method not allowed: the route's 405.
            (
                Method::DELETE,
                "/devices/d-1",
                StatusCode::METHOD_NOT_ALLOWED,
            ),
            (
                Method::from_bytes(b"PURGE").unwrap(),
                "/devices/d-1",
                StatusCode::METHOD_NOT_ALLOWED,
            ),
            // No route: one `unmatched` series however many paths.
            (Method::GET, "/wp-login.php", StatusCode::NOT_FOUND),
            (Method::GET, "/devices/d-1/secret", StatusCode::NOT_FOUND),
            (Method::POST, "/.env", StatusCode::NOT_FOUND),
        ];
        for (method, path, status) in calls {
            let response = app.clone().oneshot(request(method, path)).await.unwrap();
            assert_eq!(response.status(), status, "{path}");
        }
    });

    let Series {
        counters,
        gauges,
        histograms,
    } = snapshot(&snapshotter);
    let unmatched = UNMATCHED_ROUTE;
    let expected = [
        ("GET", "/devices/{id}", "2xx", 3.0),
        ("PUT", "/devices/{id}", "2xx", 1.0),
        ("POST", "/devices", "2xx", 1.0),
        ("GET", "/fail", "5xx", 1.0),
        ("GET", "/api/readings/{device}", "2xx", 1.0),
        ("DELETE", "/devices/{id}", "4xx", 1.0),
        ("OTHER", "/devices/{id}", "4xx", 1.0),
        ("GET", unmatched, "4xx", 2.0),
        ("POST", unmatched, "4xx", 1.0),
    ];
    for (method, route, class, count) in expected {
        let name = format!(
            r#"iot_http_requests_total{{method="{method}",route="{route}",status_class="{class}"}}"#
        );
        assert_eq!(counters.get(&name), Some(&count), "{name} in {counters:#?}");
    }
    assert_eq!(
        counters.len(),
        9,
        "only the combinations seen: {counters:#?}"
    );
    for name in counters.keys() {
        for raw in ["d-1", "wp-login", ".env", "verbose"] {
            assert!(!name.contains(raw), "raw path in a label: {name}");
        }
    }

    assert_eq!(
        histograms[r#"iot_http_request_duration_seconds{method="GET",route="/devices/{id}",status_class="2xx"}"#],
        3.0,
        "{histograms:#?}"
    );
    assert_eq!(
        gauges[r#"iot_http_requests_in_flight{method="GET",route="/devices/{id}"}"#], 0.0,
        "{gauges:#?}"
    );
    assert!(
        gauges.keys().all(|k| !k.contains("status_class")),
        "{gauges:#?}"
    );
}

#[test]
fn in_flight_counts_pending_and_cancelled_requests_are_not_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let gauge = r#"gw_http_requests_in_flight{method="GET",route="/slow"}"#;
    with_recorder(&recorder, || async {
        let (release, wait) = tokio::sync::watch::channel(false);
        let app: Router = Router::new()
            .route(
                "/slow",
                get(move || {
                    let mut wait = wait.clone();
                    async move {
                        let _ = wait.wait_for(|go| *go).await;
                        "done"
                    }
                }),
            )
            .layer(iot_observe::metrics_layer::HttpMetricsLayer::with_prefix(
                "gw",
            ));
        let pending = tokio::spawn(app.clone().oneshot(request(Method::GET, "/slow")));
        let cancelled = tokio::spawn(app.clone().oneshot(request(Method::GET, "/slow")));
        tokio::task::yield_now().await;
        assert_eq!(snapshot(&snapshotter).gauges[gauge], 2.0);

        cancelled.abort();
        let _ = cancelled.await;
        // Change since the last snapshot: one fewer.
        let after_cancel = snapshot(&snapshotter);
        assert_eq!(after_cancel.gauges[gauge], -1.0);
        assert!(after_cancel.counters.is_empty(), "{after_cancel:#?}");

        release.send(true).unwrap();
        assert_eq!(pending.await.unwrap().unwrap().status(), StatusCode::OK);
        let done = snapshot(&snapshotter);
        assert_eq!(done.gauges[gauge], -1.0);
        assert_eq!(
            done.counters[r#"gw_http_requests_total{method="GET",route="/slow",status_class="2xx"}"#],
            1.0,
            "the cancelled request is not counted: {done:#?}"
        );
    });
}

#[test]
fn metrics_are_described() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    with_recorder(&recorder, || async {
        let app = app();
        app.oneshot(request(Method::GET, "/devices/d-1"))
            .await
            .unwrap();
    });
    let described: Vec<String> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(_, _, help, _)| help.is_some())
        .map(|(key, ..)| key.key().name().to_owned())
        .collect();
    for name in [
        "iot_http_requests_total",
        "iot_http_request_duration_seconds",
        "iot_http_requests_in_flight",
    ] {
        assert!(described.iter().any(|n| n == name), "{name}: {described:?}");
    }
}

#[test]
fn the_fixed_operation_mode_still_works_on_a_router() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    with_recorder(&recorder, || async {
        let app: Router = Router::new()
            .route("/ingest", axum::routing::post(|| async { "ok" }))
            .layer(MetricsLayer::new("ingest"));
        app.oneshot(request(Method::POST, "/ingest")).await.unwrap();
    });
    let counters = snapshot(&snapshotter).counters;
    assert_eq!(
        counters[r#"iot_requests_total{operation="ingest",outcome="success"}"#], 1.0,
        "{counters:#?}"
    );
}
