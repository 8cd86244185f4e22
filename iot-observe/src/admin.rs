//! Admin routes (feature `admin`): read and change the log filter, read
//! the effective configuration and the circuit breaker states.
//!
//! | method and path | answers |
//! | --- | --- |
//! | `GET {prefix}/log-level` | `{"filter": "<in effect>", "initial": "<at start>"}` |
//! | `PUT {prefix}/log-level` | sets the filter from the body: directives as plain text (`info,iot_core=debug`) or `{"filter": "..."}`; 400 if they do not parse |
//! | `DELETE {prefix}/log-level` | restores the filter the process started with |
//! | `GET {prefix}/config` | the configuration the application registered, as JSON |
//! | `GET {prefix}/breakers` | `[{"name": "...", "state": "..."}]` from the registered reader |
//!
//! The prefix is `/admin` by default. A route whose source was not
//! registered is not routed (404). Responses are `application/json` with
//! `Cache-Control: no-store`; every filter change is logged at `warn` with
//! the old and new directives, under the old filter (so a change to `off`
//! is still recorded).
//!
//! # Protect these routes
//!
//! They change how the service behaves (a `trace` filter can flood the log
//! pipeline and slow every request) and show its configuration. **Never
//! serve them on a public port**: serve them on a listener bound to
//! loopback (`127.0.0.1`, reached with `kubectl port-forward`), or behind
//! authentication (a tower auth layer, a mesh policy). Register a redacted
//! view of the configuration: whatever [`Admin::config`] is given is shown
//! to whoever reaches the route.
//!
//! ```
//! use iot_observe::admin::Admin;
//! use iot_observe::tracing_init::TracingConfig;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let (subscriber, log) = TracingConfig::json().build_reloadable(std::io::sink).unwrap();
//! # let _keep = subscriber;
//! // In `main`: `let log = tracing_init::init(TracingConfig::default())?;`
//! let admin: axum::Router = Admin::new()
//!     .log_handle(log)
//!     .config(serde_json::json!({ "broker": "mqtts://broker:8883", "batch": 64 }))
//!     .breakers(|| vec![("broker".to_owned(), "closed".to_owned())])
//!     .router();
//! // Serve `admin` on 127.0.0.1 only, e.g. with `axum::serve` (axum's
//! // `tokio` and `http1` features, in the application's manifest).
//!
//! let request = |method: &str, path: &str, body: &'static str| {
//!     http::Request::builder().method(method).uri(path).body(axum::body::Body::from(body)).unwrap()
//! };
//! let response = admin.clone().oneshot(request("PUT", "/admin/log-level", "debug")).await.unwrap();
//! assert_eq!(response.status(), 200);
//! let response = admin.oneshot(request("GET", "/admin/breakers", "")).await.unwrap();
//! assert_eq!(response.status(), 200);
//! # }
//! ```

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::routing::get;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};

use crate::endpoint::normalize_prefix;
use crate::tracing_init::{LogFilterError, LogHandle};

/// The longest filter a `PUT` accepts, in bytes.
const MAX_FILTER_BYTES: usize = 4096;

/// Reads circuit breaker states for `GET {prefix}/breakers`: pairs of
/// (name, state), such as `("broker", "open")`.
///
/// Implemented by closures returning `Vec<(String, String)>` and, with
/// feature `resilience`, by `Vec<CircuitBreakerHandle>` of iot-resilience:
///
/// ```
/// use iot_observe::admin::BreakerStates;
///
/// let reader = || vec![("broker".to_owned(), "half_open".to_owned())];
/// assert_eq!(reader.breaker_states()[0].1, "half_open");
/// ```
pub trait BreakerStates: Send + Sync + 'static {
    /// The current (name, state) pairs.
    fn breaker_states(&self) -> Vec<(String, String)>;
}

impl<F> BreakerStates for F
where
    F: Fn() -> Vec<(String, String)> + Send + Sync + 'static,
{
    fn breaker_states(&self) -> Vec<(String, String)> {
        self()
    }
}

/// The breakers' names and states (`closed`, `open`, `half_open`, ...).
#[cfg(feature = "resilience")]
#[cfg_attr(docsrs, doc(cfg(feature = "resilience")))]
impl BreakerStates for Vec<iot_resilience::circuit_breaker::CircuitBreakerHandle> {
    fn breaker_states(&self) -> Vec<(String, String)> {
        self.iter()
            .map(|handle| (handle.name().to_owned(), handle.state().to_string()))
            .collect()
    }
}

type ConfigFn = dyn Fn() -> Result<Value, serde_json::Error> + Send + Sync;

/// Builds the admin [`Router`]; see the [module docs](self), and protect
/// the routes.
#[derive(Clone, Default)]
pub struct Admin {
    prefix: Option<String>,
    log: Option<LogHandle>,
    config: Option<Arc<ConfigFn>>,
    breakers: Option<Arc<dyn BreakerStates>>,
}

impl fmt::Debug for Admin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admin")
            .field("prefix", &self.prefix())
            .field("log", &self.log.is_some())
            .field("config", &self.config.is_some())
            .field("breakers", &self.breakers.is_some())
            .finish()
    }
}

