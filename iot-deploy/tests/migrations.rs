//! PostgreSQL schema migration (issue #14) and the gateway's database
//! settings:
//!
//! - the Job's own command and environment, run against a real PostgreSQL
//!   (testkit), apply the gateway spec's schema, twice (idempotent), and
//!   stop at the first error of a broken one;
//! - the test spec's schema is the examples' sink schema (`MIGRATION_SQL`
//!   in examples/src/store/postgres.rs), so neither drifts;
//! - the Job runs as non-root with the password from the service's Secret,
//!   and its NetworkPolicy reaches DNS and PostgreSQL only;
//! - Helm renders the same Job pod, ConfigMap and NetworkPolicy, as
//!   pre-install/pre-upgrade hooks; compose mounts the SQL as an init script;
//! - the service gets POSTGRES_HOST, _PORT, _DB, _USER and
//!   POSTGRES_PASSWORD_FILE (a mounted Secret file), never the password.

mod common;

use std::fs;
use std::process::{Command, Stdio};

use common::parity::{helm_template, raw};
use common::tools::require;
use common::yaml_docs;
use iot_deploy::DeploySpec;
use iot_deploy::generate::k8s::migrations::{SQL_DIR, SQL_KEY, command};
use iot_deploy::generate::{Target, render};
use iot_deploy::{Format, SpecFile};
use iot_testkit::postgres::{Postgres, USER, require_bin_dir};
use serde_json::Value as Json;

fn gateway() -> DeploySpec {
    common::load("gateway.yaml").base
}

/// The objects of one kind (raw manifests).
fn of_kind(spec: &DeploySpec, kind: &str) -> Vec<Json> {
    raw(spec)
        .into_iter()
        .filter(|(k, _)| k.0 == kind)
        .map(|(_, v)| v)
        .collect()
}

fn job(spec: &DeploySpec) -> Json {
    let jobs = of_kind(spec, "Job");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    jobs[0].clone()
}

/// Runs the Job's container command with its environment against `pg`
/// (host and port moved to the test server, the mounted SQL to `sql`).
fn run_job(job: &Json, pg: &Postgres, sql: &str) -> (bool, String) {
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(SQL_KEY);
    fs::write(&file, sql).unwrap();
    let argv: Vec<String> = c["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a = a.as_str().unwrap();
            if a == format!("{SQL_DIR}/{SQL_KEY}") {
                file.display().to_string()
            } else {
                a.to_string()
            }
        })
        .collect();
    let psql = require_bin_dir().unwrap().join(&argv[0]);
    let mut cmd = Command::new(psql);
    cmd.args(&argv[1..]).env_clear().stdin(Stdio::null());
    for e in c["env"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap();
        let value = match name {
            "PGHOST" => "127.0.0.1".to_string(),
            "PGPORT" => pg.port().to_string(),
            "PGUSER" => USER.to_string(),
            "PGDATABASE" => "postgres".to_string(),
            // From the Secret; the test cluster trusts local connections.
            "PGPASSWORD" => "unused".to_string(),
            _ => e["value"].as_str().unwrap().to_string(),
        };
        cmd.env(name, value);
    }
    let out = cmd.output().expect("spawn psql");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn the_job_applies_the_schema_with_a_real_postgres() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let spec = gateway();
    let job = job(&spec);
    let cm = &of_kind(&spec, "ConfigMap")
        .into_iter()
        .find(|c| c["metadata"]["name"] == format!("{}-migrations", spec.name))
        .expect("the migrations ConfigMap");
    let sql = cm["data"][SQL_KEY].as_str().unwrap();
    for run in 0..2 {
        let (ok, out) = run_job(&job, &pg, sql);
        assert!(ok, "run {run}:\n{out}");
    }
    assert_eq!(
        pg.psql("SELECT count(*) FROM readings"),
        "0",
        "the table exists"
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_indexes WHERE indexname = 'readings_ts_brin'"),
        "1"
    );
    // ON_ERROR_STOP: the first error ends the run with a failure, and what
    // follows it is not applied (a plain `psql -f` would go on, exit 0).
    let broken =
        "CREATE TABLE before_error (x int);\nSELEC broken;\nCREATE TABLE after_error (x int);\n";
    let (ok, out) = run_job(&job, &pg, broken);
    assert!(!ok, "a broken schema must fail the Job:\n{out}");
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'after_error'"),
        "0"
    );
}

