//! Kubernetes add-ons (issue #15, platform outputs): prometheus-operator
//! (ServiceMonitor, PrometheusRule), Argo Rollouts (Rollout,
//! AnalysisTemplate, strategy Services) and KEDA (ScaledObject).
//!
//! - every add-on object, raw and from `helm template`, passes its CRD
//!   schema (`../shared/crds/validate.py`);
//! - Helm renders the same objects as the plain manifests;
//! - the PrometheusRule is the promtool-tested rule file, and the analysis
//!   queries are the alert expressions (one source: neither can drift);
//! - promtool parses every analysis and KEDA query.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::process::Command;

use common::parity::{assert_same, helm_template, helm_template_text, raw};
use common::tools::{crd_validator, require, run};
use common::yaml_docs;
use iot_deploy::DeploySpec;
use iot_deploy::emit::to_yaml_docs;
use iot_deploy::generate::k8s::manifests;
use iot_deploy::generate::{Target, render};
use iot_deploy::spec::{Keda, KedaMetric, Rollout, RolloutStrategy, TrafficRouting};
use serde_json::Value as Json;

/// The kinds this file is about.
const KINDS: [&str; 5] = [
    "ServiceMonitor",
    "PrometheusRule",
    "Rollout",
    "AnalysisTemplate",
    "ScaledObject",
];

/// Every test spec and environment, plus constructed variants: a share
/// group under a Rollout, KEDA on a Rollout, a rollout without the
/// operator (job-wide analysis), and each strategy and traffic routing.
fn variants() -> Vec<(String, DeploySpec)> {
    let mut out = common::all_variants();
    let gateway = common::load("gateway.yaml").base;
    let broker = common::load("mqtt-broker.toml").base;

    let mut s = broker.clone();
    s.rollout = Some(Rollout::default());
    s.prometheus_operator = Some(Default::default());
    out.push(("share group, canary".into(), s));

    let mut s = broker;
    let mut r = Rollout::default();
    r.strategy = RolloutStrategy::BlueGreen;
    s.rollout = Some(r);
    let mut k = Keda::default();
    k.metric = KedaMetric::InFlight;
    s.scaling.keda = Some(k);
    out.push(("share group, blue-green, KEDA".into(), s));

    let mut s = gateway.clone();
    s.prometheus_operator = None;
    s.scaling.autoscale = None;
    s.scaling.keda = Some(Keda::default());
    out.push(("no operator, KEDA on the Rollout".into(), s));

    let mut s = gateway;
    if let Some(r) = s.rollout.as_mut() {
        r.traffic = Some(TrafficRouting::Istio);
        r.steps[0].pause = None;
    }
    s.ports.metrics = None;
    out.push(("istio, metrics on http".into(), s));
    out
}

fn count_kinds(docs: &[Json]) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for d in docs {
        let k = d["kind"].as_str().unwrap_or_default();
        if KINDS.contains(&k) {
            *n.entry(k.to_string()).or_insert(0) += 1;
        }
    }
    n
}

/// Runs validate.py on `files` (name, YAML text); asserts every add-on
/// object is valid and returns how many were checked.
fn validate(files: &[(String, String)], what: &str) -> usize {
    let Some((python, script)) = crd_validator() else {
        return 0;
    };
    let tmp = tempfile::tempdir().unwrap();
    for (i, (_, text)) in files.iter().enumerate() {
        fs::write(tmp.path().join(format!("{i}.yaml")), text).unwrap();
    }
    let (ok, out) = run(Command::new(python).arg(&script).arg(tmp.path()));
    assert!(
        ok && out.contains(" 0 invalid"),
        "validate.py on {what}:\n{out}"
    );
    let valid: usize = out
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("validate.py summary:\n{out}"));
    valid
}

