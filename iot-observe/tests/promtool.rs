//! Lints a real exposition with `promtool check metrics` after exercising
//! every metric iot-observe defines, requiring zero findings.
//!
//! promtool comes from `$PROMTOOL`, `PATH`, or the cache
//! `scripts/install-promtool.sh` fills. Missing, the test fails when
//! `CI=true` and is skipped (with a notice) otherwise.
#![cfg(feature = "prometheus")]

use std::convert::Infallible;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use iot_observe::health::{CheckOptions, CheckResult, HealthRegistry, check_fn};
use iot_observe::metrics_layer::catalog::{
    DEFAULT_PREFIX, HEALTH_METRICS, HTTP_LAYER_METRICS, LAYER_METRICS, MetricDef, prefixed,
};
use iot_observe::metrics_layer::{MetricsLayer, ServerErrorsAsFailures};
use iot_observe::prometheus::{PrometheusConfig, PrometheusExporter};
use tower::{Layer, ServiceExt, service_fn};

fn cache_candidates() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("PROMTOOL_CACHE") {
        dirs.push(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        dirs.push(Path::new(&dir).join("iot-rs/promtool"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".cache/iot-rs/promtool"));
    }
    dirs.into_iter().map(|d| d.join("promtool")).collect()
}

fn find_promtool() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PROMTOOL") {
        return Some(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("promtool"));
    on_path.chain(cache_candidates()).find(|p| p.is_file())
}

/// promtool, or `None` after printing a skip notice; panics in CI.
fn promtool_or_skip() -> Option<PathBuf> {
    let found = find_promtool();
    if found.is_none() {
        let msg =
            "promtool not found (set PROMTOOL, put it on PATH, or run scripts/install-promtool.sh)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
        eprintln!("skipping: {msg}");
    }
    found
}

/// Runs `promtool check metrics` on `text`: (success, stdout + stderr).
fn promtool_check(promtool: &Path, text: &str) -> (bool, String) {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", promtool.display()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let findings =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), findings)
}

/// Every metric iot-observe defines, exercised against a real exporter.
fn exposition() -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let config = PrometheusConfig::default()
        .service("gateway")
        .instance("pod-1")
        .label("region", "eu-west");
    let (exporter, recorder) = PrometheusExporter::build(config).unwrap();
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let layer = MetricsLayer::builder("/devices/{id}")
                .classifier(ServerErrorsAsFailures)
                .build();
            let svc = layer.layer(service_fn(|status: u16| async move {
                let response = http::Response::builder().status(status).body(());
                Ok::<_, Infallible>(response.unwrap())
            }));
            for status in [200, 404, 503] {
                svc.clone().oneshot(status).await.unwrap();
            }
            #[cfg(feature = "axum")]
            {
                use axum::routing::get;
                let app: axum::Router = axum::Router::new()
                    .route("/devices/{id}", get(|| async { "ok" }))
                    .layer(MetricsLayer::http());
                for path in ["/devices/d-1", "/nothing/here"] {
                    let request = http::Request::get(path)
                        .body(axum::body::Body::empty())
                        .unwrap();
                    app.clone().oneshot(request).await.unwrap();
                }
            }

            let registry = HealthRegistry::builder()
                .check(
                    "db:connection",
                    check_fn(|| async { CheckResult::pass() }),
                    CheckOptions::readiness(),
                )
                .check(
                    "cache:connection",
                    check_fn(|| async { CheckResult::warn("slow") }),
                    CheckOptions::readiness().critical(false),
                )
                .check(
                    "disk:free",
                    check_fn(|| async { CheckResult::fail("full") }),
                    CheckOptions::liveness(),
                )
                .build()
                .unwrap();
            registry.refresh().await;
        });
    });
    exporter.render()
}

fn exported_name(def: &MetricDef, layer: bool) -> String {
    if layer {
        prefixed(DEFAULT_PREFIX, def.name)
    } else {
        def.name.to_owned()
    }
}