/// `tests/specs/gateway-schema.sql` is `MIGRATION_SQL` of the examples'
/// PostgreSQL store, read from its source.
#[test]
fn the_test_schema_is_the_examples_sink_schema() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let src = fs::read_to_string(root.join("examples/src/store/postgres.rs")).unwrap();
    let head = "pub const MIGRATION_SQL: &str = \"\\\n";
    let start = src.find(head).expect("MIGRATION_SQL in examples/src/store") + head.len();
    let end = start + src[start..].find("\";\n").unwrap();
    let literal = &src[start..end];
    assert!(!literal.contains('\\'), "no escapes expected");
    let want = literal.trim_start_matches([' ', '\t']);
    let copy = fs::read_to_string(common::spec_path("gateway-schema.sql")).unwrap();
    assert_eq!(
        copy, want,
        "copy MIGRATION_SQL into tests/specs/gateway-schema.sql"
    );
    assert_eq!(
        gateway()
            .dependencies
            .postgres
            .unwrap()
            .migrations_sql
            .as_deref(),
        Some(want)
    );
}

#[test]
fn the_job_is_non_root_and_reaches_postgres_only() {
    let spec = gateway();
    let job = job(&spec);
    let pod = &job["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_ne!(pod["securityContext"]["runAsUser"], 0);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["image"], "postgres:16.4-bookworm");
    let argv: Vec<String> = command();
    assert_eq!(c["command"], serde_json::json!(argv));
    assert!(argv.windows(2).any(|w| w == ["-v", "ON_ERROR_STOP=1"]));
    let pw = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "PGPASSWORD")
        .unwrap();
    assert_eq!(
        pw["valueFrom"]["secretKeyRef"],
        serde_json::json!({"name": "telemetry-gateway-postgres", "key": "password"})
    );
    assert!(
        job["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with("telemetry-gateway-migrate-")
    );
    // Its policy: selects the Job's pods only; no ingress; DNS and the
    // database's port and network.
    let policy = raw(&spec)
        .into_iter()
        .find(|(k, _)| k.0 == "NetworkPolicy" && k.1 == "telemetry-gateway-migrate")
        .expect("the Job's NetworkPolicy")
        .1;
    assert_eq!(
        policy["spec"]["podSelector"]["matchLabels"],
        job["spec"]["template"]["metadata"]["labels"]
    );
    assert!(policy["spec"].get("ingress").is_none());
    let egress = policy["spec"]["egress"].as_array().unwrap();
    assert_eq!(egress.len(), 2, "{egress:?}");
    assert_eq!(egress[0]["ports"][0]["port"], 53);
    assert_eq!(
        egress[1]["ports"],
        serde_json::json!([{"protocol": "TCP", "port": 5432}])
    );
    assert_eq!(egress[1]["to"][0]["ipBlock"]["cidr"], "10.20.0.0/16");
    // The service's own policy does not select the Job's pods.
    let allow = &raw(&spec)[&("NetworkPolicy".into(), "telemetry-gateway-allow".into())];
    assert_ne!(
        allow["spec"]["podSelector"]["matchLabels"],
        policy["spec"]["podSelector"]["matchLabels"]
    );
}

#[test]
fn a_changed_schema_is_a_new_job() {
    let mut spec = gateway();
    let first = job(&spec)["metadata"]["name"].clone();
    if let Some(p) = spec.dependencies.postgres.as_mut() {
        p.migrations_sql = Some("CREATE TABLE IF NOT EXISTS t (x int);\n".into());
    }
    assert_ne!(job(&spec)["metadata"]["name"], first);
    // No migration: no ConfigMap, Job or policy for it.
    if let Some(p) = spec.dependencies.postgres.as_mut() {
        p.migrations_sql = None;
    }
    assert!(of_kind(&spec, "Job").is_empty());
    assert!(raw(&spec).keys().all(|k| !k.1.contains("migrat")));
}

/// The service's database settings: the variables the gateway reads, the
/// password as a mounted file, in Kubernetes, Helm, compose and systemd.
#[test]
fn the_service_gets_its_database_settings_and_a_password_file() {
    let spec = gateway();
    let objs = raw(&spec);
    let workload = objs
        .iter()
        .find(|(k, _)| k.0 == "Rollout" && k.1 == spec.name)
        .unwrap()
        .1;
    let pod = &workload["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let env: Vec<(String, Json)> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_string(), e["value"].clone()))
        .collect();
    let get = |n: &str| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(get("POSTGRES_HOST"), Some("db.internal.example.com".into()));
    assert_eq!(get("POSTGRES_PORT"), Some("5432".into()));
    assert_eq!(get("POSTGRES_DB"), Some("telemetry".into()));
    assert_eq!(get("POSTGRES_USER"), Some("gateway".into()));
    assert_eq!(
        get("POSTGRES_PASSWORD_FILE"),
        Some("/run/secrets/postgres/password".into())
    );
    assert_eq!(get("POSTGRES_PASSWORD"), None);
    let mount = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "postgres")
        .unwrap();
    assert_eq!(mount["mountPath"], "/run/secrets/postgres");
    assert_eq!(mount["readOnly"], true);
    let vol = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "postgres")
        .unwrap();
    assert_eq!(
        vol["projected"]["sources"][0]["secret"],
        serde_json::json!({"name": "telemetry-gateway-postgres", "items": [{"key": "password", "path": "password"}]})
    );
    // The Secret template names the key.
    let templates = iot_deploy::generate::k8s::secret_templates(&spec);
    assert!(
        templates
            .iter()
            .any(|m| m.file == "secret-templates/telemetry-gateway-postgres.yaml")
    );

    let f = common::load("gateway.yaml");
    let files = render(&f, None, &[Target::Compose]).unwrap();
    let text = |p: &str| &files.iter().find(|f| f.path == p).unwrap().contents;
    let compose = &yaml_docs(text("compose/docker-compose.yaml"))[0];
    let svc = &compose["services"]["telemetry-gateway"];
    assert_eq!(svc["environment"]["POSTGRES_USER"], "gateway");
    assert_eq!(
        svc["environment"]["POSTGRES_PASSWORD_FILE"],
        "/run/secrets/postgres/password"
    );
    assert!(
        svc["volumes"]
            .as_array()
            .unwrap()
            .contains(&Json::from("./secrets/postgres:/run/secrets/postgres:ro"))
    );
    // compose: the schema is an init script of the postgres service.
    let pg = &compose["services"]["postgres"];
    assert!(pg["volumes"].as_array().unwrap().contains(&Json::from(
        "./postgres/initdb:/docker-entrypoint-initdb.d:ro"
    )));
    assert_eq!(
        text("compose/postgres/initdb/migrations.sql"),
        spec.dependencies
            .postgres
            .as_ref()
            .unwrap()
            .migrations_sql
            .as_ref()
            .unwrap()
    );
}

