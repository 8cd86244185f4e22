//! Each Kustomize overlay, built, equals the manifests rendered directly for
//! that environment (so validating the direct output validates the overlays).

mod common;

use iot_deploy::generate::k8s::manifests;
use iot_deploy::generate::{Target, render};

#[test]
fn overlays_build_to_the_environment_manifests() {
    for name in common::SPECS {
        let file = common::load(name);
        let files = render(&file, None, &[Target::Kustomize]).expect("base");
        for env in iot_deploy::spec::ENVIRONMENTS {
            let built = common::overlay::build(&files, env);
            let spec = file.environments.get(env).unwrap_or(&file.base);
            let expected: std::collections::BTreeMap<_, _> = manifests(spec)
                .into_iter()
                .flat_map(|m| m.docs)
                .map(|d| {
                    let j = serde_json::to_value(&d).unwrap();
                    (
                        (
                            j["kind"].as_str().unwrap().to_string(),
                            j["metadata"]["name"].as_str().unwrap().to_string(),
                        ),
                        j,
                    )
                })
                .collect();
            assert_eq!(
                built.keys().collect::<Vec<_>>(),
                expected.keys().collect::<Vec<_>>(),
                "{name} {env}: objects"
            );
            for (k, v) in &expected {
                assert_eq!(&built[k], v, "{name} {env}: {k:?}");
            }
        }
    }
}
