//! Builds a Kustomize overlay the way `kustomize build` would for what the
//! generator emits: base resources, extra resources, JSON patches, deletions.

use std::collections::BTreeMap;

use iot_deploy::generate::File;
use serde_json::Value as Json;

fn docs(text: &str) -> Vec<Json> {
    format!("\n{text}")
        .split("\n---\n")
        .filter(|d| !d.trim().is_empty())
        .map(|d| serde_saphyr::from_str(d).expect("generated YAML parses"))
        .collect()
}

fn unescape(seg: &str) -> String {
    seg.replace("~1", "/").replace("~0", "~")
}

fn apply(doc: &mut Json, op: &Json) {
    let path: Vec<String> = op["path"]
        .as_str()
        .unwrap_or_default()
        .split('/')
        .skip(1)
        .map(unescape)
        .collect();
    let (last, parents) = path.split_last().expect("non-empty pointer");
    let mut cur = doc;
    for p in parents {
        cur = match cur {
            Json::Array(a) => &mut a[p.parse::<usize>().expect("index")],
            other => other
                .get_mut(p.as_str())
                .unwrap_or_else(|| panic!("no {p} in patch path {path:?}")),
        };
    }
    let kind = op["op"].as_str().unwrap_or_default();
    match cur {
        Json::Object(m) => {
            if kind == "remove" {
                m.remove(last.as_str()).expect("removed key exists");
            } else {
                m.insert(last.clone(), op["value"].clone());
            }
        }
        Json::Array(a) => {
            let i: usize = last.parse().expect("index");
            match kind {
                "remove" => {
                    a.remove(i);
                }
                "replace" => a[i] = op["value"].clone(),
                _ => a.insert(i, op["value"].clone()),
            }
        }
        other => panic!("cannot patch into {other}"),
    }
}

/// The objects the overlay of `env` builds to, keyed by (kind, name).
pub fn build(files: &[File], env: &str) -> BTreeMap<(String, String), Json> {
    let get = |p: &str| {
        files
            .iter()
            .find(|f| f.path == p)
            .unwrap_or_else(|| panic!("missing {p}"))
    };
    let key = |d: &Json| {
        (
            d["kind"].as_str().unwrap_or_default().to_string(),
            d["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    };
    let mut out = BTreeMap::new();
    let base: Json = docs(&get("kustomize/base/kustomization.yaml").contents).remove(0);
    for r in base["resources"].as_array().into_iter().flatten() {
        for d in docs(
            &get(&format!(
                "kustomize/base/{}",
                r.as_str().unwrap_or_default()
            ))
            .contents,
        ) {
            out.insert(key(&d), d);
        }
    }
    let dir = format!("kustomize/overlays/{env}");
    let k: Json = docs(&get(&format!("{dir}/kustomization.yaml")).contents).remove(0);
    for r in k["resources"].as_array().into_iter().flatten().skip(1) {
        for d in docs(&get(&format!("{dir}/{}", r.as_str().unwrap_or_default())).contents) {
            out.insert(key(&d), d);
        }
    }
    for p in k["patches"].as_array().into_iter().flatten() {
        let patch =
            docs(&get(&format!("{dir}/{}", p["path"].as_str().unwrap_or_default())).contents)
                .remove(0);
        if patch.get("$patch").is_some() {
            out.remove(&key(&patch));
            continue;
        }
        let t = &p["target"];
        let target = (
            t["kind"].as_str().unwrap_or_default().to_string(),
            t["name"].as_str().unwrap_or_default().to_string(),
        );
        let doc = out.get_mut(&target).expect("patch target exists in base");
        for op in patch.as_array().expect("JSON patch is a list") {
            apply(doc, op);
        }
    }
    out
}
