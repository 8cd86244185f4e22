//! Issue #15, injection: every string a spec controls lands in every output
//! format either escaped for that format (it reads back as the same value
//! and the file keeps its structure) or the spec is rejected with an error
//! naming the field. The add-on outputs (Rollout, AnalysisTemplate,
//! ServiceMonitor, PrometheusRule, ScaledObject, strategy Services, their
//! Helm values) are rendered for every case too.

mod common;

use common::yaml_docs;
use iot_deploy::generate::{Target, render};
use iot_deploy::{Format, SpecFile};
use proptest::prelude::*;
use serde_json::Value as Json;

/// A TOML basic string holding `s` exactly.
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn spec_text(desc: &str, env: &str, arg: &str) -> String {
    format!(
        "name = \"sensor-api\"\ndescription = {}\n\n[image]\nrepository = \"ghcr.io/acme/sensor-api\"\ntag = \"0.3.1\"\n\n[env]\nFOO = {}\n\n[cronjob]\nschedule = \"0 3 * * *\"\nargs = [{}]\n",
        toml_str(desc),
        toml_str(env),
        toml_str(arg)
    )
}

const FIELDS: [&str; 3] = ["description", "env.FOO", "cronjob.args[0]"];

/// The add-ons every output of which the strings must not break.
const PLATFORM: &str = "\n[prometheus_operator]\n[rollout]\ntraffic = \"smi\"\n\n[scaling.keda]\nmetric = \"in-flight\"\n";

fn file<'a>(files: &'a [iot_deploy::generate::File], path: &str) -> &'a str {
    &files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("no {path}"))
        .contents
}

/// systemd strips ASCII whitespace only (not U+2028 and the like).
fn ascii_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_ascii_whitespace())
}

/// A systemd unit as (section, key, raw value) triples. A line ending in a
/// backslash would continue onto the next one: that is a broken structure.
fn unit_keys(unit: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in unit.lines() {
        assert!(!line.ends_with('\\'), "continued line: {line:?}");
        let t = ascii_trim(line);
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if t.starts_with('[') {
            section = t.to_string();
            continue;
        }
        let (k, v) = t.split_once('=').unwrap_or_else(|| panic!("{line:?}"));
        out.push((
            section.clone(),
            ascii_trim(k).to_string(),
            ascii_trim(v).to_string(),
        ));
    }
    out
}

/// Undoes the `%` doubling of systemd specifiers (and checks no other
/// specifier is left).
fn unspecifier(v: &str) -> String {
    let mut out = String::new();
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c == '%' {
            assert_eq!(it.next(), Some('%'), "unescaped specifier in {v:?}");
        }
        out.push(c);
    }
    out
}

/// A double-quoted `Environment=` word, C-unescaped.
fn unquote_env(v: &str) -> String {
    let inner = v
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or_else(|| panic!("not quoted: {v:?}"));
    let mut out = String::new();
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => out.push(it.next().expect("dangling backslash")),
            '"' => panic!("unescaped quote in {v:?}"),
            c => out.push(c),
        }
    }
    unspecifier(&out)
}

/// The Dockerfile's instructions (continuations joined, comments dropped).
fn instructions(d: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in d.lines() {
        if cur.is_empty() && (line.trim().is_empty() || line.trim_start().starts_with('#')) {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            cur.push_str(head);
            cur.push('\n');
        } else {
            cur.push_str(line);
            out.push(std::mem::take(&mut cur));
        }
    }
    out
}

/// The value of the double-quoted `key="..."` word in a Dockerfile
/// instruction, unescaped; panics on an unescaped `$`.
fn docker_word(instr: &str, key: &str) -> String {
    let start = instr.find(&format!("{key}=\"")).expect(key) + key.len() + 2;
    let mut out = String::new();
    let mut it = instr[start..].chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => out.push(it.next().expect("dangling backslash")),
            '"' => return out,
            '$' => panic!("unescaped $ in {instr:?}"),
            c => out.push(c),
        }
    }
    panic!("unterminated word in {instr:?}")
}

fn env_value(container: &Json, name: &str) -> Option<String> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str())
        .map(str::to_string)
}

