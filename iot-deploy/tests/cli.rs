//! The command-line tool: exit codes, messages on stderr, files written.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_iot-deploy"))
}

fn spec(name: &str) -> String {
    format!("{}/tests/specs/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn init_then_check_then_render() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("svc.toml");
    let out = bin().arg("init").arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = bin().arg("init").arg(&path).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    // Issue #15 item 6: the starter passes its own check; its single dev
    // replica is acknowledged, with the reason.
    let check = bin().arg("check").arg(&path).output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert_eq!(check.status.code(), Some(0), "{all}");
    assert!(all.contains("[dev] acknowledged ID007"), "{all}");
    assert!(all.contains("(1 acknowledged)"), "{all}");

    let out_dir = dir.path().join("deploy");
    let render = bin()
        .args(["render"])
        .arg(&path)
        .arg("--out")
        .arg(&out_dir)
        .args(["--env", "prod", "--only", "k8s,docker"])
        .output()
        .unwrap();
    assert!(
        render.status.success(),
        "{}",
        String::from_utf8_lossy(&render.stderr)
    );
    assert!(out_dir.join("k8s/deployment.yaml").is_file());
    assert!(out_dir.join("Dockerfile").is_file());
    assert!(!out_dir.join("helm").exists());
}

#[test]
fn check_clean_spec_exits_zero() {
    let out = bin()
        .arg("check")
        .arg(spec("minimal.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn errors_name_file_line_column_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, "name: gw\nimage:\n  repository: ghcr.io/acme/gw\n  tag: 1.0\nresources:\n  limits:\n    memory: 512MB\n").unwrap();
    for args in [vec!["check"], vec!["render", "--out", "x"]] {
        let out = bin()
            .args(&args[..1])
            .arg(&path)
            .args(&args[1..])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1));
        let expected = format!(
            "{}:7:13: resources.limits.memory: \"512MB\" is not a Kubernetes quantity, did you mean \"512Mi\"?",
            path.display()
        );
        assert!(stderr.contains(&expected), "{stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Diagnostic {"),
            "{stderr}"
        );
    }
}

#[test]
fn unknown_environment_and_missing_file_are_errors() {
    let out = bin()
        .arg("render")
        .arg(spec("minimal.toml"))
        .args(["--out", "/tmp/x", "--env", "qa"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--env qa: the spec has no such environment")
    );
    let out = bin()
        .arg("check")
        .arg("/nonexistent/spec.toml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the spec"));
}

/// Regression: re-rendering emptied `compose/mosquitto/passwd` after the
/// operator had added users (119 bytes to 0). The password file and the
/// ACL are create-only: kept byte for byte, and `render` says so; the same
/// for the files the cluster broker's auth Secret is made from.
#[test]
fn render_keeps_the_password_file_and_acl() {
    keeps_broker_files(
        "gateway.yaml",
        "compose",
        "compose/mosquitto",
        "pattern write iot/%u/telemetry",
        "compose/mosquitto/mosquitto.conf",
    );
    keeps_broker_files(
        "mqtt-broker.toml",
        "k8s",
        "k8s/mosquitto",
        "pattern write acme/plant-7/%u/telemetry",
        "k8s/mqtt-broker.yaml",
    );
}

/// Renders `target` of `spec` twice, the operator editing `<dir>/passwd`
/// and `<dir>/acl` in between; `replaced` is a generated file.
fn keeps_broker_files(spec_name: &str, target: &str, dir: &str, acl_line: &str, replaced: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("deploy");
    let render = || {
        bin()
            .arg("render")
            .arg(spec(spec_name))
            .arg("--out")
            .arg(&out_dir)
            .args(["--only", target])
            .output()
            .unwrap()
    };
    let first = render();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let passwd = out_dir.join(dir).join("passwd");
    let acl = out_dir.join(dir).join("acl");
    assert_eq!(
        std::fs::read(&passwd).unwrap(),
        b"",
        "a new password file is empty"
    );
    assert!(std::fs::read_to_string(&acl).unwrap().contains(acl_line));
    let users = "dev-a:$7$101$c2FsdA==$aGFzaA==\ntelemetry-gateway:$7$101$c2FsdA==$aGFzaA==\n";
    std::fs::write(&passwd, users).unwrap();
    std::fs::write(&acl, "# edited by the operator\n").unwrap();
    let conf = out_dir.join(replaced);
    std::fs::write(&conf, "stale\n").unwrap();

    let second = render();
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(std::fs::read_to_string(&passwd).unwrap(), users);
    assert_eq!(
        std::fs::read_to_string(&acl).unwrap(),
        "# edited by the operator\n"
    );
    for file in ["passwd", "acl"] {
        assert!(
            stdout.contains(&format!("kept existing {dir}/{file}")),
            "{stdout}"
        );
    }
    assert_ne!(
        std::fs::read_to_string(&conf).unwrap(),
        "stale\n",
        "generated files are replaced"
    );
}

/// Acknowledgements: scoped to their environments, a reason required, a
/// known rule id required.
#[test]
fn acknowledged_findings_do_not_fail_check() {
    let dir = tempfile::tempdir().unwrap();
    let write = |body: &str| {
        let p = dir.path().join("svc.toml");
        let text = format!(
            "name = \"svc\"\n[image]\nrepository = \"ghcr.io/acme/svc\"\ntag = \"1.0.0\"\n[scaling]\nreplicas = 1\n{body}"
        );
        std::fs::write(&p, text).unwrap();
        let out = bin().arg("check").arg(&p).output().unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), all)
    };
    let (code, out) = write("");
    assert_eq!(code, Some(1), "{out}");
    let (code, out) = write("[[lint.acknowledge]]\nid = \"ID007\"\nreason = \"a batch service\"\n");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("acknowledged ID007") && out.contains("a batch service"),
        "{out}"
    );
    // Scoped to dev: the base spec's finding still fails.
    let (code, out) =
        write("[[lint.acknowledge]]\nid = \"ID007\"\nreason = \"r\"\nenvironments = [\"dev\"]\n");
    assert_eq!(code, Some(1), "{out}");
    let (code, out) = write("[[lint.acknowledge]]\nid = \"ID007\"\nreason = \" \"\n");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("lint.acknowledge[0].reason"), "{out}");
    let (code, out) =
        write("[[lint.acknowledge]]\nid = \"ID999\"\nreason = \"r\"\nenvironments = [\"qa\"]\n");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("lint.acknowledge[0].id")
            && out.contains("lint.acknowledge[0].environments[0]"),
        "{out}"
    );
}
