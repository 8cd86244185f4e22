//! The three health states and how they combine.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The status of one check or of an aggregate, as in
/// draft-inadarei-api-health-check.
///
/// The order is severity: `Pass < Warn < Fail`, so the aggregate of several
/// statuses is their maximum.
///
/// ```
/// use iot_observe::health::Status;
///
/// assert_eq!(Status::aggregate([Status::Pass, Status::Warn]), Status::Warn);
/// assert_eq!(Status::Warn.http_status(), 200);
/// assert_eq!(Status::Fail.http_status(), 503);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Healthy.
    Pass,
    /// Healthy, with a concern (degraded, a non-critical dependency down).
    Warn,
    /// Unhealthy.
    Fail,
}

impl Status {
    /// Every status, from the least to the most severe.
    pub const ALL: [Status; 3] = [Status::Pass, Status::Warn, Status::Fail];

    /// The wire name: `"pass"`, `"warn"` or `"fail"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }

    /// The HTTP status code a probe answers with: 200 for pass and warn
    /// (a warning must not take the instance out of rotation), 503 for fail.
    pub const fn http_status(self) -> u16 {
        match self {
            Status::Pass | Status::Warn => 200,
            Status::Fail => 503,
        }
    }

    /// The most severe of `statuses`; [`Status::Pass`] when there are none
    /// (no check means nothing is wrong).
    pub fn aggregate(statuses: impl IntoIterator<Item = Status>) -> Status {
        statuses.into_iter().max().unwrap_or(Status::Pass)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
