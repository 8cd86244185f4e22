//! Alert rules on the metric contract, and `promtool test rules` cases.

use crate::emit::Value;
use crate::emit::float_text;
use crate::metrics_contract as m;
use crate::spec::DeploySpec;

/// One alert, with a series that fires it for its unit test.
pub(crate) struct Alert {
    pub name: String,
    pub expr: String,
    pub for_: &'static str,
    pub severity: &'static str,
    pub summary: String,
    pub description: String,
    /// Extra labels the firing alert carries (from the expression).
    pub labels: Vec<(&'static str, String)>,
    /// Input series (selector, values) that fire the alert at `fires_at`.
    pub series: Vec<(String, &'static str)>,
    pub fires_at: &'static str,
}

/// The per-second rate of MQTT frames failing to decode, over series
/// matching `matchers` (like `job="gw"`). Shared with the rollout analysis.
pub(crate) fn decode_error_rate(matchers: &str) -> String {
    format!(
        "sum(rate({}{{{matchers}}}[5m]))",
        m::MQTT_DECODE_ERRORS_TOTAL
    )
}

/// The share of failed requests over 5 minutes, over series matching
/// `matchers`. Shared with the rollout analysis.
pub(crate) fn error_ratio(matchers: &str) -> String {
    let r = m::REQUESTS_TOTAL;
    format!(
        "sum(rate({r}{{{matchers},outcome=\"{}\"}}[5m])) / sum(rate({r}{{{matchers}}}[5m]))",
        m::FAILED_OUTCOME
    )
}

/// 1 per open circuit breaker (by `name`), over series matching
/// `matchers`. Shared with the rollout analysis.
pub(crate) fn breaker_open(matchers: &str) -> String {
    format!(
        "max by (name) ({}{{{matchers},state=\"{}\"}})",
        m::CIRCUIT_BREAKER_STATE,
        m::BREAKER_OPEN_STATE
    )
}

fn camel(name: &str) -> String {
    name.split('-')
        .filter(|w| !w.is_empty())
        .map(|w| w[..1].to_uppercase() + &w[1..])
        .collect()
}

/// The alerts for `spec`, named `<Service><Problem>`.
pub(crate) fn alerts(spec: &DeploySpec) -> Vec<Alert> {
    let a = &spec.alerts;
    let job = format!("job=\"{}\"", spec.name);
    let pre = camel(&spec.name);
    let svc = &spec.name;
    let sel = |metric: &str, extra: &str| format!("{metric}{{{job}{extra}}}");
    let alert =
        |problem: &str, expr: String, for_, severity, summary: String, description: String| Alert {
            name: format!("{pre}{problem}"),
            expr,
            for_,
            severity,
            summary,
            description,
            labels: Vec::new(),
            series: Vec::new(),
            fires_at: "20m",
        };
    let mut out = Vec::new();

    let mut x = alert(
        "Down",
        format!("up{{{job}}} == 0"),
        "5m",
        "critical",
        format!("{svc} is down"),
        format!("Prometheus cannot scrape {svc}; no instance is answering on its metrics port."),
    );
    x.labels = vec![("job", svc.clone())];
    x.series = vec![(format!("up{{{job}}}"), "0x30")];
    out.push(x);

    let devices = sel(m::DEVICES_ONLINE, "");
    let mut x = alert(
        "DevicesOffline",
        format!(
            "(max_over_time({devices}[10m]) - {devices}) / max_over_time({devices}[10m]) > {}",
            float_text(a.devices_offline_ratio)
        ),
        "5m",
        "critical",
        format!("{svc}: many devices went offline"),
        format!(
            "More than {:.0}% of the devices online in the last 10 minutes have dropped off.",
            a.devices_offline_ratio * 100.0
        ),
    );
    x.labels = vec![("job", svc.clone())];
    x.series = vec![(devices.clone(), "100x10 10x30")];
    x.fires_at = "18m";
    out.push(x);

    let mut x = alert(
        "DecodeErrors",
        format!(
            "{} > {}",
            decode_error_rate(&job),
            float_text(a.decode_errors_per_second)
        ),
        "10m",
        "warning",
        format!("{svc} fails to decode MQTT frames"),
        format!(
            "More than {} MQTT frames per second fail to decode: a device firmware or codec mismatch?",
            float_text(a.decode_errors_per_second)
        ),
    );
    x.series = vec![(sel(m::MQTT_DECODE_ERRORS_TOTAL, ""), "0+600x40")];
    out.push(x);

    let mut x = alert(
        "CircuitOpen",
        format!("{} > 0", breaker_open(&job)),
        "5m",
        "warning",
        format!("{svc}: circuit breaker {{{{ $labels.name }}}} is open"),
        format!(
            "Calls from {svc} through breaker {{{{ $labels.name }}}} are being rejected: its dependency keeps failing."
        ),
    );
    x.labels = vec![("name", "postgres".into())];
    x.series = vec![(
        sel(
            m::CIRCUIT_BREAKER_STATE,
            ",name=\"postgres\",state=\"open\"",
        ),
        "1x30",
    )];
    out.push(x);

    let mut x = alert(
        "RateLimited",
        format!(
            "sum by (name) (rate({}[5m])) > {}",
            sel(
                m::RATE_LIMIT_DECISIONS_TOTAL,
                &format!(",decision=\"{}\"", m::RATE_LIMIT_REJECTED)
            ),
            float_text(a.rate_limited_per_second)
        ),
        "10m",
        "warning",
        format!("{svc}: rate limiter {{{{ $labels.name }}}} rejects requests"),
        format!(
            "More than {} requests per second are rejected by rate limiter {{{{ $labels.name }}}}.",
            float_text(a.rate_limited_per_second)
        ),
    );
    x.labels = vec![("name", "ingest".into())];
    x.series = vec![(
        sel(
            m::RATE_LIMIT_DECISIONS_TOTAL,
            ",name=\"ingest\",decision=\"rejected\"",
        ),
        "0+3000x40",
    )];
    out.push(x);

    let mut x = alert(
        "HighErrorRate",
        format!("{} > {}", error_ratio(&job), float_text(a.error_ratio)),
        "10m",
        "critical",
        format!("{svc} fails too many requests"),
        format!(
            "More than {:.1}% of requests to {svc} failed over the last 5 minutes.",
            a.error_ratio * 100.0
        ),
    );
    x.series = vec![
        (
            sel(
                m::REQUESTS_TOTAL,
                ",operation=\"ingest\",outcome=\"success\"",
            ),
            "0+600x40",
        ),
        (
            sel(m::REQUESTS_TOTAL, ",operation=\"ingest\",outcome=\"error\""),
            "0+600x40",
        ),
    ];
    out.push(x);

    let bucket = format!("{}_bucket", m::REQUEST_DURATION_SECONDS);
    let mut x = alert(
        "HighLatency",
        format!(
            "histogram_quantile(0.95, sum by (le) (rate({}[5m]))) > {}",
            sel(&bucket, ""),
            float_text(a.p95_latency_seconds)
        ),
        "10m",
        "warning",
        format!("{svc} answers slowly"),
        format!(
            "The 95th percentile of request latency is above {} s.",
            float_text(a.p95_latency_seconds)
        ),
    );
    x.series = vec![
        (sel(&bucket, ",le=\"0.1\""), "0+0x40"),
        (sel(&bucket, ",le=\"1\""), "0+0x40"),
        (sel(&bucket, ",le=\"10\""), "0+600x40"),
        (sel(&bucket, ",le=\"+Inf\""), "0+600x40"),
    ];
    out.push(x);

    let mut x = alert(
        "HealthCheckFailing",
        format!(
            "max by (check) ({}) == 1",
            sel(m::HEALTH_CHECK_STATUS, ",status=\"fail\"")
        ),
        "5m",
        "warning",
        format!("{svc}: health check {{{{ $labels.check }}}} fails"),
        format!(
            "The {{{{ $labels.check }}}} health check of {svc} has been failing for 5 minutes."
        ),
    );
    x.labels = vec![("check", "postgres".into())];
    x.series = vec![(
        sel(
            m::HEALTH_CHECK_STATUS,
            ",check=\"postgres\",status=\"fail\"",
        ),
        "1x30",
    )];
    out.push(x);

    let restarts = format!(
        "{}{{namespace=\"{}\",container=\"{svc}\"}}",
        m::KUBE_RESTARTS_TOTAL,
        spec.namespace()
    );
    let mut x = alert(
        "Restarting",
        format!("sum(increase({restarts}[1h])) > {}", a.restarts_per_hour),
        "0m",
        "warning",
        format!("{svc} keeps restarting"),
        format!(
            "Containers of {svc} restarted more than {} times in the last hour (from kube-state-metrics).",
            a.restarts_per_hour
        ),
    );
    x.series = vec![(restarts.clone(), "0+1x40")];
    if !a.kube_state_metrics.is_empty() {
        out.push(x);
    }

    // A target that vanishes (the Service deleted, the DNS name wrong, the
    // job renamed) leaves no `up` series at all, so `Down` cannot fire:
    // `absent()` does, one per scrape job.
    let mut jobs = vec![(svc.clone(), format!("{pre}Absent"))];
    if !a.kube_state_metrics.is_empty() {
        let j = super::prometheus::KUBE_STATE_METRICS_JOB;
        jobs.push((j.to_string(), format!("{pre}KubeStateMetricsAbsent")));
    }
    for (j, name) in jobs {
        let mut x = alert(
            "",
            format!("absent(up{{job=\"{j}\"}})"),
            "10m",
            "critical",
            format!("Prometheus has no scrape target for job {j}"),
            format!(
                "No target of job {j} has been scraped for 10 minutes: its pods, Service or service discovery are gone, so no other alert of {svc} can fire."
            ),
        );
        x.name = name;
        x.labels = vec![("job", j)];
        out.push(x);
    }
    out
}

/// The scrape jobs the quiet-service test must show as present.
pub(crate) fn scrape_jobs(spec: &DeploySpec) -> Vec<String> {
    let mut jobs = vec![spec.name.clone()];
    if !spec.alerts.kube_state_metrics.is_empty() {
        jobs.push(super::prometheus::KUBE_STATE_METRICS_JOB.to_string());
    }
    jobs
}

/// The rule file: one group with every alert.
pub(crate) fn rules(spec: &DeploySpec) -> Value {
    let rules: Vec<Value> = alerts(spec)
        .into_iter()
        .map(|a| {
            Value::map()
                .with("alert", a.name)
                .with("expr", a.expr)
                .with("for", a.for_)
                .with(
                    "labels",
                    Value::map()
                        .with("severity", a.severity)
                        .with("service", spec.name.as_str()),
                )
                .with(
                    "annotations",
                    Value::map()
                        .with("summary", a.summary)
                        .with("description", a.description),
                )
        })
        .collect();
    let group = Value::map()
        .with("name", spec.name.as_str())
        .with("rules", Value::Seq(rules));
    Value::map().with("groups", vec![group])
}

fn expand(template: &str, labels: &[(&str, String)]) -> String {
    labels.iter().fold(template.to_string(), |t, (k, v)| {
        t.replace(&format!("{{{{ $labels.{k} }}}}"), v)
    })
}

/// `promtool test rules` cases: each alert fires on its series, and no alert fires on a quiet service.
pub(crate) fn rule_tests(spec: &DeploySpec, rule_file: &str) -> Value {
    let mut tests = Vec::new();
    let all = alerts(spec);
    for a in &all {
        let series: Vec<Value> = a
            .series
            .iter()
            .map(|(s, v)| Value::map().with("series", s.as_str()).with("values", *v))
            .collect();
        let mut labels = Value::map()
            .with("severity", a.severity)
            .with("service", spec.name.as_str());
        for (k, v) in &a.labels {
            labels.set(*k, v.as_str());
        }
        let expected = Value::map().with("exp_labels", labels).with(
            "exp_annotations",
            Value::map()
                .with("summary", expand(&a.summary, &a.labels))
                .with("description", expand(&a.description, &a.labels)),
        );
        let check = |at: &str, exp: Vec<Value>| {
            Value::map()
                .with("eval_time", at)
                .with("alertname", a.name.as_str())
                .with("exp_alerts", Value::Seq(exp))
        };
        tests.push(
            Value::map()
                .with("name", format!("{} fires", a.name))
                .with("interval", "1m")
                .with("input_series", Value::Seq(series))
                .with(
                    "alert_rule_test",
                    vec![check("1m", vec![]), check(a.fires_at, vec![expected])],
                ),
        );
    }
    let quiet = Value::map()
        .with("name", "a healthy service raises no alert")
        .with("interval", "1m")
        .with(
            "input_series",
            scrape_jobs(spec)
                .iter()
                .map(|j| {
                    Value::map()
                        .with("series", format!("up{{job=\"{j}\"}}"))
                        .with("values", "1x30")
                })
                .chain([
                    Value::map()
                        .with(
                            "series",
                            format!("{}{{job=\"{}\"}}", m::DEVICES_ONLINE, spec.name),
                        )
                        .with("values", "100x30"),
                    Value::map()
                        .with(
                            "series",
                            format!(
                                "{}{{job=\"{}\",operation=\"ingest\",outcome=\"success\"}}",
                                m::REQUESTS_TOTAL,
                                spec.name
                            ),
                        )
                        .with("values", "0+600x30"),
                ])
                .collect::<Vec<_>>(),
        )
        .with(
            "alert_rule_test",
            Value::Seq(
                all.iter()
                    .map(|a| {
                        Value::map()
                            .with("eval_time", "25m")
                            .with("alertname", a.name.as_str())
                            .with("exp_alerts", Value::Seq(vec![]))
                    })
                    .collect(),
            ),
        );
    tests.push(quiet);
    Value::map()
        .with("rule_files", vec![rule_file])
        .with("evaluation_interval", "1m")
        .with("tests", Value::Seq(tests))
}
