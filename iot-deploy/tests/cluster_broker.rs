//! The broker in Kubernetes and the share-group members' identity: the Helm
//! chart renders (real `helm template`) the same broker objects as the plain
//! manifests, and the same StatefulSet identity for the service (kind,
//! governing Service, client id from the pod name, autoscaler target, the
//! egress rule to the broker's pods); where the broker runs by default; and
//! strings from the spec stay values in every file they reach.

mod common;

use common::parity::{assert_same, helm_template, raw};
use common::tools::require;
use iot_deploy::DeploySpec;
use iot_deploy::generate::k8s::manifests;
use iot_deploy::generate::{Target, helm, render};
use iot_deploy::spec::Autoscale;
use iot_deploy::{Format, SpecFile};
use serde_json::Value as Json;

fn spec_variants() -> Vec<(String, DeploySpec)> {
    let file = common::load("mqtt-broker.toml");
    let mut out = vec![("base".to_string(), file.base.clone())];
    for (env, s) in &file.environments {
        out.push((env.clone(), s.clone()));
    }
    // An autoscaled share group: the autoscaler targets the StatefulSet.
    let mut scaled = file.base.clone();
    scaled.scaling.autoscale = Some(Autoscale::default());
    out.push(("autoscaled".into(), scaled));
    out
}

