//! Liveness, readiness and startup probes.

use serde::{Deserialize, Serialize};

use crate::metrics_contract::{LIVENESS_PATH, READINESS_PATH, STARTUP_PATH};

/// The three probes. Paths default to what `iot-observe` serves.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Probes {
    /// Restarts a stuck process. Must not check dependencies.
    pub liveness: Probe,
    /// Takes the pod out of load balancing while it can't serve.
    pub readiness: Probe,
    /// Holds the other probes off during start-up.
    pub startup: Probe,
}

/// One probe; a field left out takes the probe's default.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Probe {
    /// HTTP path on the http port.
    pub path: Option<String>,
    /// Seconds before the first probe.
    pub initial_delay_seconds: Option<u32>,
    /// Seconds between probes.
    pub period_seconds: Option<u32>,
    /// Seconds before a probe times out.
    pub timeout_seconds: Option<u32>,
    /// Consecutive failures before acting.
    pub failure_threshold: Option<u32>,
}

/// Which probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    /// Liveness.
    Liveness,
    /// Readiness.
    Readiness,
    /// Startup.
    Startup,
}

/// A probe with every default filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedProbe {
    /// HTTP path.
    pub path: String,
    /// Seconds before the first probe.
    pub initial_delay_seconds: u32,
    /// Seconds between probes.
    pub period_seconds: u32,
    /// Seconds before a probe times out.
    pub timeout_seconds: u32,
    /// Consecutive failures before acting.
    pub failure_threshold: u32,
}

impl Probes {
    /// The probe of `kind`, defaults filled in: liveness every 10 s, 3
    /// failures; readiness every 5 s, 3 failures; startup every 2 s, 60
    /// failures (two minutes to start); all time out after 2 s.
    pub fn resolved(&self, kind: ProbeKind) -> ResolvedProbe {
        let (p, path, period, failures) = match kind {
            ProbeKind::Liveness => (&self.liveness, LIVENESS_PATH, 10, 3),
            ProbeKind::Readiness => (&self.readiness, READINESS_PATH, 5, 3),
            ProbeKind::Startup => (&self.startup, STARTUP_PATH, 2, 60),
        };
        ResolvedProbe {
            path: p.path.clone().unwrap_or_else(|| path.into()),
            initial_delay_seconds: p.initial_delay_seconds.unwrap_or(0),
            period_seconds: p.period_seconds.unwrap_or(period),
            timeout_seconds: p.timeout_seconds.unwrap_or(2),
            failure_threshold: p.failure_threshold.unwrap_or(failures),
        }
    }
}
