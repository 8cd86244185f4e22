//! The endpoint as a tower service (`oneshot`): every route, status,
//! content type and body shape.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use iot_observe::endpoint::HealthEndpoint;
use iot_observe::health::{
    CheckOptions, CheckResult, Detail, Group, HealthConfig, HealthRegistry, Status, check_fn,
};
use iot_observe::shutdown::Shutdown;
use iot_observe::{HEALTH_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE};
use serde_json::Value;
use tower::ServiceExt;

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    fn header(&self, name: &str) -> &str {
        self.headers[name].to_str().unwrap()
    }
}

async fn call(endpoint: &HealthEndpoint, method: Method, path: &str) -> Reply {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .body(())
        .unwrap();
    let response = endpoint.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

async fn get(endpoint: &HealthEndpoint, path: &str) -> Reply {
    call(endpoint, Method::GET, path).await
}

fn status_check(status: Status) -> impl iot_observe::health::HealthCheck {
    check_fn(move || async move { status })
}

fn config() -> HealthConfig {
    HealthConfig::default()
        .version("1.2.3")
        .release_id("1.2.3-abc")
        .service_id("gw-1")
        .description("test gateway")
}

/// liveness passes; readiness has a critical pass and a non-critical fail
/// (warn); startup fails.
async fn mixed() -> HealthEndpoint {
    let registry = HealthRegistry::builder()
        .config(config())
        .check(
            "process:loop",
            check_fn(|| async {
                CheckResult::pass()
                    .with_observed(12, "ms")
                    .with_component_type("system")
                    .with_component_id("worker-0")
            }),
            CheckOptions::liveness(),
        )
        .check(
            "db:ping",
            status_check(Status::Pass),
            CheckOptions::readiness(),
        )
        .check(
            "cache:ping",
            check_fn(|| async { CheckResult::fail("connection refused") }),
            CheckOptions::readiness().critical(false),
        )
        .check(
            "migrations:applied",
            status_check(Status::Fail),
            CheckOptions::startup(),
        )
        .build()
        .unwrap();
    registry.refresh().await;
    HealthEndpoint::new(registry)
}

fn assert_health_headers(reply: &Reply) {
    assert_eq!(reply.header("content-type"), HEALTH_CONTENT_TYPE);
    assert_eq!(reply.header("cache-control"), "no-store");
    assert_eq!(reply.header("content-length"), reply.body.len().to_string());
}

#[tokio::test]
async fn liveness_passes_with_full_body() {
    let endpoint = mixed().await;
    let reply = get(&endpoint, "/health/live").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_health_headers(&reply);
    let body = reply.json();
    assert_eq!(body["status"], "pass");
    assert_eq!(body["version"], "1.2.3");
    assert_eq!(body["releaseId"], "1.2.3-abc");
    assert_eq!(body["serviceId"], "gw-1");
    assert_eq!(body["description"], "test gateway");
    let checks = body["checks"].as_object().unwrap();
    assert_eq!(checks.len(), 1);
    let entries = checks["process:loop"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry["status"], "pass");
    assert_eq!(entry["componentId"], "worker-0");
    assert_eq!(entry["componentType"], "system");
    assert_eq!(entry["observedValue"], 12);
    assert_eq!(entry["observedUnit"], "ms");
    assert!(entry.get("output").is_none());
    let time = entry["time"].as_str().unwrap();
    // RFC 3339 UTC with milliseconds: 2024-02-29T13:05:09.042Z
    assert_eq!(time.len(), 24, "{time}");
    assert!(time.ends_with('Z') && &time[10..11] == "T", "{time}");
}

#[tokio::test]
async fn readiness_warns_on_non_critical_failure() {
    let endpoint = mixed().await;
    let reply = get(&endpoint, "/health/ready").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_health_headers(&reply);
    let body = reply.json();
    assert_eq!(body["status"], "warn");
    assert_eq!(body["checks"]["db:ping"][0]["status"], "pass");
    let cache = &body["checks"]["cache:ping"][0];
    assert_eq!(cache["status"], "fail");
    assert_eq!(cache["output"], "connection refused");
}

#[tokio::test]
async fn startup_fails_with_503() {
    let endpoint = mixed().await;
    let reply = get(&endpoint, "/health/startup").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_health_headers(&reply);
    let body = reply.json();
    assert_eq!(body["status"], "fail");
    assert_eq!(body["checks"]["migrations:applied"][0]["status"], "fail");
}

#[tokio::test]
async fn all_checks_at_health() {
    let endpoint = mixed().await;
    let reply = get(&endpoint, "/health").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    let body = reply.json();
    assert_eq!(body["status"], "fail");
    let mut names: Vec<_> = body["checks"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "cache:ping",
            "db:ping",
            "migrations:applied",
            "process:loop"
        ]
    );
}

