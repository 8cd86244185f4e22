//! A point-in-time view of a set of checks, and its aggregate status.

use std::time::{Duration, SystemTime};

use super::{CheckResult, HealthConfig, Status, body};

/// Output of a check that has not completed a run yet.
pub(crate) const PENDING_OUTPUT: &str = "pending: the check has not completed a run yet";

/// The checks of one probe group (or all of them) as a request sees them.
///
/// ```
/// use iot_observe::health::{CheckOptions, Group, HealthRegistry, Status, check_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let registry = HealthRegistry::builder()
///     .check("cache:ping", check_fn(|| async { Status::Fail }), CheckOptions::readiness().critical(false))
///     .build()
///     .unwrap();
/// registry.refresh().await;
/// let report = registry.report(Group::Readiness);
/// // A non-critical failure degrades the aggregate to warn, still HTTP 200.
/// assert_eq!(report.status, Status::Warn);
/// assert_eq!(report.http_status(), 200);
/// assert_eq!(report.checks[0].result.status, Status::Fail);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct HealthReport {
    /// The aggregate: the most severe [`CheckReport::effective_status`].
    pub status: Status,
    /// One entry per check, in registration order.
    pub checks: Vec<CheckReport>,
}

/// One check in a [`HealthReport`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CheckReport {
    /// The registered `component:measurement` name.
    pub name: String,
    /// Whether a failure fails the aggregate.
    pub critical: bool,
    /// The latest result (a failure saying "pending" before the first run).
    pub result: CheckResult,
    /// When the result was observed; `None` before the first run.
    pub time: Option<SystemTime>,
    /// How long the run took; `None` before the first run.
    pub duration: Option<Duration>,
}

impl CheckReport {
    /// What this check contributes to the aggregate: its own status, except
    /// that a failing non-critical check only warns.
    pub fn effective_status(&self) -> Status {
        match self.result.status {
            Status::Fail if !self.critical => Status::Warn,
            status => status,
        }
    }

    /// Whether the check has completed a run.
    pub fn has_run(&self) -> bool {
        self.time.is_some()
    }
}

impl HealthReport {
    /// A report over `checks`, aggregating their effective statuses.
    pub fn new(checks: Vec<CheckReport>) -> Self {
        let status = Status::aggregate(checks.iter().map(CheckReport::effective_status));
        Self { status, checks }
    }

    /// 200 for pass and warn, 503 for fail.
    pub fn http_status(&self) -> u16 {
        self.status.http_status()
    }

    /// The `application/health+json` body, at `config`'s detail level.
    pub fn to_json(&self, config: &HealthConfig) -> String {
        body::render(self, config)
    }
}

/// The report of a check that has never completed.
pub(crate) fn pending(name: &str, critical: bool) -> CheckReport {
    CheckReport {
        name: name.to_owned(),
        critical,
        result: CheckResult::fail(PENDING_OUTPUT),
        time: None,
        duration: None,
    }
}
