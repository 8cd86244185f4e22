//! The registry of named checks and its builder.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex};

use tokio::task::AbortHandle;

use super::entry::{Entry, Runner};
use super::report::pending;
use super::{
    BlockingCheck, CheckOptions, CheckReport, Group, HealthCheck, HealthConfig, HealthReport,
    RefreshHandle, RegistryError, refresh,
};

/// Named checks, their cached results, and reports per probe group.
///
/// Cheap to clone (all clones share the checks and the cache). Requests
/// read the cache (instant checks are evaluated on the spot), so a probe
/// never waits for a check and never reaches a dependency; the background
/// task started by [`start`](Self::start) keeps the cache fresh.
///
/// **Before the first run** a check reports `fail` with the output
/// `"pending: ..."`: an unknown result must not claim health. The first
/// refresh begins as soon as [`start`](Self::start) is called and ends
/// within the longest check timeout, well before any probe threshold;
/// call [`refresh`](Self::refresh) first to serve complete results from the
/// first request.
///
/// ```
/// use std::time::Duration;
/// use iot_observe::health::{
///     CheckOptions, CheckResult, Group, HealthConfig, HealthRegistry, StartupFlag, Status, check_fn,
/// };
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let started = StartupFlag::new();
/// let registry = HealthRegistry::builder()
///     .config(HealthConfig::default().interval(Duration::from_secs(15)).version("1.0.0"))
///     .check("process:heartbeat", check_fn(|| async { CheckResult::pass() }), CheckOptions::liveness())
///     .check("app:startup", started.clone(), CheckOptions::startup().and(Group::Readiness))
///     .build()
///     .unwrap();
/// let refresher = registry.start(); // background refresh every 15 s
/// registry.refresh().await; // or wait for the first background run
///
/// assert_eq!(registry.report(Group::Liveness).status, Status::Pass);
/// assert_eq!(registry.report(Group::Readiness).status, Status::Fail);
/// started.mark_done();
/// assert_eq!(registry.report(Group::Readiness).status, Status::Pass);
/// refresher.stop();
/// # }
/// ```
#[derive(Clone)]
pub struct HealthRegistry {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: HealthConfig,
    pub(crate) entries: Vec<Entry>,
    pub(crate) refresher: Mutex<Option<AbortHandle>>,
}

impl fmt::Debug for HealthRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthRegistry")
            .field("config", &self.inner.config)
            .field("checks", &self.check_names().collect::<Vec<_>>())
            .finish()
    }
}