/// Renders the spec and checks each format reads back the three values.
fn check(desc: &str, env: &str, arg: &str) -> Result<(), TestCaseError> {
    let text = spec_text(desc, env, arg);
    let f = match SpecFile::parse(&text, Format::Toml) {
        Ok(f) => f,
        Err(d) => {
            for item in &d.items {
                prop_assert!(
                    FIELDS.contains(&item.path.as_str()),
                    "rejected for an unrelated field: {item:?}\n{text}"
                );
            }
            // Rejected only for the fields that need it.
            let any_control = [desc, env, arg]
                .iter()
                .any(|s| s.chars().any(char::is_control))
                || desc.ends_with('\\');
            prop_assert!(any_control, "rejected a safe spec: {d}\n{text}");
            return Ok(());
        }
    };
    for s in [desc, env, arg] {
        prop_assert!(!s.chars().any(char::is_control), "accepted {s:?}");
    }
    let files = render(
        &f,
        None,
        &[
            Target::Docker,
            Target::K8s,
            Target::Helm,
            Target::Systemd,
            Target::Compose,
        ],
    )
    .unwrap();

    // systemd: exactly the keys of a plain spec, and the values read back.
    let plain = SpecFile::parse(&spec_text("plain", "plain", "plain"), Format::Toml).unwrap();
    let plain_files = render(&plain, None, &[Target::Systemd, Target::Docker]).unwrap();
    let unit = unit_keys(file(&files, "systemd/sensor-api.service"));
    let plain_unit = unit_keys(file(&plain_files, "systemd/sensor-api.service"));
    let keys = |u: &[(String, String, String)]| {
        u.iter()
            .map(|(s, k, _)| (s.clone(), k.clone()))
            .collect::<Vec<_>>()
    };
    prop_assert_eq!(keys(&unit), keys(&plain_unit));
    let description = &unit.iter().find(|(_, k, _)| k == "Description").unwrap().2;
    // systemd strips ASCII whitespace around a value.
    let expect_desc = if desc.is_empty() {
        "sensor-api service".to_string()
    } else {
        desc.trim_matches(|c: char| c.is_ascii_whitespace())
            .to_string()
    };
    prop_assert_eq!(unspecifier(description), expect_desc);
    let env_line = unit
        .iter()
        .filter(|(_, k, _)| k == "Environment")
        .map(|(_, _, v)| unquote_env(v))
        .find(|v| v.starts_with("FOO="))
        .unwrap();
    prop_assert_eq!(&env_line[4..], env);

    // Dockerfile: the same instructions, and the label reads back.
    let docker = instructions(file(&files, "Dockerfile"));
    let plain_docker = instructions(file(&plain_files, "Dockerfile"));
    let names = |d: &[String]| {
        d.iter()
            .map(|i| i.split_whitespace().next().unwrap_or("").to_string())
            .collect::<Vec<_>>()
    };
    prop_assert_eq!(names(&docker), names(&plain_docker));
    let label = docker.iter().find(|i| i.starts_with("LABEL")).unwrap();
    let want = if desc.is_empty() {
        "The sensor-api service"
    } else {
        desc
    };
    prop_assert_eq!(
        docker_word(label, "org.opencontainers.image.description"),
        want
    );

    // Kubernetes: the Deployment's env and the CronJob's args read back.
    let deployment = yaml_docs(file(&files, "k8s/deployment.yaml"));
    let c = &deployment[0]["spec"]["template"]["spec"]["containers"][0];
    let foo_k8s = env_value(c, "FOO");
    prop_assert_eq!(foo_k8s.as_deref(), Some(env));
    let cron = files
        .iter()
        .filter(|f| f.path.starts_with("k8s/"))
        .flat_map(|f| yaml_docs(&f.contents))
        .find(|d| d["kind"] == "CronJob")
        .expect("a CronJob");
    let job = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
    prop_assert_eq!(&job["args"], &serde_json::json!([arg]));

    // Helm: the chart description and the values' env read back.
    let chart = yaml_docs(file(&files, "helm/sensor-api/Chart.yaml"));
    if !desc.is_empty() {
        prop_assert_eq!(chart[0]["description"].as_str(), Some(desc));
    }

    // The add-ons: the Rollout's env and the Helm values read back, and
    // every add-on file keeps the objects of a plain spec.
    let with = SpecFile::parse(&format!("{text}{PLATFORM}"), Format::Toml).unwrap();
    let plain_addon = SpecFile::parse(
        &format!("{}{PLATFORM}", spec_text("plain", "plain", "plain")),
        Format::Toml,
    )
    .unwrap();
    let targets = [Target::K8s, Target::Helm];
    let (addon, addon_plain) = (
        render(&with, None, &targets).unwrap(),
        render(&plain_addon, None, &targets).unwrap(),
    );
    let kinds = |files: &[iot_deploy::generate::File], path: &str| -> Vec<Json> {
        yaml_docs(file(files, path))
            .iter()
            .map(|d| d["kind"].clone())
            .collect()
    };
    for path in [
        "k8s/rollout.yaml",
        "k8s/monitoring.yaml",
        "k8s/scaledobject.yaml",
        "k8s/service.yaml",
    ] {
        prop_assert_eq!(kinds(&addon, path), kinds(&addon_plain, path), "{}", path);
    }
    let rollout = yaml_docs(file(&addon, "k8s/rollout.yaml"));
    prop_assert_eq!(&rollout[0]["kind"], "Rollout");
    let c = &rollout[0]["spec"]["template"]["spec"]["containers"][0];
    let foo_rollout = env_value(c, "FOO");
    prop_assert_eq!(foo_rollout.as_deref(), Some(env));
    let values = yaml_docs(file(&addon, "helm/sensor-api/values.yaml"));
    prop_assert_eq!(values[0]["env"]["FOO"].as_str(), Some(env));
    prop_assert_eq!(&values[0]["rollout"]["enabled"], true);

    // Compose: `$$` is a literal `$` after interpolation.
    let compose = yaml_docs(file(&files, "compose/docker-compose.yaml"));
    let svc = &compose[0]["services"]["sensor-api"]["environment"]["FOO"];
    let got = svc.as_str().map(|v| v.replace("$$", "$"));
    prop_assert_eq!(got.as_deref(), Some(env));
    Ok(())
}

