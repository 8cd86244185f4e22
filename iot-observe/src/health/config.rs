//! Registry and report configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How much a health response shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    /// Every field, with one entry per check (the default: probe ports are
    /// normally internal).
    #[default]
    Always,
    /// Only `status`: for a port reachable from outside, where check
    /// outputs (host names, error texts) must not leak.
    Never,
}

/// Configuration of a [`HealthRegistry`](super::HealthRegistry) and its
/// responses.
///
/// Serde: every field is optional; durations are strings in
/// [the iot-rs duration format](iot_duration) (`"250ms"`, `"1.5s"`,
/// `"1m30s"`) or integers in milliseconds.
///
/// ```
/// use std::time::Duration;
/// use iot_observe::health::{Detail, HealthConfig};
///
/// let config: HealthConfig = serde_json::from_str(
///     r#"{ "interval": "15s", "timeout": 2000, "detail": "never", "version": "1.4.2" }"#,
/// )
/// .unwrap();
/// assert_eq!(
///     config,
///     HealthConfig::default()
///         .interval(Duration::from_secs(15))
///         .timeout(Duration::from_secs(2))
///         .detail(Detail::Never)
///         .version("1.4.2")
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    /// How often the background task runs every check. Default 10 s.
    #[serde(with = "iot_duration::serde")]
    pub interval: Duration,
    /// The timeout of a check without its own. Default 5 s.
    #[serde(with = "iot_duration::serde")]
    pub timeout: Duration,
    /// How much responses show. Default [`Detail::Always`].
    pub detail: Detail,
    /// `version`: the service's public version (e.g.
    /// `env!("CARGO_PKG_VERSION")` of the binary). Omitted when `None`.
    pub version: Option<String>,
    /// `releaseId`: the build or release identifier. Omitted when `None`.
    pub release_id: Option<String>,
    /// `serviceId`: this service instance. Omitted when `None`.
    pub service_id: Option<String>,
    /// `description`: what the service is. Omitted when `None`.
    pub description: Option<String>,
    /// A path prefix for every endpoint route (`"/mgmt"` serves
    /// `/mgmt/health/live`). Default empty.
    pub path_prefix: String,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            detail: Detail::Always,
            version: None,
            release_id: None,
            service_id: None,
            description: None,
            path_prefix: String::new(),
        }
    }
}

impl HealthConfig {
    /// Sets the refresh interval.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets the default check timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the detail level.
    pub fn detail(mut self, detail: Detail) -> Self {
        self.detail = detail;
        self
    }

    /// Sets `version`.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Sets `releaseId`.
    pub fn release_id(mut self, release_id: impl Into<String>) -> Self {
        self.release_id = Some(release_id.into());
        self
    }

    /// Sets `serviceId`.
    pub fn service_id(mut self, service_id: impl Into<String>) -> Self {
        self.service_id = Some(service_id.into());
        self
    }

    /// Sets `description`.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the route prefix (a missing leading `/` is added, a trailing one
    /// removed).
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.path_prefix = prefix.into();
        self
    }
}