#[tokio::test]
async fn liveness_stays_200_when_every_dependency_fails() {
    let registry = HealthRegistry::builder()
        .config(config())
        // The process's own check: the only thing liveness looks at.
        .check(
            "process:loop",
            status_check(Status::Pass),
            CheckOptions::liveness(),
        )
        .check(
            "db:ping",
            status_check(Status::Fail),
            CheckOptions::readiness(),
        )
        .check(
            "broker:tcp",
            status_check(Status::Fail),
            CheckOptions::readiness(),
        )
        .check(
            "cache:ping",
            check_fn(|| async {
                if true {
                    panic!("cache client bug");
                }
                Status::Pass
            }),
            CheckOptions::readiness(),
        )
        .build()
        .unwrap();
    registry.refresh().await;
    let endpoint = HealthEndpoint::new(registry);
    assert_eq!(get(&endpoint, "/health/ready").await.status, 503);
    let live = get(&endpoint, "/health/live").await;
    assert_eq!(live.status, StatusCode::OK);
    let body = live.json();
    assert_eq!(body["status"], "pass");
    // Liveness ran its own check and none of the dependencies'.
    let checks = body["checks"].as_object().expect("checks in the body");
    assert_eq!(checks.keys().collect::<Vec<_>>(), ["process:loop"]);
    // The whole-service view sees every failure.
    assert_eq!(get(&endpoint, "/health").await.status, 503);
}

#[tokio::test(start_paused = true)]
async fn slow_check_reports_timeout() {
    let registry = HealthRegistry::builder()
        .check(
            "slow:sleep",
            check_fn(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Status::Pass
            }),
            CheckOptions::readiness().timeout(Duration::from_millis(300)),
        )
        .build()
        .unwrap();
    let _refresher = registry.start();
    let endpoint = HealthEndpoint::new(registry);
    tokio::task::yield_now().await;
    // While the first run is still going, the endpoint answers at once.
    let pending = get(&endpoint, "/health/ready").await;
    assert_eq!(pending.status, 503);
    let output = pending.json()["checks"]["slow:sleep"][0]["output"].clone();
    assert!(output.as_str().unwrap().starts_with("pending"), "{output}");
    assert!(
        pending.json()["checks"]["slow:sleep"][0]
            .get("time")
            .is_none()
    );

    tokio::time::sleep(Duration::from_millis(301)).await;
    let reply = get(&endpoint, "/health/ready").await;
    assert_eq!(reply.status, 503);
    let entry = &reply.json()["checks"]["slow:sleep"][0];
    assert_eq!(entry["status"], "fail");
    assert_eq!(entry["output"], "timed out after 300ms");
}

#[tokio::test]
async fn slow_check_never_delays_a_response() {
    let registry = HealthRegistry::builder()
        .check(
            "slow:sleep",
            check_fn(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Status::Pass
            }),
            CheckOptions::readiness().timeout(Duration::from_secs(2)),
        )
        .build()
        .unwrap();
    let refresher = registry.start();
    let endpoint = HealthEndpoint::new(registry);
    tokio::time::sleep(Duration::from_millis(50)).await; // the run is in flight
    let started = std::time::Instant::now();
    for _ in 0..100 {
        let _ = get(&endpoint, "/health/ready").await;
    }
    assert!(started.elapsed() < Duration::from_millis(500));
    refresher.stop();
}

#[tokio::test]
async fn panicking_check_is_reported_not_fatal() {
    let registry = HealthRegistry::builder()
        .check(
            "bad:check",
            check_fn(|| async {
                if true {
                    panic!("index out of bounds");
                }
                Status::Pass
            }),
            CheckOptions::readiness(),
        )
        .build()
        .unwrap();
    registry.refresh().await;
    let endpoint = HealthEndpoint::new(registry);
    for _ in 0..2 {
        let reply = get(&endpoint, "/health/ready").await;
        assert_eq!(reply.status, 503);
        let entry = &reply.json()["checks"]["bad:check"][0];
        assert_eq!(entry["status"], "fail");
        assert_eq!(entry["output"], "check panicked: index out of bounds");
    }
}

#[tokio::test]
async fn head_has_headers_without_body() {
    let endpoint = mixed().await;
    let full = get(&endpoint, "/health/startup").await;
    let head = call(&endpoint, Method::HEAD, "/health/startup").await;
    assert_eq!(head.status, full.status);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-type"), HEALTH_CONTENT_TYPE);
    assert_eq!(head.header("content-length"), full.body.len().to_string());
    assert_eq!(head.header("cache-control"), "no-store");
}

#[tokio::test]
async fn other_methods_get_405_with_allow() {
    let endpoint = mixed().await.with_metrics(Arc::new(String::new));
    for path in [
        "/health",
        "/health/live",
        "/health/ready",
        "/health/startup",
        "/metrics",
    ] {
        for method in [Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS] {
            let reply = call(&endpoint, method.clone(), path).await;
            assert_eq!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert_eq!(reply.header("allow"), "GET, HEAD");
        }
    }
}

