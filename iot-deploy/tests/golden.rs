//! Golden files: the output for each representative spec is committed under
//! `tests/golden/<spec>/`. Run with `UPDATE_GOLDEN=1` to regenerate them
//! after an intended change, and review the diff.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use iot_deploy::generate::{Target, render};

#[test]
fn output_matches_golden_files() {
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    for name in common::SPECS {
        let file = common::load(name);
        let files = render(&file, None, &Target::ALL).expect("base spec");
        let again = render(&file, None, &Target::ALL).expect("base spec");
        assert_eq!(files, again, "{name}: rendering is deterministic");
        let stem = name.split('.').next().unwrap_or(name);
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(stem);
        if update {
            let _ = fs::remove_dir_all(&dir);
        }
        let mut expected: BTreeSet<String> = BTreeSet::new();
        for f in &files {
            let path = dir.join(&f.path);
            expected.insert(f.path.clone());
            if update {
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(&path, &f.contents).unwrap();
                continue;
            }
            match fs::read_to_string(&path) {
                Ok(text) if text == f.contents => {}
                Ok(_) => failures.push(format!("{stem}/{}: differs", f.path)),
                Err(_) => failures.push(format!("{stem}/{}: missing golden file", f.path)),
            }
        }
        if !update {
            for extra in walk(&dir).into_iter().filter(|p| !expected.contains(p)) {
                failures.push(format!("{stem}/{extra}: golden file no longer generated"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "golden files out of date (UPDATE_GOLDEN=1 to refresh):\n{}",
        failures.join("\n")
    );
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out
}
