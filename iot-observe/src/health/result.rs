//! What one check run reports.

use super::Status;

/// The outcome of one check run: a status plus the optional fields of a
/// draft-inadarei-api-health-check `checks` entry.
///
/// Built with [`pass`](Self::pass), [`warn`](Self::warn) or
/// [`fail`](Self::fail) and the `with_*` methods (the struct is
/// `non_exhaustive` so fields can be added later).
///
/// ```
/// use iot_observe::health::{CheckResult, Status};
///
/// let result = CheckResult::pass()
///     .with_observed(250, "ms")
///     .with_component_type("datastore");
/// assert_eq!(result.status, Status::Pass);
/// assert_eq!(result.observed_value, Some(serde_json::json!(250)));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CheckResult {
    /// The check's own status (before the criticality of the check is
    /// applied to the aggregate).
    pub status: Status,
    /// `componentId`: which instance of the component was checked (a host,
    /// a broker address).
    pub component_id: Option<String>,
    /// `componentType`: `"component"`, `"datastore"`, `"system"` or any
    /// other short word.
    pub component_type: Option<String>,
    /// `observedValue`: what was measured (a latency, a count, a flag).
    pub observed_value: Option<serde_json::Value>,
    /// `observedUnit`: the unit of `observed_value` (`"ms"`, `"%"`).
    pub observed_unit: Option<String>,
    /// `output`: a human-readable reason, usually for warn and fail.
    pub output: Option<String>,
}

impl CheckResult {
    /// A result with `status` and nothing else.
    pub fn new(status: Status) -> Self {
        Self {
            status,
            component_id: None,
            component_type: None,
            observed_value: None,
            observed_unit: None,
            output: None,
        }
    }

    /// A passing result.
    pub fn pass() -> Self {
        Self::new(Status::Pass)
    }

    /// A warning with a reason.
    pub fn warn(output: impl Into<String>) -> Self {
        Self::new(Status::Warn).with_output(output)
    }

    /// A failure with a reason.
    pub fn fail(output: impl Into<String>) -> Self {
        Self::new(Status::Fail).with_output(output)
    }

    /// Sets `output`.
    pub fn with_output(mut self, output: impl Into<String>) -> Self {
        self.output = Some(output.into());
        self
    }

    /// Sets `observedValue` and `observedUnit`.
    pub fn with_observed(
        mut self,
        value: impl Into<serde_json::Value>,
        unit: impl Into<String>,
    ) -> Self {
        self.observed_value = Some(value.into());
        self.observed_unit = Some(unit.into());
        self
    }

    /// Sets `observedValue` only (for unitless values).
    pub fn with_observed_value(mut self, value: impl Into<serde_json::Value>) -> Self {
        self.observed_value = Some(value.into());
        self
    }

    /// Sets `componentId`.
    pub fn with_component_id(mut self, id: impl Into<String>) -> Self {
        self.component_id = Some(id.into());
        self
    }

    /// Sets `componentType`.
    pub fn with_component_type(mut self, kind: impl Into<String>) -> Self {
        self.component_type = Some(kind.into());
        self
    }
}

impl From<Status> for CheckResult {
    fn from(status: Status) -> Self {
        Self::new(status)
    }
}
