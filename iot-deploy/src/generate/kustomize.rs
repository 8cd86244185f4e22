//! Kustomize: the base spec's manifests, and one overlay per environment
//! whose JSON patches turn the base into that environment's manifests.

use std::collections::BTreeMap;

use super::File;
use super::k8s::manifests;
use crate::SpecFile;
use crate::emit::{Value, to_yaml, to_yaml_docs};
use crate::spec::{DeploySpec, ENVIRONMENTS};

/// One JSON patch (RFC 6902) operation.
fn op(kind: &str, path: &str, value: Option<&Value>) -> Value {
    let mut o = Value::map().with("op", kind).with("path", path);
    if let Some(v) = value {
        o.set("value", v.clone());
    }
    o
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The operations turning `a` into `b`.
pub(crate) fn diff(a: &Value, b: &Value, path: &str, ops: &mut Vec<Value>) {
    match (a, b) {
        (Value::Map(x), Value::Map(y)) => {
            for (k, v) in x {
                let p = format!("{path}/{}", escape(k));
                match b.get(k) {
                    Some(w) => diff(v, w, &p, ops),
                    None => ops.push(op("remove", &p, None)),
                }
            }
            for (k, w) in y {
                if a.get(k).is_none() {
                    ops.push(op("add", &format!("{path}/{}", escape(k)), Some(w)));
                }
            }
        }
        (Value::Seq(x), Value::Seq(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                diff(v, w, &format!("{path}/{i}"), ops);
            }
        }
        _ if a != b => ops.push(op("replace", path, Some(b))),
        _ => {}
    }
}

type Id = (String, String);

fn id(v: &Value) -> Id {
    let s = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    (s("kind"), s("metadata/name"))
}

fn objects(spec: &DeploySpec) -> BTreeMap<Id, (String, Value)> {
    manifests(spec)
        .into_iter()
        .flat_map(|m| m.docs.into_iter().map(move |d| (m.file.clone(), d)))
        .map(|(f, d)| (id(&d), (f, d)))
        .collect()
}

fn target(v: &Value) -> Value {
    let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("v1");
    let (group, version) = api.split_once('/').unwrap_or(("", api));
    let (kind, name) = id(v);
    let mut t = Value::map();
    if !group.is_empty() {
        t.set("group", group);
    }
    t.with("version", version)
        .with("kind", kind)
        .with("name", name)
}

fn kustomization() -> Value {
    Value::map()
        .with("apiVersion", "kustomize.config.k8s.io/v1beta1")
        .with("kind", "Kustomization")
}

/// The overlay of one environment.
fn overlay(base: &DeploySpec, spec: &DeploySpec, env: &str) -> Vec<File> {
    let dir = format!("kustomize/overlays/{env}");
    let (a, b) = (objects(base), objects(spec));
    let mut files = Vec::new();
    let mut resources = vec![Value::from("../../base")];
    let mut patches = Vec::new();
    for (key, (file, obj)) in &b {
        match a.get(key) {
            None => {
                resources.push(Value::from(file.as_str()));
                files.push(File::new(format!("{dir}/{file}"), to_yaml(obj)));
            }
            Some((_, old)) => {
                let mut ops = Vec::new();
                diff(old, obj, "", &mut ops);
                if !ops.is_empty() {
                    let name = format!("patch-{}-{}.yaml", key.0.to_ascii_lowercase(), key.1);
                    files.push(File::new(
                        format!("{dir}/{name}"),
                        to_yaml(&Value::Seq(ops)),
                    ));
                    patches.push(Value::map().with("path", name).with("target", target(obj)));
                }
            }
        }
    }
    for (key, (_, old)) in &a {
        if !b.contains_key(key) {
            let api = old.get("apiVersion").cloned().unwrap_or(Value::Null);
            let delete = Value::map()
                .with("$patch", "delete")
                .with("apiVersion", api)
                .with("kind", key.0.as_str())
                .with(
                    "metadata",
                    Value::map()
                        .with("name", key.1.as_str())
                        .with("namespace", base.namespace()),
                );
            let name = format!("delete-{}-{}.yaml", key.0.to_ascii_lowercase(), key.1);
            files.push(File::new(format!("{dir}/{name}"), to_yaml(&delete)));
            patches.push(Value::map().with("path", name));
        }
    }
    let mut k = kustomization().with("resources", Value::Seq(resources));
    if !patches.is_empty() {
        k.set("patches", Value::Seq(patches));
    }
    files.insert(
        0,
        File::new(format!("{dir}/kustomization.yaml"), to_yaml(&k)),
    );
    files
}

/// The base and every environment's overlay (all three, even without overrides).
pub fn files(file: &SpecFile) -> Vec<File> {
    let base = &file.base;
    let ms = manifests(base);
    let resources: Vec<Value> = ms.iter().map(|m| Value::from(m.file.as_str())).collect();
    let mut out = vec![File::new(
        "kustomize/base/kustomization.yaml",
        to_yaml(&kustomization().with("resources", Value::Seq(resources))),
    )];
    out.extend(
        ms.iter()
            .map(|m| File::new(format!("kustomize/base/{}", m.file), to_yaml_docs(&m.docs))),
    );
    // Outside the base: `kubectl delete -k` leaves the namespace alone.
    let ns = super::k8s::namespace_manifest(base);
    out.push(File::new(
        format!("kustomize/{}", ns.file),
        to_yaml_docs(&ns.docs),
    ));
    for env in ENVIRONMENTS {
        let spec = file.environments.get(env).unwrap_or(base);
        out.extend(overlay(base, spec, env));
    }
    out
}
