//! Grafana: a dashboard on the metric contract, and compose provisioning.

use super::File;
use crate::emit::{Value, to_json, to_yaml};
use crate::metrics_contract as m;
use crate::spec::DeploySpec;

/// The data source uid the dashboard refers to (provisioned in compose).
pub const DATASOURCE_UID: &str = "prometheus";

fn panel(id: i64, title: &str, unit: &str, targets: &[(&str, String)]) -> Value {
    let (x, y) = (((id - 1) % 2) * 12, ((id - 1) / 2) * 8);
    let ds = || {
        Value::map()
            .with("type", "prometheus")
            .with("uid", DATASOURCE_UID)
    };
    let targets: Vec<Value> = targets
        .iter()
        .enumerate()
        .map(|(i, (legend, expr))| {
            let ref_id = char::from(b'A' + i as u8).to_string();
            Value::map()
                .with("datasource", ds())
                .with("expr", expr.as_str())
                .with("legendFormat", *legend)
                .with("refId", ref_id)
        })
        .collect();
    Value::map()
        .with("id", id)
        .with("type", "timeseries")
        .with("title", title)
        .with("datasource", ds())
        .with(
            "gridPos",
            Value::map()
                .with("h", 8i64)
                .with("w", 12i64)
                .with("x", x)
                .with("y", y),
        )
        .with(
            "fieldConfig",
            Value::map()
                .with("defaults", Value::map().with("unit", unit))
                .with("overrides", Value::Seq(vec![])),
        )
        .with(
            "options",
            Value::map().with(
                "legend",
                Value::map()
                    .with("displayMode", "list")
                    .with("placement", "bottom")
                    .with("showLegend", true),
            ),
        )
        .with("targets", Value::Seq(targets))
}