#[test]
fn raw_add_on_objects_pass_their_crd_schemas() {
    let mut files = Vec::new();
    let mut kinds = BTreeMap::new();
    for (label, spec) in variants() {
        for m in manifests(&spec) {
            let text = to_yaml_docs(&m.docs);
            for (k, n) in count_kinds(&yaml_docs(&text)) {
                *kinds.entry(k).or_insert(0) += n;
            }
            files.push((format!("{label}/{}", m.file), text));
        }
    }
    for k in KINDS {
        assert!(kinds.get(k).copied().unwrap_or(0) >= 2, "{k}: {kinds:?}");
    }
    let checked = validate(&files, "raw manifests");
    if checked > 0 {
        let ours: usize = kinds.values().sum();
        assert!(checked >= ours, "checked {checked} of {ours}: {kinds:?}");
    }
}

#[test]
fn helm_add_on_objects_pass_their_crd_schemas_and_match_the_raw_ones() {
    let Some(helm) = require("helm") else {
        return;
    };
    let mut files = Vec::new();
    for (label, spec) in variants() {
        let text = helm_template_text(&spec, &helm);
        files.push((label.clone(), text));
        let raw = raw(&spec);
        let helm = helm_template(&spec, &helm);
        let mut compared = 0;
        for (k, want) in &raw {
            let whole = KINDS.contains(&k.0.as_str()) && k.0 != "Rollout";
            let strategy_service = k.0 == "Service"
                && ["canary", "stable", "preview"]
                    .iter()
                    .any(|s| k.1 == format!("{}-{s}", spec.name));
            let got = helm.get(k);
            if whole || strategy_service {
                let got = got.unwrap_or_else(|| panic!("{label}: helm has no {k:?}"));
                assert_same(&label, k, got, want);
                compared += 1;
            }
            if k.0 == "Rollout" {
                let got = got.unwrap_or_else(|| panic!("{label}: helm has no {k:?}"));
                for f in [
                    "/apiVersion",
                    "/spec/strategy",
                    "/spec/replicas",
                    "/spec/selector",
                    "/spec/template/spec/containers/0/image",
                ] {
                    assert_eq!(got.pointer(f), want.pointer(f), "{label}: Rollout {f}");
                }
                for gone in ["/spec/serviceName", "/spec/updateStrategy"] {
                    assert!(got.pointer(gone).is_none(), "{label}: Rollout {gone}");
                }
                compared += 1;
            }
            if ["HorizontalPodAutoscaler", "ScaledObject"].contains(&k.0.as_str()) {
                let got = got.unwrap_or_else(|| panic!("{label}: helm has no {k:?}"));
                assert_eq!(
                    got["spec"]["scaleTargetRef"], want["spec"]["scaleTargetRef"],
                    "{label}: {k:?}"
                );
            }
        }
        // Nothing the raw manifests lack, and no Deployment beside a Rollout.
        for k in helm.keys().filter(|k| KINDS.contains(&k.0.as_str())) {
            assert!(raw.contains_key(k), "{label}: only helm has {k:?}");
        }
        if spec.rollout.is_some() {
            for kind in ["Deployment", "StatefulSet"] {
                let k = (kind.to_string(), spec.name.clone());
                assert!(!helm.contains_key(&k) && !raw.contains_key(&k), "{label}");
            }
        }
        let expected = count_kinds(&raw.values().cloned().collect::<Vec<_>>());
        assert!(
            compared >= expected.values().sum::<usize>(),
            "{label}: compared {compared}, {expected:?}"
        );
    }
    validate(&files, "helm template output");
}

