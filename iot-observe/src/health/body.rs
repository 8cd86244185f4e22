//! The `application/health+json` body (draft-inadarei-api-health-check).

use std::collections::BTreeMap;

use serde::Serialize;

use super::time::rfc3339;
use super::{CheckReport, Detail, HealthConfig, HealthReport, Status};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    release_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    /// Keyed `component:measurement`; sorted so bodies are stable.
    #[serde(skip_serializing_if = "Option::is_none")]
    checks: Option<BTreeMap<&'a str, [Entry<'a>; 1]>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Entry<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    component_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    component_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    observed_value: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    observed_unit: Option<&'a str>,
    /// The check's own status; the aggregate applies criticality.
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<&'a str>,
}

impl<'a> Entry<'a> {
    fn new(check: &'a CheckReport) -> Self {
        let result = &check.result;
        Self {
            component_id: result.component_id.as_deref(),
            component_type: result.component_type.as_deref(),
            observed_value: result.observed_value.as_ref(),
            observed_unit: result.observed_unit.as_deref(),
            status: result.status,
            time: check.time.map(rfc3339),
            output: result.output.as_deref(),
        }
    }
}

pub(crate) fn render(report: &HealthReport, config: &HealthConfig) -> String {
    let body = match config.detail {
        Detail::Never => Body {
            status: report.status,
            version: None,
            release_id: None,
            service_id: None,
            description: None,
            checks: None,
        },
        Detail::Always => Body {
            status: report.status,
            version: config.version.as_deref(),
            release_id: config.release_id.as_deref(),
            service_id: config.service_id.as_deref(),
            description: config.description.as_deref(),
            checks: Some(
                report
                    .checks
                    .iter()
                    .map(|check| (check.name.as_str(), [Entry::new(check)]))
                    .collect(),
            ),
        },
    };
    // Only strings, numbers and JSON values: serialisation cannot fail.
    serde_json::to_string(&body).unwrap_or_else(|_| format!(r#"{{"status":"{}"}}"#, report.status))
}
