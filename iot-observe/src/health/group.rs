//! Probe groups and per-check registration options.

use std::fmt;
use std::time::Duration;

/// A probe group. A check may belong to several groups, or to none (then it
/// only shows in the full report at `/health`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// "Is the process itself working?" A failure restarts the container,
    /// so only checks of the process's own state belong here, never a
    /// dependency (a shared dependency down would restart every pod at once).
    Liveness,
    /// "Should this instance receive traffic now?" Dependencies belong here;
    /// a failure takes the instance out of rotation without restarting it.
    Readiness,
    /// "Has one-time initialisation finished?" Checked until it passes
    /// once; liveness and readiness probes wait for it.
    Startup,
}

impl Group {
    /// Every group.
    pub const ALL: [Group; 3] = [Group::Liveness, Group::Readiness, Group::Startup];

    /// The lowercase name (`"liveness"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Group::Liveness => "liveness",
            Group::Readiness => "readiness",
            Group::Startup => "startup",
        }
    }

    const fn bit(self) -> u8 {
        match self {
            Group::Liveness => 1,
            Group::Readiness => 2,
            Group::Startup => 4,
        }
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a check is registered: its groups, whether it is critical, and its
/// timeout.
///
/// ```
/// use std::time::Duration;
/// use iot_observe::health::{CheckOptions, Group};
///
/// let options = CheckOptions::readiness()
///     .and(Group::Startup)
///     .critical(false)
///     .timeout(Duration::from_millis(500));
/// assert!(options.in_group(Group::Readiness) && options.in_group(Group::Startup));
/// assert!(!options.in_group(Group::Liveness));
/// assert!(!options.is_critical());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckOptions {
    groups: u8,
    critical: bool,
    timeout: Option<Duration>,
}

impl Default for CheckOptions {
    /// In no group, critical, the registry's default timeout.
    fn default() -> Self {
        Self {
            groups: 0,
            critical: true,
            timeout: None,
        }
    }
}

impl CheckOptions {
    /// Critical, in `groups`, the registry's default timeout.
    pub fn new(groups: impl IntoIterator<Item = Group>) -> Self {
        groups.into_iter().fold(Self::default(), Self::and)
    }

    /// In the liveness group only.
    pub fn liveness() -> Self {
        Self::new([Group::Liveness])
    }

    /// In the readiness group only.
    pub fn readiness() -> Self {
        Self::new([Group::Readiness])
    }

    /// In the startup group only.
    pub fn startup() -> Self {
        Self::new([Group::Startup])
    }

    /// Adds `group`.
    pub fn and(mut self, group: Group) -> Self {
        self.groups |= group.bit();
        self
    }

    /// Whether a failure fails the aggregate (`true`, the default) or only
    /// makes it warn (`false`: the instance keeps serving, degraded).
    pub fn critical(mut self, critical: bool) -> Self {
        self.critical = critical;
        self
    }

    /// The check's own timeout, overriding
    /// [`HealthConfig::timeout`](super::HealthConfig::timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Whether the check belongs to `group`.
    pub fn in_group(&self, group: Group) -> bool {
        self.groups & group.bit() != 0
    }

    /// Whether the check is critical.
    pub fn is_critical(&self) -> bool {
        self.critical
    }

    /// The check's own timeout, if set.
    pub fn timeout_override(&self) -> Option<Duration> {
        self.timeout
    }
}