/// The PrometheusRule carries exactly the groups of the rule file that
/// `promtool test rules` exercises, in raw and Helm form.
#[test]
fn the_prometheus_rule_is_the_tested_rule_file() {
    let file = common::load("gateway.yaml");
    let spec = &file.base;
    let files = render(
        &file,
        None,
        &[Target::Prometheus, Target::K8s, Target::Helm],
    )
    .unwrap();
    let get = |p: &str| {
        &files
            .iter()
            .find(|f| f.path == p)
            .unwrap_or_else(|| panic!("no {p}"))
            .contents
    };
    let rule_file = yaml_docs(get(&format!("prometheus/rules/{}.rules.yml", spec.name)));
    let monitoring = yaml_docs(get("k8s/monitoring.yaml"));
    let rule = monitoring
        .iter()
        .find(|d| d["kind"] == "PrometheusRule")
        .unwrap();
    assert_eq!(rule["spec"]["groups"], rule_file[0]["groups"]);
    assert_eq!(
        rule["metadata"]["labels"]["release"], "kube-prometheus-stack",
        "the ruleSelector label"
    );
    let values = yaml_docs(get(&format!("helm/{}/values.yaml", spec.name)));
    assert_eq!(
        values[0]["prometheusOperator"]["ruleGroups"],
        rule_file[0]["groups"]
    );
    if let Some(helm) = require("helm") {
        let objs = helm_template(spec, &helm);
        let k = ("PrometheusRule".to_string(), spec.name.clone());
        // Helm does not evaluate `{{ $labels.name }}` in values.
        assert_eq!(objs[&k]["spec"]["groups"], rule_file[0]["groups"]);
    }
}

/// The analysis queries are the alert expressions (same functions), with
/// the new pods' hash added when the ServiceMonitor copies it.
#[test]
fn analysis_queries_are_the_alert_expressions() {
    let mut spec = common::load("gateway.yaml").base;
    let alerts = |spec: &DeploySpec| -> BTreeMap<String, String> {
        let files = iot_deploy::generate::prometheus::files(spec);
        let rules = yaml_docs(&files[1].contents);
        rules[0]["groups"][0]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let expr = r["expr"].as_str().unwrap();
                let lhs = expr.rsplit_once(" > ").map_or(expr, |(l, _)| l);
                (r["alert"].as_str().unwrap().to_string(), lhs.to_string())
            })
            .collect()
    };
    let queries = |spec: &DeploySpec| -> BTreeMap<String, String> {
        let t = manifests(spec)
            .into_iter()
            .flat_map(|m| m.docs)
            .map(|d| serde_json::to_value(&d).unwrap())
            .find(|d| d["kind"] == "AnalysisTemplate")
            .unwrap();
        t["spec"]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let q = m["provider"]["prometheus"]["query"].as_str().unwrap();
                (m["name"].as_str().unwrap().to_string(), q.to_string())
            })
            .collect()
    };
    // Without the operator the analysis is job-wide: the alert text itself.
    spec.prometheus_operator = None;
    let (a, q) = (alerts(&spec), queries(&spec));
    let pre = "TelemetryGateway";
    assert_eq!(
        q["error-ratio"],
        format!("({}) or vector(0)", a[&format!("{pre}HighErrorRate")])
    );
    assert_eq!(
        q["decode-errors"],
        format!("({}) or vector(0)", a[&format!("{pre}DecodeErrors")])
    );
    assert_eq!(
        q["breaker-open"],
        format!("max({}) or vector(0)", a[&format!("{pre}CircuitOpen")])
    );
    // With it, every selector also names the new pods' hash.
    spec.prometheus_operator = Some(Default::default());
    let scoped = queries(&spec);
    let hash = ",rollouts_pod_template_hash=\"{{args.canary-hash}}\"";
    for (name, query) in &q {
        let job = "job=\"telemetry-gateway\"";
        assert_eq!(
            scoped[name],
            query.replace(job, &format!("{job}{hash}")),
            "{name}"
        );
    }
}

/// promtool parses every analysis and KEDA query (as rule expressions).
#[test]
fn promtool_parses_the_analysis_and_keda_queries() {
    let Some(promtool) = require("promtool") else {
        return;
    };
    let mut rules = Vec::new();
    for (label, spec) in variants() {
        for d in manifests(&spec).into_iter().flat_map(|m| m.docs) {
            let d = serde_json::to_value(&d).unwrap();
            let mut qs: Vec<String> = Vec::new();
            for m in d["spec"]["metrics"].as_array().into_iter().flatten() {
                qs.extend(
                    m["provider"]["prometheus"]["query"]
                        .as_str()
                        .map(String::from),
                );
            }
            for t in d["spec"]["triggers"].as_array().into_iter().flatten() {
                qs.extend(t["metadata"]["query"].as_str().map(String::from));
            }
            for q in qs {
                let q = q.replace("{{args.canary-hash}}", "5d8f9c7b6");
                rules.push(serde_json::json!({
                    "record": format!("check:{}", rules.len()),
                    "expr": q,
                    "labels": {"variant": label},
                }));
            }
        }
    }
    assert!(rules.len() >= 15, "{} queries", rules.len());
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("queries.yml");
    let doc = serde_json::json!({"groups": [{"name": "queries", "rules": rules}]});
    fs::write(&path, serde_json::to_string(&doc).unwrap()).unwrap();
    let (ok, out) = run(Command::new(promtool).args(["check", "rules"]).arg(&path));
    assert!(ok, "promtool check rules:\n{out}");
}