impl Admin {
    /// No routes yet, prefix `/admin`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The path prefix (default `/admin`; `""` or `"/"` for none).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Serves `{prefix}/log-level` (read, change, reset) over `handle`.
    pub fn log_handle(mut self, handle: LogHandle) -> Self {
        self.log = Some(handle);
        self
    }

    /// Serves `value`, serialized with serde_json on every request, at
    /// `{prefix}/config`. Register a redacted view: no passwords, keys or
    /// tokens.
    pub fn config<T>(mut self, value: T) -> Self
    where
        T: Serialize + Send + Sync + 'static,
    {
        self.config = Some(Arc::new(move || serde_json::to_value(&value)));
        self
    }

    /// Serves what `current` returns at `{prefix}/config`: for a
    /// configuration that changes while the process runs.
    pub fn config_fn<F>(mut self, current: F) -> Self
    where
        F: Fn() -> Value + Send + Sync + 'static,
    {
        self.config = Some(Arc::new(move || Ok(current())));
        self
    }

    /// Serves `reader`'s states at `{prefix}/breakers`.
    pub fn breakers(mut self, reader: impl BreakerStates) -> Self {
        self.breakers = Some(Arc::new(reader));
        self
    }

    fn prefix(&self) -> String {
        normalize_prefix(self.prefix.as_deref().unwrap_or("/admin"))
    }

    /// The router with the registered routes; merge it into an
    /// application served on loopback only, or put authentication in
    /// front of it.
    pub fn router<S>(self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let prefix = self.prefix();
        let mut router = Router::new();
        if let Some(log) = self.log {
            let (read, set, reset) = (log.clone(), log.clone(), log);
            router = router.route(
                &format!("{prefix}/log-level"),
                get(move || async move { log_filter(&read) })
                    .put(move |headers: HeaderMap, body: Bytes| async move {
                        set_log_filter(&set, &headers, &body)
                    })
                    .delete(move || async move { reset_log_filter(&reset) }),
            );
        }
        if let Some(config) = self.config {
            router = router.route(
                &format!("{prefix}/config"),
                get(move || async move {
                    match config() {
                        Ok(value) => json_response(StatusCode::OK, &value),
                        Err(error) => error_response(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            &format!("configuration does not serialize: {error}"),
                        ),
                    }
                }),
            );
        }
        if let Some(breakers) = self.breakers {
            router = router.route(
                &format!("{prefix}/breakers"),
                get(move || async move {
                    let states: Vec<Value> = breakers
                        .breaker_states()
                        .into_iter()
                        .map(|(name, state)| json!({ "name": name, "state": state }))
                        .collect();
                    json_response(StatusCode::OK, &Value::Array(states))
                }),
            );
        }
        router
    }
}

fn log_filter(log: &LogHandle) -> Response<Body> {
    match log.filter() {
        Ok(filter) => json_response(
            StatusCode::OK,
            &json!({ "filter": filter, "initial": log.initial_filter() }),
        ),
        Err(error) => filter_error(&error),
    }
}

fn set_log_filter(log: &LogHandle, headers: &HeaderMap, body: &[u8]) -> Response<Body> {
    if body.len() > MAX_FILTER_BYTES {
        return error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("a filter has at most {MAX_FILTER_BYTES} bytes"),
        );
    }
    let Some(directives) = directives_from(headers, body) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "send the directives as plain text or as {\"filter\": \"...\"}",
        );
    };
    change_log_filter(
        log,
        &directives,
        "log filter changed through the admin route",
    )
}

fn reset_log_filter(log: &LogHandle) -> Response<Body> {
    let initial = log.initial_filter().to_owned();
    change_log_filter(log, &initial, "log filter reset through the admin route")
}

/// Logs the change at warn under the filter in effect before it (so a
/// change to `off` is still recorded), then makes it.
fn change_log_filter(log: &LogHandle, directives: &str, message: &str) -> Response<Body> {
    let filter = match LogHandle::parse(directives) {
        Ok(filter) => filter,
        Err(error) => return filter_error(&error),
    };
    let before = log.filter().unwrap_or_default();
    tracing::warn!(before = %before, after = %directives, "{message}");
    match log.apply(filter) {
        Ok(()) => log_filter(log),
        Err(error) => filter_error(&error),
    }
}

/// Plain text, or `{"filter": "..."}` when the body is JSON.
fn directives_from(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
        || text.starts_with('{');
    if json {
        let value: Value = serde_json::from_str(text).ok()?;
        return value.get("filter")?.as_str().map(str::to_owned);
    }
    Some(text.to_owned())
}

fn filter_error(error: &LogFilterError) -> Response<Body> {
    let status = match error {
        LogFilterError::Invalid { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    error_response(status, &error.to_string())
}

fn error_response(status: StatusCode, message: &str) -> Response<Body> {
    json_response(status, &json!({ "error": message }))
}

fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    let mut response = Response::new(Body::from(value.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