fn tricky() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "\n",
        "\r",
        "\t",
        "\0",
        "\"",
        "'",
        "$",
        "${HOME}",
        "$VCS_REF",
        "%",
        "%n",
        "%%",
        "\\",
        "\\n",
        "{{",
        "}}",
        "{{ .Values.x }}",
        ": ",
        "#",
        "- ",
        "&a",
        "*a",
        "!tag",
        "|",
        ">",
        "@",
        "`",
        "[",
        "]",
        "{",
        "}",
        ",",
        "yes",
        "on",
        "null",
        "~",
        "08",
        " ",
        "ok",
        "é",
        "\u{2028}",
        "[Service]",
        "ExecStartPre=/usr/bin/touch /tmp/pwned",
        "---",
        "...",
    ]);
    prop::collection::vec(pieces, 0..6).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn spec_strings_are_escaped_or_rejected(desc in tricky(), env in tricky(), arg in tricky()) {
        check(&desc, &env, &arg)?;
    }
}

/// Migration SQL is file content, not a spec string: anything goes, and
/// it lands as data in the ConfigMap, the Helm values and the compose init
/// script, read back exactly, with the files' structure unchanged.
fn check_migration_sql(sql: &str) -> Result<(), TestCaseError> {
    let text = format!(
        "{}\n[dependencies.postgres]\n",
        spec_text("plain", "plain", "plain")
    );
    let mut f = SpecFile::parse(&text, Format::Toml).unwrap();
    let set = |s: &mut iot_deploy::DeploySpec, v: &str| {
        if let Some(p) = s.dependencies.postgres.as_mut() {
            p.migrations_sql = Some(v.to_string());
        }
    };
    set(&mut f.base, sql);
    let mut plain = f.clone();
    set(&mut plain.base, "SELECT 1;");
    let targets = [Target::K8s, Target::Helm, Target::Compose];
    let (files, plain_files) = (
        render(&f, None, &targets).unwrap(),
        render(&plain, None, &targets).unwrap(),
    );
    let docs = yaml_docs(file(&files, "k8s/migrations.yaml"));
    let kinds = |d: &[Json]| d.iter().map(|x| x["kind"].clone()).collect::<Vec<_>>();
    prop_assert_eq!(
        kinds(&docs),
        kinds(&yaml_docs(file(&plain_files, "k8s/migrations.yaml")))
    );
    prop_assert_eq!(docs[0]["data"]["migrations.sql"].as_str(), Some(sql));
    let values = yaml_docs(file(&files, "helm/sensor-api/values.yaml"));
    prop_assert_eq!(
        values[0]["postgres"]["migrations"]["sql"].as_str(),
        Some(sql)
    );
    prop_assert_eq!(file(&files, "compose/postgres/initdb/migrations.sql"), sql);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn migration_sql_stays_data(sql in tricky()) {
        check_migration_sql(&sql)?;
    }
}

#[test]
fn the_reported_injection_is_rejected_with_the_field() {
    let desc = "ok\n[Service]\nExecStartPre=/usr/bin/touch /tmp/pwned\n[Unit]";
    let err = SpecFile::parse(&spec_text(desc, "x", "x"), Format::Toml).unwrap_err();
    assert!(err.items.iter().any(|d| d.path == "description"), "{err}");
    let err = SpecFile::parse(&spec_text("ok", "a\nb", "x"), Format::Toml).unwrap_err();
    assert!(err.items.iter().any(|d| d.path == "env.FOO"), "{err}");
}

#[test]
fn specials_that_are_allowed_read_back() {
    for (d, e, a) in [
        (
            "50% of $HOME \"quoted\" {{ x }}",
            "a$b%c\"d\\e",
            "--since=${X}",
        ),
        ("back\\slash in the middle", "yes", "on"),
        ("", "", ""),
    ] {
        check(d, e, a).unwrap();
    }
}