/// KEDA replaces the CPU autoscaler, never both on one workload; the
/// Rollout replaces the Deployment (or the share group's StatefulSet).
#[test]
fn one_autoscaler_and_one_workload() {
    for (label, spec) in variants() {
        let objs = raw(&spec);
        let has = |kind: &str| objs.keys().any(|k| k.0 == kind);
        assert!(
            !(has("ScaledObject") && has("HorizontalPodAutoscaler")),
            "{label}"
        );
        let workloads: Vec<_> = objs
            .keys()
            .filter(|k| {
                ["Deployment", "StatefulSet", "Rollout"].contains(&k.0.as_str()) && k.1 == spec.name
            })
            .collect();
        assert_eq!(workloads.len(), 1, "{label}: {workloads:?}");
        if spec.autoscaled() {
            let w = &objs[workloads[0]];
            assert!(w["spec"].get("replicas").is_none(), "{label}");
        }
    }
}

/// The walk-through of docs/deploy.md ("a canary of the gateway, rolled
/// back on decode errors"): its TOML added to the example gateway spec
/// loads, passes `check` (every finding acknowledged) in every
/// environment, and yields the Rollout and the decode-error analysis it
/// describes.
#[test]
fn the_docs_canary_walk_through_holds() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let docs = fs::read_to_string(root.join("docs/deploy.md")).unwrap();
    let at = docs
        .find("#### Walk-through: a canary of the gateway")
        .expect("the walk-through heading");
    let block = &docs[at..];
    let start = block.find("```toml\n").expect("its TOML") + "```toml\n".len();
    let end = start + block[start..].find("```").unwrap();
    let extra: String = block[start..end]
        .lines()
        .map(|l| l.strip_prefix("   ").unwrap_or(l))
        .map(|l| format!("{l}\n"))
        .collect();
    let example = fs::read_to_string(root.join("examples/gateway.deploy.toml")).unwrap();
    let text = format!("{example}\n{extra}");
    let file = iot_deploy::SpecFile::parse(&text, iot_deploy::Format::Toml)
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    let envs = std::iter::once(None).chain(file.environments.keys().map(|e| Some(e.as_str())));
    for env in envs {
        let spec = file.resolve(env).unwrap();
        for f in iot_deploy::lint::lint(spec) {
            assert!(
                iot_deploy::lint::acknowledged(spec, env, &f).is_some(),
                "{env:?}: {f:?}"
            );
        }
    }
    let objs = raw(&file.base);
    let name = file.base.name.clone();
    let rollout = &objs[&("Rollout".to_string(), name.clone())];
    assert_eq!(
        rollout["spec"]["strategy"]["canary"]["steps"][0]["setWeight"],
        33
    );
    let template = &objs[&("AnalysisTemplate".to_string(), name)];
    let decode = template["spec"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "decode-errors")
        .unwrap();
    assert_eq!(decode["successCondition"], "result[0] <= 0.5");
    assert_eq!(decode["failureLimit"], 1);
    let query = decode["provider"]["prometheus"]["query"].as_str().unwrap();
    assert!(
        query.contains("iot_mqtt_frames_decode_errors_total{job=\"iot-gateway\",rollouts_pod_template_hash=\"{{args.canary-hash}}\"}"),
        "{query}"
    );
}