fn all_metrics() -> impl Iterator<Item = (String, &'static MetricDef)> {
    let layer = LAYER_METRICS.iter().map(|d| (exported_name(d, true), d));
    let health = HEALTH_METRICS.iter().map(|d| (exported_name(d, false), d));
    layer.chain(health)
}

/// Each metric has its HELP text and TYPE in `text`.
fn assert_help_and_type<'a>(text: &str, metrics: impl Iterator<Item = (String, &'a MetricDef)>) {
    for (name, def) in metrics {
        assert!(
            text.contains(&format!("# HELP {name} {}\n", def.help)),
            "HELP for {name}:\n{text}"
        );
        assert!(
            text.contains(&format!("# TYPE {name} {}\n", def.kind.as_str())),
            "TYPE for {name}:\n{text}"
        );
    }
}

/// Each metric has a row with its type and labels in the table of `doc`
/// (relative to this crate).
fn assert_table_rows<'a>(doc: &str, metrics: impl Iterator<Item = (String, &'a MetricDef)>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(doc);
    let docs = std::fs::read_to_string(&path).unwrap();
    for (name, def) in metrics {
        let row = docs
            .lines()
            .find(|l| l.starts_with(&format!("| `{name}` |")))
            .unwrap_or_else(|| panic!("no table row for {name} in {}", path.display()));
        assert!(row.contains(&format!("| {} |", def.kind.as_str())), "{row}");
        for label in def.labels {
            assert!(row.contains(&format!("`{label}`")), "{row} lacks {label}");
        }
    }
}

/// The HTTP mode's metrics (exercised with feature `axum`).
fn http_metrics() -> impl Iterator<Item = (String, &'static MetricDef)> {
    HTTP_LAYER_METRICS
        .iter()
        .map(|d| (exported_name(d, true), d))
}

#[cfg(feature = "axum")]
#[test]
fn http_mode_exposition_has_help_type_and_bounded_labels() {
    let text = exposition();
    assert_help_and_type(&text, http_metrics());
    assert!(
        text.contains(r#"route="/devices/{id}",method="GET",status_class="2xx""#),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",method="GET",status_class="4xx""#));
    assert!(
        !text.contains("/devices/d-1") && !text.contains("/nothing"),
        "{text}"
    );
}

/// The HTTP mode's metrics are in the family's table in
/// docs/observability.md (docs/metrics.md lists the others).
#[test]
fn observability_docs_list_the_http_metrics() {
    assert_table_rows("../docs/observability.md", http_metrics());
}

#[test]
fn exposition_passes_promtool_with_zero_findings() {
    let text = exposition();
    assert_help_and_type(&text, all_metrics());
    let global = r#"service="gateway",instance="pod-1",region="eu-west""#;
    let warn_run =
        format!(r#"health_check_runs_total{{{global},check="cache:connection",status="warn"}} 1"#);
    assert!(text.lines().any(|l| l == warn_run), "{warn_run} in\n{text}");

    let Some(promtool) = promtool_or_skip() else {
        return;
    };
    let (ok, findings) = promtool_check(&promtool, &text);
    assert!(
        ok && findings.is_empty(),
        "promtool findings:\n{findings}\n---\n{text}"
    );
}

#[test]
fn promtool_does_report_bad_names() {
    let Some(promtool) = promtool_or_skip() else {
        return;
    };
    let bad = concat!(
        "# TYPE requests counter\n",
        "requests 1\n",
        "# HELP latency_ms Latency.\n",
        "# TYPE latency_ms gauge\n",
        "latency_ms 3\n",
    );
    let (ok, findings) = promtool_check(&promtool, bad);
    assert!(
        !ok,
        "promtool accepted a counter without _total: {findings}"
    );
    assert!(
        findings.contains("requests") && findings.contains("latency_ms"),
        "{findings}"
    );
}

#[test]
fn docs_table_lists_every_metric() {
    assert_table_rows("../docs/metrics.md", all_metrics());
}
