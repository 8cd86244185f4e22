//! An axum router with the probe and metrics routes.

use axum::Router;

use super::HealthEndpoint;

/// An axum [`Router`] routing the endpoint's paths (`/metrics` only when a
/// metrics source is set, so the application may serve its own) to
/// `endpoint`; merge it into the application's router.
///
/// ```
/// use iot_observe::endpoint::{HealthEndpoint, router};
/// use iot_observe::health::HealthRegistry;
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let endpoint = HealthEndpoint::new(HealthRegistry::builder().build().unwrap());
/// let app: axum::Router = axum::Router::new().merge(router(endpoint));
///
/// let request = http::Request::get("/health/ready").body(axum::body::Body::empty()).unwrap();
/// assert_eq!(app.oneshot(request).await.unwrap().status(), 200);
/// # }
/// ```
pub fn router<S>(endpoint: HealthEndpoint) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let routes = endpoint.routes().clone();
    let mut router = Router::new()
        .route_service(&routes.live, endpoint.clone())
        .route_service(&routes.ready, endpoint.clone())
        .route_service(&routes.startup, endpoint.clone())
        .route_service(&routes.all, endpoint.clone());
    if endpoint.has_metrics() {
        router = router.route_service(&routes.metrics, endpoint);
    }
    router
}
