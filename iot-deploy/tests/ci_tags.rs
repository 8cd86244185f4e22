//! Issue #15, item 5: the image tag the manifests use is one the workflow
//! pushes for the release tag `v<image.tag>`. Runs the workflow's own
//! "Image tags" script under bash, the way the runner does.

mod common;

use std::process::Command;

use common::yaml_docs;
use iot_deploy::generate::{Target, render};
use serde_json::Value as Json;

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// The tags the workflow pushes for a ref, or `None` when the step fails.
fn pushed(workflow: &Json, ref_type: &str, ref_name: &str) -> Option<Vec<String>> {
    let steps = workflow["jobs"]["image"]["steps"].as_array().unwrap();
    let tags_step = steps
        .iter()
        .find(|s| s["id"] == "tags")
        .expect("an Image tags step");
    let build = steps
        .iter()
        .find(|s| s["name"] == "Build and push")
        .unwrap();
    let out = tempfile::NamedTempFile::new().unwrap();
    let ok = Command::new("bash")
        .args(["-e", "-c", tags_step["run"].as_str().unwrap()])
        .env("REF_TYPE", ref_type)
        .env("REF_NAME", ref_name)
        .env("GITHUB_OUTPUT", out.path())
        .output()
        .unwrap()
        .status
        .success();
    if !ok {
        return None;
    }
    let outputs = std::fs::read_to_string(out.path()).unwrap();
    let release = outputs
        .lines()
        .find_map(|l| l.strip_prefix("release="))
        .unwrap_or("");
    Some(
        build["with"]["tags"]
            .as_str()
            .unwrap()
            .replace("${{ github.sha }}", SHA)
            .replace("${{ steps.tags.outputs.release }}", release)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

#[test]
fn the_manifests_image_is_pushed_for_its_release_tag() {
    for name in common::SPECS {
        let f = common::load(name);
        let spec = &f.base;
        let Some(tag) = spec.image.tag.as_deref() else {
            continue;
        };
        let files = render(&f, None, &[Target::Ci, Target::K8s]).unwrap();
        let get =
            |p: &str| yaml_docs(&files.iter().find(|f| f.path == p).unwrap().contents).remove(0);
        let wf = get(&format!(".github/workflows/{}.yaml", spec.name));
        let workload = files
            .iter()
            .find(|f| {
                ["deployment", "statefulset", "rollout"]
                    .iter()
                    .any(|k| f.path == format!("k8s/{k}.yaml"))
            })
            .unwrap();
        let image =
            yaml_docs(&workload.contents)[0]["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap()
                .to_string();
        let release = pushed(&wf, "tag", &format!("v{tag}")).expect("the release builds");
        let reference = image.split('@').next().unwrap();
        assert!(
            release.iter().any(|t| t == reference),
            "{name}: manifests use {image}, v{tag} pushes {release:?}"
        );
        // A branch pushes only the commit tag; a release of another version fails.
        assert_eq!(
            pushed(&wf, "branch", "main").unwrap(),
            [format!("{}:sha-{SHA}", spec.image.repository)],
            "{name}"
        );
        assert_eq!(pushed(&wf, "tag", "v999.0.0"), None, "{name}");
    }
}
