//! Every emitted Kubernetes object is exactly representable by the
//! `k8s-openapi` types: deserializing it and serializing it back gives the
//! same JSON (a misspelled or misplaced field would be dropped or rejected).
//! cert-manager, prometheus-operator, Argo Rollouts and KEDA objects are
//! not in k8s-openapi: `tests/validators.rs` checks them against their CRD
//! schemas; a Rollout's pod template is still checked here, as a
//! `PodTemplateSpec`.

mod common;

use iot_deploy::generate::k8s::{manifests, namespace_manifest, secret_templates};
use k8s_openapi::api::{apps, autoscaling, batch, core, networking, policy};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

fn round_trip<T: DeserializeOwned + Serialize>(json: &Json) -> Result<Json, String> {
    let typed: T = serde_json::from_value(json.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(&typed).map_err(|e| e.to_string())
}

fn check(json: &Json) -> Result<(), String> {
    let kind = json["kind"].as_str().unwrap_or_default();
    let back = match kind {
        "Namespace" => round_trip::<core::v1::Namespace>(json),
        "ServiceAccount" => round_trip::<core::v1::ServiceAccount>(json),
        "ConfigMap" => round_trip::<core::v1::ConfigMap>(json),
        "Secret" => round_trip::<core::v1::Secret>(json),
        "Service" => round_trip::<core::v1::Service>(json),
        "Deployment" => round_trip::<apps::v1::Deployment>(json),
        "StatefulSet" => round_trip::<apps::v1::StatefulSet>(json),
        "HorizontalPodAutoscaler" => round_trip::<autoscaling::v2::HorizontalPodAutoscaler>(json),
        "PodDisruptionBudget" => round_trip::<policy::v1::PodDisruptionBudget>(json),
        "Ingress" => round_trip::<networking::v1::Ingress>(json),
        "NetworkPolicy" => round_trip::<networking::v1::NetworkPolicy>(json),
        "CronJob" => round_trip::<batch::v1::CronJob>(json),
        "Job" => round_trip::<batch::v1::Job>(json),
        other => return Err(format!("no k8s-openapi type mapped for kind {other:?}")),
    }?;
    if back != *json {
        return Err(format!(
            "{kind} changed in the round trip\nemitted: {}\nk8s-openapi: {}",
            serde_json::to_string_pretty(json).unwrap_or_default(),
            serde_json::to_string_pretty(&back).unwrap_or_default()
        ));
    }
    Ok(())
}

/// API groups of add-on kinds, checked against CRD schemas instead.
const CRD_GROUPS: [&str; 4] = [
    "cert-manager.io/",
    "monitoring.coreos.com/",
    "argoproj.io/",
    "keda.sh/",
];

#[test]
fn every_emitted_object_matches_k8s_openapi() {
    let mut kinds = std::collections::BTreeSet::new();
    let (mut crds, mut rollouts) = (0, 0);
    for (label, spec) in common::all_variants() {
        let ns = std::iter::once(namespace_manifest(&spec));
        for m in manifests(&spec)
            .into_iter()
            .chain(ns)
            .chain(secret_templates(&spec))
        {
            for doc in &m.docs {
                let json = serde_json::to_value(doc).unwrap();
                let api = json["apiVersion"].as_str().unwrap_or_default();
                if CRD_GROUPS.iter().any(|g| api.starts_with(g)) {
                    crds += 1;
                    if json["kind"] == "Rollout" {
                        rollouts += 1;
                        let t = &json["spec"]["template"];
                        let back = round_trip::<core::v1::PodTemplateSpec>(t)
                            .unwrap_or_else(|e| panic!("{label} {}: {e}", m.file));
                        assert_eq!(&back, t, "{label} {}: Rollout pod template", m.file);
                    }
                    continue;
                }
                kinds.insert(json["kind"].as_str().unwrap_or_default().to_string());
                check(&json).unwrap_or_else(|e| panic!("{label} {}: {e}", m.file));
            }
        }
    }
    assert!(crds > 0, "some spec has cert-manager objects");
    assert!(rollouts >= 4, "the gateway's Rollouts: {rollouts}");
    assert_eq!(
        kinds.len(),
        13,
        "every kind is covered by some spec: {kinds:?}"
    );
}
