//! CPU and memory requests and limits.

use serde::{Deserialize, Serialize};

/// Requests and limits, as Kubernetes quantities (`250m`, `1`, `256Mi`).
///
/// A quantity left out takes its default (requests `100m` CPU and `128Mi`
/// memory, limits `500m` CPU and `256Mi` memory); `"none"` removes a limit
/// (which `check` reports as ID001).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Resources {
    /// What the scheduler reserves.
    pub requests: Quantities,
    /// The ceiling.
    pub limits: Quantities,
}

/// A CPU and a memory quantity.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quantities {
    /// CPU, in cores (`1`, `0.5`) or millicores (`500m`).
    pub cpu: Option<String>,
    /// Memory, in bytes with a suffix (`256Mi`, `1Gi`).
    pub memory: Option<String>,
}

fn pick<'a>(value: &'a Option<String>, default: &'a str) -> Option<&'a str> {
    match value.as_deref() {
        Some("none") => None,
        Some(v) => Some(v),
        None => Some(default),
    }
}

impl Resources {
    /// The CPU request.
    pub fn request_cpu(&self) -> Option<&str> {
        pick(&self.requests.cpu, "100m")
    }

    /// The memory request.
    pub fn request_memory(&self) -> Option<&str> {
        pick(&self.requests.memory, "128Mi")
    }

    /// The CPU limit.
    pub fn limit_cpu(&self) -> Option<&str> {
        pick(&self.limits.cpu, "500m")
    }

    /// The memory limit.
    pub fn limit_memory(&self) -> Option<&str> {
        pick(&self.limits.memory, "256Mi")
    }
}