/// The dashboard JSON.
pub fn dashboard(spec: &DeploySpec) -> Value {
    let job = format!("job=\"{}\"", spec.name);
    let q = |s: String| s;
    let panels = vec![
        panel(
            1,
            "Requests by outcome",
            "reqps",
            &[(
                "{{operation}} {{outcome}}",
                q(format!(
                    "sum by (operation, outcome) (rate({}{{{job}}}[5m]))",
                    m::REQUESTS_TOTAL
                )),
            )],
        ),
        panel(
            2,
            "Error ratio",
            "percentunit",
            &[(
                "errors",
                q(format!(
                    "sum(rate({0}{{{job},outcome=\"{1}\"}}[5m])) / sum(rate({0}{{{job}}}[5m]))",
                    m::REQUESTS_TOTAL,
                    m::FAILED_OUTCOME
                )),
            )],
        ),
        panel(
            3,
            "Latency",
            "s",
            &[
                (
                    "p50",
                    q(format!(
                        "histogram_quantile(0.5, sum by (le) (rate({}_bucket{{{job}}}[5m])))",
                        m::REQUEST_DURATION_SECONDS
                    )),
                ),
                (
                    "p95",
                    q(format!(
                        "histogram_quantile(0.95, sum by (le) (rate({}_bucket{{{job}}}[5m])))",
                        m::REQUEST_DURATION_SECONDS
                    )),
                ),
                (
                    "p99",
                    q(format!(
                        "histogram_quantile(0.99, sum by (le) (rate({}_bucket{{{job}}}[5m])))",
                        m::REQUEST_DURATION_SECONDS
                    )),
                ),
            ],
        ),
        panel(
            4,
            "In flight",
            "short",
            &[(
                "{{operation}}",
                q(format!(
                    "sum by (operation) ({}{{{job}}})",
                    m::REQUESTS_IN_FLIGHT
                )),
            )],
        ),
        panel(
            5,
            "Devices online",
            "short",
            &[("online", q(format!("sum({}{{{job}}})", m::DEVICES_ONLINE)))],
        ),
        panel(
            6,
            "MQTT decode errors",
            "ops",
            &[(
                "errors",
                q(format!(
                    "sum(rate({}{{{job}}}[5m]))",
                    m::MQTT_DECODE_ERRORS_TOTAL
                )),
            )],
        ),
        panel(
            7,
            "Circuit breakers open",
            "short",
            &[(
                "{{name}}",
                q(format!(
                    "max by (name) ({}{{{job},state=\"{}\"}})",
                    m::CIRCUIT_BREAKER_STATE,
                    m::BREAKER_OPEN_STATE
                )),
            )],
        ),
        panel(
            8,
            "Circuit breaker calls",
            "ops",
            &[(
                "{{name}} {{outcome}}",
                q(format!(
                    "sum by (name, outcome) (rate({}{{{job}}}[5m]))",
                    m::CIRCUIT_BREAKER_CALLS_TOTAL
                )),
            )],
        ),
        panel(
            9,
            "Rate limiter decisions",
            "ops",
            &[(
                "{{name}} {{decision}}",
                q(format!(
                    "sum by (name, decision) (rate({}{{{job}}}[5m]))",
                    m::RATE_LIMIT_DECISIONS_TOTAL
                )),
            )],
        ),
        panel(
            10,
            "Retries by outcome",
            "ops",
            &[(
                "{{name}} {{outcome}}",
                q(format!(
                    "sum by (name, outcome) (rate({}{{{job}}}[5m]))",
                    m::RETRY_CALLS_TOTAL
                )),
            )],
        ),
        panel(
            11,
            "Failing health checks",
            "short",
            &[(
                "{{check}}",
                q(format!(
                    "max by (check) ({}{{{job},status=\"fail\"}})",
                    m::HEALTH_CHECK_STATUS
                )),
            )],
        ),
        panel(
            12,
            "Targets up",
            "short",
            &[("{{instance}}", q(format!("up{{{job}}}")))],
        ),
    ];
    Value::map()
        .with("uid", spec.name.as_str())
        .with("title", format!("{} service", spec.name))
        .with("tags", vec!["iot-rs", spec.name.as_str()])
        .with("timezone", "utc")
        .with("editable", false)
        .with("refresh", "30s")
        .with("schemaVersion", 39i64)
        .with("version", 1i64)
        .with(
            "time",
            Value::map().with("from", "now-6h").with("to", "now"),
        )
        .with("panels", Value::Seq(panels))
}

/// The dashboard file for `--only grafana`.
pub fn files(spec: &DeploySpec) -> Vec<File> {
    vec![File::new(
        format!("grafana/{}.json", spec.name),
        to_json(&dashboard(spec)),
    )]
}

/// Data source and dashboard provisioning for the compose Grafana.
pub(crate) fn provisioning(spec: &DeploySpec) -> Vec<File> {
    let ds = Value::map().with("apiVersion", 1i64).with(
        "datasources",
        vec![
            Value::map()
                .with("name", "Prometheus")
                .with("uid", DATASOURCE_UID)
                .with("type", "prometheus")
                .with("access", "proxy")
                .with("url", "http://prometheus:9090")
                .with("isDefault", true)
                .with("editable", false),
        ],
    );
    let provider = Value::map().with("apiVersion", 1i64).with(
        "providers",
        vec![
            Value::map()
                .with("name", spec.name.as_str())
                .with("type", "file")
                .with("disableDeletion", true)
                .with("allowUiUpdates", false)
                .with(
                    "options",
                    Value::map().with("path", "/var/lib/grafana/dashboards"),
                ),
        ],
    );
    vec![
        File::new(
            "compose/grafana/provisioning/datasources/prometheus.yaml",
            to_yaml(&ds),
        ),
        File::new(
            format!("compose/grafana/provisioning/dashboards/{}.yaml", spec.name),
            to_yaml(&provider),
        ),
        File::new(
            format!("compose/grafana/dashboards/{}.json", spec.name),
            to_json(&dashboard(spec)),
        ),
    ]
}