impl HealthRegistry {
    /// A builder with the default [`HealthConfig`].
    pub fn builder() -> HealthRegistryBuilder {
        HealthRegistryBuilder {
            config: HealthConfig::default(),
            checks: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &HealthConfig {
        &self.inner.config
    }

    /// The registered check names, in registration order.
    pub fn check_names(&self) -> impl Iterator<Item = &str> {
        self.inner.entries.iter().map(|e| e.name.as_str())
    }

    /// Runs every check once, concurrently, each under its timeout, and
    /// caches the results. Returns when all have completed or timed out.
    pub async fn refresh(&self) {
        refresh::refresh_all(&self.inner).await;
    }

    /// Starts the background task refreshing every check at the configured
    /// interval, the first run at once. Idempotent: while the task runs,
    /// further calls return a handle to the same task.
    ///
    /// The task ends when [`RefreshHandle::stop`] is called or when every
    /// clone of the registry has been dropped; dropping the handle does not
    /// stop it.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn start(&self) -> RefreshHandle {
        refresh::start(&self.inner)
    }

    /// The checks in `group`, as a probe sees them now.
    pub fn report(&self, group: Group) -> HealthReport {
        self.report_where(|options| options.in_group(group))
    }

    /// Every check, whatever its groups (the `/health` view).
    pub fn report_all(&self) -> HealthReport {
        self.report_where(|_| true)
    }

    fn report_where(&self, include: impl Fn(&CheckOptions) -> bool) -> HealthReport {
        let checks = self
            .inner
            .entries
            .iter()
            .filter(|entry| include(&entry.options))
            .map(|entry| {
                let critical = entry.options.is_critical();
                match entry.current() {
                    Some(observation) => CheckReport {
                        name: entry.name.clone(),
                        critical,
                        result: observation.result,
                        time: Some(observation.time),
                        duration: Some(observation.duration),
                    },
                    None => pending(&entry.name, critical),
                }
            })
            .collect();
        HealthReport::new(checks)
    }
}

/// Builds a [`HealthRegistry`]; see [`HealthRegistry::builder`].
pub struct HealthRegistryBuilder {
    config: HealthConfig,
    checks: Vec<(String, Runner, CheckOptions)>,
}

impl fmt::Debug for HealthRegistryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthRegistryBuilder")
            .field("config", &self.config)
            .field(
                "checks",
                &self.checks.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl HealthRegistryBuilder {
    /// Replaces the configuration.
    pub fn config(mut self, config: HealthConfig) -> Self {
        self.config = config;
        self
    }

    /// Registers `check` as `name` (`"component:measurement"`, e.g.
    /// `"mqtt:connection"`).
    ///
    /// The check runs as a task on the runtime that calls
    /// [`HealthRegistry::start`] or [`HealthRegistry::refresh`], so it must
    /// not block: a check calling a blocking driver belongs in
    /// [`blocking_check`](Self::blocking_check). One that blocks anyway
    /// holds at most one worker thread at a time: a copy still running when
    /// the next refresh comes stops a new copy from starting.
    pub fn check(
        mut self,
        name: impl Into<String>,
        check: impl HealthCheck,
        options: CheckOptions,
    ) -> Self {
        self.checks
            .push((name.into(), Runner::Async(Arc::new(check)), options));
        self
    }

    /// Registers a check that blocks its thread (see [`BlockingCheck`]) as
    /// `name`: each run happens on a thread of its own, never on a runtime
    /// worker, and never while the previous run is still going.
    pub fn blocking_check(
        mut self,
        name: impl Into<String>,
        check: impl BlockingCheck,
        options: CheckOptions,
    ) -> Self {
        self.checks
            .push((name.into(), Runner::Blocking(Arc::new(check)), options));
        self
    }

    /// Validates names and durations and builds the registry.
    pub fn build(self) -> Result<HealthRegistry, RegistryError> {
        if self.config.interval.is_zero() {
            return Err(RegistryError::ZeroInterval);
        }
        let mut seen = HashSet::new();
        let mut entries = Vec::with_capacity(self.checks.len());
        for (name, runner, options) in self.checks {
            if !valid_name(&name) {
                return Err(RegistryError::InvalidName(name));
            }
            if !seen.insert(name.clone()) {
                return Err(RegistryError::DuplicateName(name));
            }
            let timeout = options.timeout_override().unwrap_or(self.config.timeout);
            if timeout.is_zero() {
                return Err(RegistryError::ZeroTimeout(name));
            }
            entries.push(Entry::new(name, runner, options, timeout));
        }
        Ok(HealthRegistry {
            inner: Arc::new(Inner {
                config: self.config,
                entries,
                refresher: Mutex::new(None),
            }),
        })
    }
}

/// `component:measurement`: both parts non-empty, no further `:`, no
/// whitespace or control characters (the name keys JSON and metric labels).
fn valid_name(name: &str) -> bool {
    let part_ok = |part: &str| {
        !part.is_empty()
            && !part
                .chars()
                .any(|c| c == ':' || c.is_whitespace() || c.is_control())
    };
    name.split_once(':')
        .is_some_and(|(component, measurement)| part_ok(component) && part_ok(measurement))
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn names() {
        assert!(valid_name("mqtt:connection"));
        assert!(valid_name("db-primary:latency_ms"));
        assert!(!valid_name("mqtt"));
        assert!(!valid_name(":connection"));
        assert!(!valid_name("mqtt:"));
        assert!(!valid_name("a:b:c"));
        assert!(!valid_name("mqtt: connection"));
    }
}