#[test]
fn helm_and_raw_manifests_agree_on_the_broker_and_the_members() {
    let Some(helm_bin) = require("helm") else {
        return;
    };
    for (label, spec) in spec_variants() {
        let raw = raw(&spec);
        let helm = helm_template(&spec, &helm_bin);
        // Every broker object, whole.
        let broker: Vec<_> = raw
            .iter()
            .filter(|(_, v)| {
                v.pointer("/metadata/labels/app.kubernetes.io~1component")
                    == Some(&Json::from("mqtt-broker"))
            })
            .collect();
        assert!(broker.len() >= 4, "{label}: broker objects {broker:?}");
        for (k, v) in broker {
            let got = helm
                .get(k)
                .unwrap_or_else(|| panic!("{label}: helm has no {k:?}"));
            assert_same(&label, k, got, v);
        }
        // The members: a StatefulSet governed by the headless Service, each
        // pod's client id its name, in both.
        let sts = ("StatefulSet".to_string(), spec.name.clone());
        let headless = ("Service".to_string(), format!("{}-headless", spec.name));
        assert!(
            raw.contains_key(&headless) && helm.contains_key(&headless),
            "{label}"
        );
        assert!(
            !helm.contains_key(&("Deployment".to_string(), spec.name.clone())),
            "{label}: helm renders a Deployment too"
        );
        for field in [
            "/spec/replicas",
            "/spec/serviceName",
            "/spec/podManagementPolicy",
            "/spec/updateStrategy",
            "/spec/selector",
        ] {
            assert_eq!(
                helm[&sts].pointer(field),
                raw[&sts].pointer(field),
                "{label}: StatefulSet {field}"
            );
        }
        let client_id = |o: &Json| -> Option<Json> {
            o.pointer("/spec/template/spec/containers/0/env")?
                .as_array()?
                .iter()
                .find(|e| e["name"] == "GATEWAY_CLIENT_ID")
                .cloned()
        };
        let want = client_id(&raw[&sts]).expect("raw client id");
        assert_eq!(
            want["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name",
            "{label}"
        );
        assert_eq!(client_id(&helm[&sts]), Some(want), "{label}");
        let hpa = ("HorizontalPodAutoscaler".to_string(), spec.name.clone());
        if let Some(r) = raw.get(&hpa) {
            assert_eq!(r["spec"]["scaleTargetRef"]["kind"], "StatefulSet");
            assert_eq!(
                helm[&hpa]["spec"]["scaleTargetRef"], r["spec"]["scaleTargetRef"],
                "{label}"
            );
        }
        // The service's egress to the broker: its pods only, same port.
        let allow = ("NetworkPolicy".to_string(), format!("{}-allow", spec.name));
        let to_broker = |o: &Json| -> Json {
            o["spec"]["egress"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| {
                    r["to"][0]["podSelector"].is_object()
                        && r["to"][0].get("namespaceSelector").is_none()
                })
                .cloned()
                .unwrap_or(Json::Null)
        };
        assert_eq!(
            to_broker(&raw[&allow])["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/instance"],
            "mosquitto",
            "{label}"
        );
        assert_eq!(to_broker(&helm[&allow]), to_broker(&raw[&allow]), "{label}");
    }
}

fn parse(text: &str) -> SpecFile {
    SpecFile::parse(text, Format::Toml).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

const HEAD: &str = "name = \"gw\"\nimage = { repository = \"ghcr.io/acme/gw\", tag = \"1.0.0\" }\n";

/// The broker runs in the cluster when `host` names a Service of the
/// namespace (the default `mosquitto`), not when it points elsewhere or a
/// `cidr` restricts egress, unless `broker.kubernetes` says otherwise.
#[test]
fn where_the_broker_runs() {
    let runs = |extra: &str| {
        let f = parse(&format!("{HEAD}{extra}"));
        manifests(&f.base)
            .iter()
            .any(|m| m.file == "mqtt-broker.yaml")
    };
    assert!(!runs(""), "no MQTT, no broker");
    assert!(runs("[dependencies.mqtt]\n"));
    assert!(runs("[dependencies.mqtt]\nhost = \"mqtt\"\n"));
    assert!(runs(
        "[dependencies.mqtt]\nhost = \"mqtt.gw.svc.cluster.local\"\n"
    ));
    assert!(!runs("[dependencies.mqtt]\nhost = \"mqtt.other.svc\"\n"));
    assert!(!runs(
        "[dependencies.mqtt]\nhost = \"broker.example.com\"\n"
    ));
    assert!(!runs("[dependencies.mqtt]\ncidr = \"10.0.0.0/8\"\n"));
    assert!(!runs(
        "[dependencies.mqtt]\n[dependencies.mqtt.broker]\nkubernetes = false\n"
    ));
    assert!(runs(
        "namespace = \"iot\"\n[dependencies.mqtt]\nhost = \"mqtt.iot\"\n[dependencies.mqtt.broker]\nkubernetes = true\n"
    ));
    // Compose runs it in every case.
    let f = parse(&format!(
        "{HEAD}[dependencies.mqtt]\nhost = \"broker.example.com\"\n"
    ));
    let files = render(&f, None, &[Target::Compose]).unwrap();
    assert!(
        files
            .iter()
            .any(|f| f.path == "compose/mosquitto/mosquitto.conf")
    );
}

/// Strings from the spec that reach the new objects stay values: a broker
/// image with a line break and YAML in it (accepted by no rule of its own
/// before the image check) is refused; valid strings come back unchanged
/// from the plain manifests and the Helm values, and the objects stay the
/// same in number.
#[test]
fn spec_strings_stay_values() {
    let bad = format!(
        "{HEAD}[dependencies.mqtt]\nimage = \"eclipse-mosquitto:2.0.20\\n    securityContext: {{privileged: true}}\"\n"
    );
    let err = SpecFile::parse(&bad, Format::Toml).unwrap_err().to_string();
    assert!(
        err.contains("dependencies.mqtt.image") && err.contains("line break"),
        "{err}"
    );
    let text = format!(
        "{HEAD}[dependencies.mqtt]\nimage = \"registry.example.com:5000/mqtt/mosquitto:2.0.20-openssl\"\n[dependencies.mqtt.broker]\nstorage_class = \"fast.ssd\"\nstorage = \"10Gi\"\nauth_secret = \"x.y\"\ndevice_cidrs = [\"10.0.0.0/8\", \"fd00::/8\"]\n[dependencies.mqtt.share_group]\nclient_id_env = \"MQTT_CLIENT_ID_2\"\n"
    );
    let f = parse(&text);
    let objs = raw(&f.base);
    let sts = &objs[&("StatefulSet".to_string(), "mosquitto".to_string())];
    assert_eq!(
        sts["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com:5000/mqtt/mosquitto:2.0.20-openssl"
    );
    let claim = &sts["spec"]["volumeClaimTemplates"][0]["spec"];
    assert_eq!(claim["storageClassName"], "fast.ssd");
    assert_eq!(claim["resources"]["requests"]["storage"], "10Gi");
    let policy = &objs[&("NetworkPolicy".to_string(), "mosquitto".to_string())];
    assert_eq!(
        policy["spec"]["ingress"][1]["from"][1]["ipBlock"]["cidr"],
        "fd00::/8"
    );
    let gw = &objs[&("StatefulSet".to_string(), "gw".to_string())];
    let env = gw["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap();
    assert!(env.iter().any(|e| e["name"] == "MQTT_CLIENT_ID_2"));
    let values = helm::files(&f.base)
        .into_iter()
        .find(|f| f.path.ends_with("values.yaml"))
        .unwrap();
    let v: Json = serde_saphyr::from_str(&values.contents).unwrap();
    assert_eq!(
        v["mqtt"]["broker"]["image"],
        "registry.example.com:5000/mqtt/mosquitto:2.0.20-openssl"
    );
    assert_eq!(
        v["mqtt"]["broker"]["storage"]["storageClassName"],
        "fast.ssd"
    );
    assert_eq!(v["mqtt"]["shareGroup"]["clientIdEnv"], "MQTT_CLIENT_ID_2");
    let conf = v["mqtt"]["broker"]["config"].as_str().unwrap();
    assert_eq!(
        conf,
        iot_deploy::generate::k8s::broker::config(
            &f.base,
            f.base.dependencies.mqtt.as_ref().unwrap()
        )
    );
}

/// Issue #15, item 3: the chart's NetworkPolicies admit the same sources as
/// the plain manifests' (http: the namespace, the ingress controller and the
/// listed namespaces; metrics: Prometheus only) and cover the CronJob's pods.
#[test]
fn helm_and_raw_network_policies_admit_the_same_sources() {
    let Some(helm_bin) = require("helm") else {
        return;
    };
    let gateway = common::load("gateway.yaml");
    let mut specs = vec![("gateway".to_string(), gateway.base.clone())];
    let mut open = gateway.base.clone();
    open.ports.metrics = None;
    open.ports.http_from_namespaces = vec!["edge".into()];
    open.metrics.prometheus_namespace = "obs".into();
    specs.push(("metrics on http".into(), open));
    for (label, spec) in specs {
        let raw = raw(&spec);
        let helm = helm_template(&spec, &helm_bin);
        for (name, fields) in [
            (
                format!("{}-allow", spec.name),
                &["/spec/ingress", "/spec/podSelector", "/spec/egress"],
            ),
            (
                format!("{}-cron", spec.name),
                &["/spec/podSelector", "/spec/policyTypes", "/spec/egress"],
            ),
        ] {
            let k = ("NetworkPolicy".to_string(), name);
            let want = raw
                .get(&k)
                .unwrap_or_else(|| panic!("{label}: raw has no {k:?}"));
            let got = helm
                .get(&k)
                .unwrap_or_else(|| panic!("{label}: helm has no {k:?}"));
            for f in fields {
                assert_eq!(got.pointer(f), want.pointer(f), "{label}: {k:?} {f}");
            }
            assert_eq!(
                got.pointer("/spec/ingress").is_none(),
                k.1.ends_with("-cron")
            );
        }
        // Issue #15 item 7: the CronJob's schedule and time zone agree.
        let k = ("CronJob".to_string(), format!("{}-cron", spec.name));
        for f in ["/spec/schedule", "/spec/timeZone"] {
            assert_eq!(
                helm[&k].pointer(f),
                raw[&k].pointer(f),
                "{label}: {k:?} {f}"
            );
        }
        assert!(raw[&k].pointer("/spec/timeZone").is_some(), "{label}");
        // ... and so do its volumes (the config files) and mounts.
        let pod = "/spec/jobTemplate/spec/template/spec";
        let names = |v: &Json, p: &str| -> Vec<Json> {
            v.pointer(&format!("{pod}/{p}"))
                .and_then(Json::as_array)
                .map(|a| a.iter().map(|x| x["name"].clone()).collect())
                .unwrap_or_default()
        };
        for p in ["volumes", "containers/0/volumeMounts"] {
            assert_eq!(names(&helm[&k], p), names(&raw[&k], p), "{label}: {p}");
        }
        assert!(
            names(&raw[&k], "volumes").contains(&Json::from("config")),
            "{label}"
        );
        // The headless Service Prometheus discovers the pods through.
        let k = ("Service".to_string(), format!("{}-headless", spec.name));
        let svc = helm
            .get(&k)
            .unwrap_or_else(|| panic!("{label}: helm has no {k:?}"));
        for f in ["/spec/clusterIP", "/spec/ports", "/spec/selector"] {
            assert_eq!(svc.pointer(f), raw[&k].pointer(f), "{label}: {k:?} {f}");
        }
    }
}
