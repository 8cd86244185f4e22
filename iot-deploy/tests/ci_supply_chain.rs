//! The generated CI's supply chain (issue #15, item 6): every action pinned
//! by a commit SHA of the table, cargo-deny in the check job, a multi-arch
//! image (amd64 and arm64) with SLSA
//! provenance and an SBOM, scanned by Trivy and signed keyless by cosign by
//! digest (the static runtime's Dockerfile picks its musl target by
//! platform), and a Dependabot configuration for actions, crates and base
//! images.

mod common;

use common::yaml_docs;
use iot_deploy::generate::ci::{ACTIONS, CARGO_DENY_VERSION};
use iot_deploy::generate::docker::dockerfile_for;
use iot_deploy::generate::{Target, render};
use iot_deploy::spec::Runtime;
use serde_json::Value as Json;

fn step<'a>(job: &'a Json, name: &str) -> &'a Json {
    job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name:?}"))
}

#[test]
fn the_image_is_multi_arch_attested_scanned_and_signed() {
    for name in common::SPECS {
        let f = common::load(name);
        let spec = &f.base;
        let files = render(&f, None, &[Target::Ci]).unwrap();
        let get = |p: &str| {
            &files
                .iter()
                .find(|f| f.path == p)
                .unwrap_or_else(|| panic!("{name}: no {p}"))
                .contents
        };
        let wf = &yaml_docs(get(&format!(".github/workflows/{}.yaml", spec.name)))[0];
        // Every action is pinned by a SHA of the table.
        for job in wf["jobs"].as_object().unwrap().values() {
            for s in job["steps"].as_array().unwrap() {
                if let Some(u) = s["uses"].as_str() {
                    let (action, sha) = u.split_once('@').unwrap();
                    assert!(
                        ACTIONS.iter().any(|(a, p, _)| *a == action && *p == sha),
                        "{name}: {u} is not pinned from the table"
                    );
                }
            }
        }
        let check = &wf["jobs"]["check"];
        assert_eq!(
            step(check, "Install cargo-deny")["run"],
            format!("cargo install --locked cargo-deny@{CARGO_DENY_VERSION}")
        );
        assert_eq!(
            step(check, "Advisories, bans and sources")["run"],
            "cargo deny --locked check advisories bans sources"
        );
        let image = &wf["jobs"]["image"];
        assert_eq!(
            image["permissions"]["id-token"], "write",
            "{name}: keyless signing"
        );
        let build = &step(image, "Build and push")["with"];
        assert_eq!(
            build["platforms"], "linux/amd64,linux/arm64,linux/arm/v7",
            "{name}"
        );
        assert_eq!(build["provenance"], "mode=max");
        assert_eq!(build["sbom"], true);
        let digest = format!(
            "{}@${{{{ steps.build.outputs.digest }}}}",
            spec.image.repository
        );
        assert_eq!(step(image, "Build and push")["id"], "build");
        let scan = &step(image, "Scan the image")["with"];
        assert_eq!(scan["image-ref"], digest.as_str());
        assert_eq!(scan["exit-code"], "1");
        let sign = step(image, "Sign the image");
        assert_eq!(sign["env"]["IMAGE"], digest.as_str());
        assert_eq!(sign["run"], "cosign sign --yes \"$IMAGE\"\n");
        // QEMU and cosign are set up before they are needed.
        let names: Vec<&str> = image["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        let at = |n: &str| names.iter().position(|x| *x == n).unwrap();
        assert!(at("Set up QEMU") < at("Build and push"));
        assert!(at("Build and push") < at("Scan the image"));
        assert!(at("Install cosign") < at("Sign the image"));

        let dependabot = &yaml_docs(get(".github/dependabot.yml"))[0];
        assert_eq!(dependabot["version"], 2);
        let ecosystems: Vec<(String, String)> = dependabot["updates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                (
                    u["package-ecosystem"].as_str().unwrap().to_string(),
                    u["directory"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let dockerfile_dir = format!(
            "/{}",
            spec.build
                .dockerfile
                .rsplit_once('/')
                .map_or("", |(d, _)| d)
        );
        assert_eq!(
            ecosystems,
            [
                ("github-actions".to_string(), "/".to_string()),
                ("cargo".to_string(), "/".to_string()),
                ("docker".to_string(), dockerfile_dir),
            ],
            "{name}"
        );
    }
}

/// A pinned action's reference is one word, so it is never folded: the
/// text of the workflow holds each `owner/action@sha` whole (what
/// Dependabot looks for when it moves a pin).
#[test]
fn pinned_references_stay_whole_in_the_text() {
    let f = common::load("gateway.yaml");
    let files = render(&f, None, &[Target::Ci]).unwrap();
    let text = &files[0].contents;
    for (action, sha, _) in ACTIONS {
        assert!(
            text.contains(&format!("{action}@{sha}")),
            "{action}\n{text}"
        );
    }
}

/// The static runtime builds for the platform being built: its musl target
/// comes from BuildKit's `TARGETARCH` (the script is run here with `sh`
/// for each platform), and the binary is copied from one fixed place.
#[test]
fn the_static_dockerfile_builds_for_each_platform() {
    let spec = common::load("hardened-static.toml").base;
    let d = dockerfile_for(&spec, Runtime::Static);
    assert!(d.contains("\nARG TARGETARCH\n"), "{d}");
    let start = d.find("RUN case").unwrap() + "RUN ".len();
    let end = start + d[start..].find("esac > /rust-target").unwrap() + "esac".len();
    let script = d[start..end].replace("\\\n", "\n");
    for (arch, want) in [
        ("amd64", Some("x86_64-unknown-linux-musl")),
        ("arm64", Some("aarch64-unknown-linux-musl")),
        ("arm", Some("armv7-unknown-linux-musleabihf")),
        ("", Some("x86_64-unknown-linux-musl")),
        ("s390x", None),
    ] {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .env("TARGETARCH", arch)
            .output()
            .unwrap();
        match want {
            Some(t) => {
                assert!(out.status.success(), "{arch}");
                assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), t);
            }
            None => assert!(!out.status.success(), "{arch}"),
        }
    }
    assert!(d.contains("--target \"$(cat /rust-target)\""), "{d}");
    assert!(
        d.contains("COPY --from=builder /app/out/edge-bridge "),
        "{d}"
    );
}

/// `build.licenses`: a `deny.toml` allow-list next to the Dockerfile and a
/// licence check in the workflow that reads it; an identifier that is not
/// SPDX-shaped (a quote, a newline) is refused with its field path, so it
/// never reaches either file.
#[test]
fn licences_are_checked_against_the_specs_allow_list() {
    use iot_deploy::{Format, SpecFile};
    let base = "name = \"sensor-api\"\n[image]\nrepository = \"ghcr.io/acme/sensor-api\"\ntag = \"0.3.1\"\n[build]\n";
    let f = SpecFile::parse(
        &format!("{base}licenses = [\"MIT\", \"Apache-2.0\", \"Unicode-3.0\"]\n"),
        Format::Toml,
    )
    .unwrap();
    let files = render(&f, None, &[Target::Ci]).unwrap();
    let deny = &files
        .iter()
        .find(|f| f.path == "deny.toml")
        .expect("deny.toml")
        .contents;
    let lines: Vec<&str> = deny.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        lines,
        [
            "[licenses]",
            "allow = [\"MIT\", \"Apache-2.0\", \"Unicode-3.0\"]",
            "confidence-threshold = 0.93"
        ],
        "{deny}"
    );
    let wf_file = files
        .iter()
        .find(|f| f.path == ".github/workflows/sensor-api.yaml")
        .unwrap();
    let wf = &yaml_docs(&wf_file.contents)[0];
    assert_eq!(
        step(&wf["jobs"]["check"], "Licences")["run"],
        "cargo deny --locked check --config deploy/deny.toml licenses"
    );
    // Without the list: no deny.toml, no licence step.
    let plain = SpecFile::parse(base, Format::Toml).unwrap();
    let files = render(&plain, None, &[Target::Ci]).unwrap();
    assert!(files.iter().all(|f| f.path != "deny.toml"));
    for bad in ["MIT\"]\n[bans]", "", "MIT OR Apache-2.0"] {
        let err = SpecFile::parse(
            &format!(
                "{base}licenses = [{}]\n",
                serde_json::to_string(bad).unwrap()
            ),
            Format::Toml,
        )
        .unwrap_err();
        assert!(
            err.items.iter().any(|d| d.path == "build.licenses[0]"),
            "{bad:?}: {err}"
        );
    }
}

