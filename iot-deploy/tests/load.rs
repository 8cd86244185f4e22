//! Loading specs: defaults, overrides, and positions of problems.

use iot_deploy::{Format, SpecFile};

const TOML: &str = r#"
name = "telemetry-gateway"

[image]
repository = "ghcr.io/acme/telemetry-gateway"
tag = "1.4.2"

[ports]
http = 8080
metrics = 9100

[env]
RUST_LOG = "info"

[[secrets]]
name = "gateway-db"
keys = ["DATABASE_URL"]

[dependencies.mqtt]
[dependencies.postgres]
database = "telemetry"

[environments.prod]
scaling = { replicas = 4 }
resources.limits.memory = "1Gi"
"#;

#[test]
fn toml_spec_with_overrides() {
    let f = SpecFile::parse(TOML, Format::Toml).unwrap();
    assert_eq!(f.base.scaling.replicas, 2);
    let prod = &f.environments["prod"];
    assert_eq!(prod.scaling.replicas, 4);
    assert_eq!(prod.resources.limit_memory(), Some("1Gi"));
    assert_eq!(prod.resources.limit_cpu(), Some("500m"));
    assert_eq!(f.base.dependencies.mqtt.as_ref().unwrap().port, 1883);
    assert_eq!(
        f.base
            .probes
            .resolved(iot_deploy::spec::ProbeKind::Liveness)
            .path,
        "/health/live"
    );
}

#[test]
fn yaml_plain_scalars_follow_the_field_type() {
    let y = "name: gw\nimage:\n  repository: ghcr.io/acme/gw\n  tag: 1.10\nenv:\n  DEBUG: yes\n";
    let f = SpecFile::parse(y, Format::Yaml).unwrap();
    assert_eq!(f.base.image.tag.as_deref(), Some("1.10"));
    assert_eq!(f.base.env["DEBUG"], "yes");
}

#[test]
fn all_problems_in_one_pass() {
    let y = "name: Gateway_1\nimage:\n  repository: ghcr.io/acme/gw\n  tag: latest\nports:\n  http: 70000\nreplcas: 3\nresources:\n  limits:\n    memory: 512MB\nenvironments:\n  prod:\n    scaling:\n      replicas: many\n";
    let e = SpecFile::parse(y, Format::Yaml).unwrap_err();
    let text = e.to_string();
    let expected = [
        r#"1:7: name: "Gateway_1" is not a DNS-1035 label"#,
        r#"4:8: image.tag: "latest" is not a pinned version"#,
        "6:9: ports.http: 70000 is out of range, expected a port from 1 to 65535",
        "7:1: replcas: unknown field `replcas`",
        r#"10:13: resources.limits.memory: "512MB" is not a Kubernetes quantity, did you mean "512Mi"?"#,
        r#"14:17: environments.prod.scaling.replicas: expected a whole number from 0 to 4294967295, found "many""#,
    ];
    for x in expected {
        assert!(text.contains(x), "missing {x:?} in:\n{text}");
    }
    assert_eq!(e.len(), expected.len(), "{text}");
}

/// A name is refused when an object named after it would be too long for
/// Kubernetes, with the object and the longest name that fits; the longest
/// that fits loads. The headless Service (`<name>-headless`, a label of at
/// most 63) bounds every spec at 54; a CronJob (`<name>-cron`, at most 52)
/// at 47.
#[test]
fn a_name_too_long_for_a_derived_object_is_refused_with_its_limit() {
    let spec = |name: &str, cron: bool| {
        let cron = if cron {
            "cronjob:\n  schedule: \"0 3 * * *\"\n  args: [\"compact\"]\n"
        } else {
            ""
        };
        format!("name: {name}\nimage:\n  repository: ghcr.io/acme/gw\n  tag: \"1.0\"\n{cron}")
    };
    let name = |len: usize| format!("g{}", "w".repeat(len - 1));
    assert!(SpecFile::parse(&spec(&name(54), false), Format::Yaml).is_ok());
    let e = SpecFile::parse(&spec(&name(55), false), Format::Yaml)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("name: 55 characters is too long for this spec: the headless Service")
            && e.contains("use at most 54"),
        "{e}"
    );
    // A share group makes the workload a StatefulSet (at most 52).
    let shared = |name: &str| {
        format!(
            "name: {name}\nimage:\n  repository: ghcr.io/acme/gw\n  tag: \"1.0\"\n\
             dependencies:\n  mqtt:\n    share_group: {{}}\n"
        )
    };
    assert!(SpecFile::parse(&shared(&name(52)), Format::Yaml).is_ok());
    let e = SpecFile::parse(&shared(&name(53)), Format::Yaml)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the StatefulSet") && e.contains("use at most 52"),
        "{e}"
    );
    assert!(SpecFile::parse(&spec(&name(47), true), Format::Yaml).is_ok());
    let e = SpecFile::parse(&spec(&name(48), true), Format::Yaml)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the CronJob") && e.contains("may have at most 52; use at most 47"),
        "{e}"
    );
}
