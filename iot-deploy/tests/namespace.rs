//! Issue #15, item 2: the app's manifests never contain the Namespace, so
//! `kubectl delete -f deploy/k8s/` (not recursive) and `kubectl delete -k`
//! on the base or an overlay cannot delete a namespace others share. The
//! Namespace is a create-once file of its own.

mod common;

use iot_deploy::generate::{Target, render};

fn kinds(text: &str) -> Vec<String> {
    common::yaml_docs(text)
        .into_iter()
        .map(|j| j["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn the_namespace_is_outside_the_apps_manifests() {
    for name in common::SPECS {
        let f = common::load(name);
        let files = render(&f, None, &[Target::K8s, Target::Kustomize, Target::Helm]).unwrap();
        let ns = f.base.namespace();
        for file in &files {
            let p = file.path.as_str();
            if !p.ends_with(".yaml") {
                continue;
            }
            let top_k8s = p.starts_with("k8s/") && !p["k8s/".len()..].contains('/');
            let kustomize_set =
                p.starts_with("kustomize/base/") || p.starts_with("kustomize/overlays/");
            let helm = p.starts_with("helm/");
            if top_k8s || kustomize_set || helm {
                assert!(
                    !file.contents.contains("kind: Namespace"),
                    "{name}: {p} creates the Namespace"
                );
            }
        }
        for dir in ["k8s", "kustomize"] {
            let path = format!("{dir}/namespace/namespace.yaml");
            let f = files
                .iter()
                .find(|f| f.path == path)
                .unwrap_or_else(|| panic!("{name}: no {path}"));
            assert_eq!(kinds(&f.contents), ["Namespace"], "{name}: {path}");
            assert!(
                f.contents.contains(&format!("name: {ns}\n")),
                "{name}: {path}"
            );
        }
        // The base kustomization lists only the app's files.
        let k = files
            .iter()
            .find(|f| f.path == "kustomize/base/kustomization.yaml")
            .unwrap();
        assert!(!k.contents.contains("namespace"), "{name}: {}", k.contents);
    }
}