/// Base images pinned by digest: `build.builder_digest` and
/// `build.runtime_digest` land on the Dockerfile's `FROM` lines next to
/// their tags (which Dependabot's docker updates keep current, from the
/// Dockerfile's directory); a malformed digest, or one for `scratch`, is
/// refused with its field path.
#[test]
fn base_images_can_be_pinned_by_digest() {
    use iot_deploy::{Format, SpecFile};
    let builder = format!("sha256:{}", "a".repeat(64));
    let runtime = format!("sha256:{}", "b".repeat(64));
    let base = "name = \"sensor-api\"\n[image]\nrepository = \"ghcr.io/acme/sensor-api\"\ntag = \"0.3.1\"\n[build]\n";
    let f = SpecFile::parse(
        &format!("{base}builder_digest = \"{builder}\"\nruntime_digest = \"{runtime}\"\n"),
        Format::Toml,
    )
    .unwrap();
    let files = render(&f, None, &[Target::Docker, Target::Ci]).unwrap();
    let dockerfile = &files
        .iter()
        .find(|f| f.path == "Dockerfile")
        .unwrap()
        .contents;
    let from: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(
        from,
        [
            format!("FROM rust:1.85-bookworm@{builder} AS chef").as_str(),
            "FROM chef AS planner",
            "FROM chef AS builder",
            format!("FROM gcr.io/distroless/cc-debian12:nonroot@{runtime} AS runtime").as_str(),
        ]
    );
    let dependabot = &files
        .iter()
        .find(|f| f.path == ".github/dependabot.yml")
        .unwrap()
        .contents;
    let updates = &yaml_docs(dependabot)[0]["updates"];
    assert!(
        updates
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["package-ecosystem"] == "docker" && u["directory"] == "/deploy"),
        "{dependabot}"
    );
    for (field, value) in [
        ("builder_digest", "sha256:abc"),
        ("runtime_digest", "latest\"\nFROM evil"),
    ] {
        let err = SpecFile::parse(
            &format!(
                "{base}{field} = {}\n",
                serde_json::to_string(value).unwrap()
            ),
            Format::Toml,
        )
        .unwrap_err();
        assert!(
            err.items.iter().any(|d| d.path == format!("build.{field}")),
            "{value:?}: {err}"
        );
    }
    let err = SpecFile::parse(
        &format!("{base}runtime = \"static\"\nruntime_digest = \"{runtime}\"\n"),
        Format::Toml,
    )
    .unwrap_err();
    assert!(
        err.items.iter().any(|d| d.path == "build.runtime_digest"),
        "{err}"
    );
}