#[test]
fn helm_renders_the_same_migration_as_hooks() {
    let Some(helm) = require("helm") else {
        return;
    };
    let spec = gateway();
    let raw = raw(&spec);
    let chart = helm_template(&spec, &helm);
    let name = &spec.name;
    let raw_job = job(&spec);
    let helm_job = &chart[&("Job".to_string(), format!("{name}-migrate"))];
    for f in [
        "/spec/template",
        "/spec/backoffLimit",
        "/spec/activeDeadlineSeconds",
    ] {
        assert_eq!(helm_job.pointer(f), raw_job.pointer(f), "Job {f}");
    }
    for (kind, obj) in [
        ("ConfigMap", format!("{name}-migrations")),
        ("NetworkPolicy", format!("{name}-migrate")),
    ] {
        let k = (kind.to_string(), obj);
        let (h, r) = (&chart[&k], &raw[&k]);
        let field = if kind == "ConfigMap" {
            "/data"
        } else {
            "/spec"
        };
        assert_eq!(h.pointer(field), r.pointer(field), "{k:?}");
        let hook = h["metadata"]["annotations"]["helm.sh/hook"].as_str();
        assert_eq!(hook, Some("pre-install,pre-upgrade"), "{k:?}");
    }
    let ann = &helm_job["metadata"]["annotations"];
    assert_eq!(ann["helm.sh/hook"], "pre-install,pre-upgrade");
    assert_eq!(ann["helm.sh/hook-weight"], "0");
    // The service's password file, in the chart's workload too.
    let workload = &chart[&("Rollout".to_string(), name.clone())];
    let raw_workload = &raw[&("Rollout".to_string(), name.clone())];
    for f in [
        "/spec/template/spec/volumes",
        "/spec/template/spec/containers/0/volumeMounts",
    ] {
        let postgres = |o: &Json| {
            o.pointer(f)
                .and_then(Json::as_array)
                .and_then(|a| a.iter().find(|v| v["name"] == "postgres").cloned())
        };
        let want = postgres(raw_workload);
        assert!(want.is_some(), "{f}");
        assert_eq!(postgres(workload), want, "{f}");
    }
}

#[test]
fn migration_paths_are_read_relative_to_the_spec_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("db")).unwrap();
    fs::write(dir.path().join("db/schema.sql"), "SELECT 1;\n").unwrap();
    let spec = "name = \"gw\"\nimage = { repository = \"ghcr.io/acme/gw\", tag = \"1.0.0\" }\n[dependencies.postgres]\nmigrations = \"db/schema.sql\"\n";
    let path = dir.path().join("gw.toml");
    fs::write(&path, spec).unwrap();
    let f = SpecFile::load(&path).unwrap();
    let pg = f.base.dependencies.postgres.as_ref().unwrap();
    assert_eq!(pg.migrations_sql.as_deref(), Some("SELECT 1;\n"));
    // Missing file, no file to be relative to: errors at the field.
    fs::write(&path, spec.replace("db/schema.sql", "db/missing.sql")).unwrap();
    let err = SpecFile::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("dependencies.postgres.migrations: cannot read \"db/missing.sql\""),
        "{err}"
    );
    let err = SpecFile::parse(spec, Format::Toml).unwrap_err().to_string();
    assert!(
        err.contains("dependencies.postgres.migrations: files can only be read when the spec is loaded from a file"),
        "{err}"
    );
}
