//! The axum router helper.
#![cfg(feature = "axum")]

use std::sync::Arc;

use axum::body::Body;
use http::{Request, StatusCode};
use iot_observe::endpoint::{HealthEndpoint, router};
use iot_observe::health::{CheckOptions, HealthConfig, HealthRegistry, Status, check_fn};
use tower::ServiceExt;

async fn status(app: &axum::Router, method: &str, path: &str) -> StatusCode {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(request).await.unwrap().status()
}

fn registry(prefix: &str) -> HealthRegistry {
    HealthRegistry::builder()
        .config(HealthConfig::default().path_prefix(prefix))
        .check(
            "db:ping",
            check_fn(|| async { Status::Fail }),
            CheckOptions::readiness(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn merges_into_an_application() {
    let endpoint = HealthEndpoint::new(registry("/ops")).with_metrics(Arc::new(String::new));
    endpoint.registry().refresh().await;
    let app = axum::Router::new()
        .route("/api", axum::routing::get(|| async { "hello" }))
        .merge(router(endpoint));
    assert_eq!(status(&app, "GET", "/api").await, StatusCode::OK);
    assert_eq!(
        status(&app, "GET", "/ops/health/live").await,
        StatusCode::OK
    );
    assert_eq!(
        status(&app, "GET", "/ops/health/ready").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        status(&app, "HEAD", "/ops/health/startup").await,
        StatusCode::OK
    );
    assert_eq!(
        status(&app, "GET", "/ops/health").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(status(&app, "GET", "/ops/metrics").await, StatusCode::OK);
    assert_eq!(
        status(&app, "DELETE", "/ops/health").await,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(status(&app, "GET", "/health").await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn leaves_metrics_to_the_application_without_a_source() {
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(|| async { "own metrics" }))
        .merge(router(HealthEndpoint::new(registry(""))));
    assert_eq!(status(&app, "GET", "/metrics").await, StatusCode::OK);
    assert_eq!(status(&app, "GET", "/health/live").await, StatusCode::OK);
}