#[tokio::test]
async fn unknown_paths_get_404() {
    let endpoint = mixed().await;
    for path in [
        "/",
        "/health/",
        "/health/liveness",
        "/healthz",
        "/metrics",
        "/x/health",
    ] {
        let reply = get(&endpoint, path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.header("cache-control"), "no-store");
    }
    // Unknown paths are 404 whatever the method.
    assert_eq!(call(&endpoint, Method::POST, "/nope").await.status, 404);
}

#[tokio::test]
async fn query_strings_are_ignored() {
    let endpoint = mixed().await;
    assert_eq!(get(&endpoint, "/health/live?verbose=1").await.status, 200);
}

#[tokio::test]
async fn metrics_route() {
    let endpoint = mixed()
        .await
        .with_metrics(Arc::new(|| "# TYPE up gauge\nup 1\n".to_owned()));
    let reply = get(&endpoint, "/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), PROMETHEUS_CONTENT_TYPE);
    assert_eq!(reply.header("cache-control"), "no-store");
    assert_eq!(reply.body, b"# TYPE up gauge\nup 1\n");
    let head = call(&endpoint, Method::HEAD, "/metrics").await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-length"), "21");
}

#[tokio::test]
async fn prefix_moves_every_route() {
    let registry = HealthRegistry::builder()
        .config(HealthConfig::default().path_prefix("mgmt/"))
        .build()
        .unwrap();
    let endpoint = HealthEndpoint::new(registry).with_metrics(Arc::new(String::new));
    assert_eq!(endpoint.prefix(), "/mgmt");
    for path in [
        "/mgmt/health",
        "/mgmt/health/live",
        "/mgmt/health/ready",
        "/mgmt/health/startup",
        "/mgmt/metrics",
    ] {
        assert_eq!(get(&endpoint, path).await.status, StatusCode::OK, "{path}");
    }
    for path in ["/health", "/health/live", "/metrics"] {
        assert_eq!(
            get(&endpoint, path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[tokio::test]
async fn detail_never_shows_only_status() {
    let registry = HealthRegistry::builder()
        .config(config().detail(Detail::Never))
        .check(
            "db:ping",
            check_fn(|| async { CheckResult::fail("db.internal:5432 refused") }),
            CheckOptions::readiness(),
        )
        .build()
        .unwrap();
    registry.refresh().await;
    let endpoint = HealthEndpoint::new(registry);
    let reply = get(&endpoint, "/health/ready").await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.json(), serde_json::json!({ "status": "fail" }));
    let live = get(&endpoint, "/health/live").await;
    assert_eq!(live.json(), serde_json::json!({ "status": "pass" }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_storm_runs_no_extra_checks() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let registry = HealthRegistry::builder()
        .config(HealthConfig::default().interval(Duration::from_secs(3600)))
        .check(
            "db:ping",
            check_fn(move || {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    Status::Pass
                }
            }),
            CheckOptions::readiness().and(Group::Liveness),
        )
        .build()
        .unwrap();
    let refresher = registry.start();
    let endpoint = HealthEndpoint::new(registry);
    while runs.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(get(&endpoint, "/health/ready").await.status, 200);

    let requests: Vec<_> = (0..1000)
        .map(|i| {
            let endpoint = endpoint.clone();
            let path = ["/health/ready", "/health/live", "/health"][i % 3];
            tokio::spawn(async move { get(&endpoint, path).await.status })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1, "probes reached the check");
    refresher.stop();
}

#[tokio::test]
async fn shutdown_flips_readiness_not_liveness() {
    let shutdown = Shutdown::new(Duration::from_secs(30));
    let registry = HealthRegistry::builder()
        .check(
            "process:loop",
            status_check(Status::Pass),
            CheckOptions::liveness(),
        )
        .check(
            "db:ping",
            status_check(Status::Pass),
            CheckOptions::readiness(),
        )
        .check(
            Shutdown::CHECK_NAME,
            shutdown.clone(),
            CheckOptions::readiness(),
        )
        .build()
        .unwrap();
    registry.refresh().await;
    let endpoint = HealthEndpoint::new(registry);
    assert_eq!(get(&endpoint, "/health/ready").await.status, 200);

    shutdown.trigger();
    // No refresh in between: the very next probe sees it.
    let ready = get(&endpoint, "/health/ready").await;
    assert_eq!(ready.status, 503);
    let entry = &ready.json()["checks"]["shutdown:draining"][0];
    assert_eq!(entry["status"], "fail");
    assert_eq!(entry["output"], "draining: shutdown in progress");
    let live = get(&endpoint, "/health/live").await;
    assert_eq!(live.status, 200);
    assert_eq!(live.json()["status"], "pass");
}
