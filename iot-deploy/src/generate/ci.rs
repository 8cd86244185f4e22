//! A GitHub Actions workflow: fmt, clippy and tests, then the image.

use super::File;
use crate::emit::{Value, to_yaml};
use crate::spec::DeploySpec;

/// Actions pinned by full commit SHA (tags can be moved); the comment names
/// the release each SHA is. Dependabot's `github-actions` updater keeps them current.
pub const ACTIONS: [(&str, &str, &str); 8] = [
    (
        "actions/checkout",
        "11bd71901bbe5b1630ceea73d27597364c9af683",
        "v4.2.2",
    ),
    (
        "Swatinem/rust-cache",
        "98c8021b550208e191a6a3145459bfc9fb29c4c0",
        "v2.8.0",
    ),
    (
        "docker/setup-buildx-action",
        "e468171a9de216ec08956ac3ada2f0791b6bd435",
        "v3.11.1",
    ),
    (
        "docker/login-action",
        "74a5d142397b4f367a81961eba4e8cd7edddf772",
        "v3.4.0",
    ),
    (
        "docker/build-push-action",
        "263435318d21b8e681c14492fe198d362a7d2c83",
        "v6.18.0",
    ),
    (
        "docker/setup-qemu-action",
        "29109295f81e9208d7d86ff1c6c12d2833863392",
        "v3.6.0",
    ),
    (
        "aquasecurity/trivy-action",
        "ed142fd0673e97e23eac54620cfb913e5ce36c25",
        "v0.36.0",
    ),
    (
        "sigstore/cosign-installer",
        "d58896d6a1865668819e1d91763c7751a165e159",
        "v3.9.2",
    ),
];

/// cargo-deny, installed by the check job (the newest release that builds
/// with Rust 1.85).
pub const CARGO_DENY_VERSION: &str = "0.18.3";

/// The platforms the image is built for: amd64, arm64 and 32-bit ARMv7
/// (edge gateways; every runtime's base image is published for the three).
/// The ARM builds run under QEMU emulation; the static runtime picks its
/// musl target by `TARGETARCH`.
pub const PLATFORMS: &str = "linux/amd64,linux/arm64,linux/arm/v7";

fn uses(action: &str) -> String {
    let (name, sha, _) = ACTIONS
        .iter()
        .find(|(n, _, _)| *n == action)
        .copied()
        .unwrap_or((action, "", ""));
    format!("{name}@{sha}")
}

fn step(name: &str) -> Value {
    Value::map().with("name", name)
}

fn checkout() -> Value {
    step("Check out")
        .with("uses", uses("actions/checkout"))
        .with("with", Value::map().with("persist-credentials", false))
}

/// The shell script of the "Image tags" step: on a release tag `v1.2.3` it
/// outputs `release=<repository>:1.2.3` (the tag the manifests use, without
/// the `v`), and refuses a release whose version is not the spec's
/// `image.tag`; on a branch it outputs nothing (only `sha-<commit>` is
/// pushed). The ref comes in through the environment, never spliced into
/// the script.
pub fn tags_script(spec: &DeploySpec) -> String {
    let repo = &spec.image.repository;
    let mut s = String::from("if [ \"$REF_TYPE\" = tag ]; then\n  version=\"${REF_NAME#v}\"\n");
    if let Some(tag) = &spec.image.tag {
        s.push_str(&format!(
            "  if [ \"$version\" != \"{tag}\" ]; then\n    echo \"::error::release $REF_NAME does not match image.tag {tag} of the manifests\"\n    exit 1\n  fi\n"
        ));
    }
    s.push_str(&format!(
        "  echo \"release={repo}:$version\" >> \"$GITHUB_OUTPUT\"\nfi\n"
    ));
    s
}

fn tags_step(spec: &DeploySpec) -> Value {
    step("Image tags")
        .with("id", "tags")
        .with(
            "env",
            Value::map()
                .with("REF_TYPE", "${{ github.ref_type }}")
                .with("REF_NAME", "${{ github.ref_name }}"),
        )
        .with("run", tags_script(spec))
}

/// The workflow, with a comment naming each pinned action's release.
pub fn workflow(spec: &DeploySpec) -> String {
    let toolchain = &spec.build.rust_version;
    let check_steps = vec![
        checkout(),
        step("Install Rust").with(
            "run",
            format!("rustup toolchain install {toolchain} --profile minimal --component rustfmt,clippy\nrustup default {toolchain}\n"),
        ),
        step("Cache").with("uses", uses("Swatinem/rust-cache")),
        step("Format").with("run", "cargo fmt --all -- --check"),
        step("Clippy").with("run", "cargo clippy --workspace --all-targets --locked -- -D warnings"),
        step("Test").with("run", "cargo test --workspace --locked"),
        step("Install cargo-deny").with(
            "run",
            format!("cargo install --locked cargo-deny@{CARGO_DENY_VERSION}"),
        ),
        // Licences need an allow-list: `build.licenses` generates one
        // (deny.toml next to the Dockerfile); without it they are the
        // project's own business.
        step("Advisories, bans and sources")
            .with("run", "cargo deny --locked check advisories bans sources"),
    ];
    let mut check_steps = check_steps;
    if !spec.build.licenses.is_empty() {
        check_steps.push(step("Licences").with(
            "run",
            format!(
                "cargo deny --locked check --config {} licenses",
                deny_toml_path(spec)
            ),
        ));
    }
    let registry = spec.image.registry().unwrap_or("docker.io").to_string();
    let ghcr = registry == "ghcr.io";
    let login = Value::map()
        .with("registry", registry.as_str())
        .with(
            "username",
            if ghcr {
                "${{ github.actor }}"
            } else {
                "${{ secrets.REGISTRY_USERNAME }}"
            },
        )
        .with(
            "password",
            if ghcr {
                "${{ secrets.GITHUB_TOKEN }}"
            } else {
                "${{ secrets.REGISTRY_PASSWORD }}"
            },
        );
    let repo = &spec.image.repository;
    let build = Value::map()
        .with("context", ".")
        .with("file", spec.build.dockerfile.as_str())
        .with("push", true)
        .with(
            "tags",
            format!("{repo}:sha-${{{{ github.sha }}}}\n${{{{ steps.tags.outputs.release }}}}\n"),
        )
        .with("build-args", "VCS_REF=${{ github.sha }}\n")
        .with("platforms", PLATFORMS)
        // SLSA provenance and an SPDX SBOM, attached to the image.
        .with("provenance", "mode=max")
        .with("sbom", true)
        .with("cache-from", "type=gha")
        .with("cache-to", "type=gha,mode=max");
    let pushed = format!("{repo}@${{{{ steps.build.outputs.digest }}}}");
    let scan = Value::map()
        .with("image-ref", pushed.as_str())
        .with("severity", "CRITICAL,HIGH")
        .with("ignore-unfixed", true)
        .with("exit-code", "1");
    let image_steps = vec![
        checkout(),
        step("Set up QEMU").with("uses", uses("docker/setup-qemu-action")),
        step("Set up Buildx").with("uses", uses("docker/setup-buildx-action")),
        step("Log in to the registry")
            .with("uses", uses("docker/login-action"))
            .with("with", login),
        tags_step(spec),
        step("Build and push")
            .with("id", "build")
            .with("uses", uses("docker/build-push-action"))
            .with("with", build),
        step("Scan the image")
            .with("uses", uses("aquasecurity/trivy-action"))
            .with("with", scan),
        step("Install cosign").with("uses", uses("sigstore/cosign-installer")),
        // Keyless: a certificate for this workflow's OIDC identity, logged
        // in Rekor; the digest, not a tag, is signed.
        step("Sign the image")
            .with("env", Value::map().with("IMAGE", pushed.as_str()))
            .with("run", "cosign sign --yes \"$IMAGE\"\n"),
    ];
    let mut image_perms = Value::map()
        .with("contents", "read")
        .with("id-token", "write");
    if ghcr {
        image_perms.set("packages", "write");
    }
    let jobs = Value::map()
        .with(
            "check",
            Value::map()
                .with("runs-on", "ubuntu-24.04")
                .with("timeout-minutes", 30i64)
                .with("steps", Value::Seq(check_steps)),
        )
        .with(
            "image",
            Value::map()
                .with("needs", "check")
                .with("if", "github.event_name == 'push'")
                .with("runs-on", "ubuntu-24.04")
                .with("timeout-minutes", 45i64)
                .with("permissions", image_perms)
                .with("steps", Value::Seq(image_steps)),
        );
    let wf = Value::map()
        .with("name", format!("{} ci", spec.name))
        .with(
            "on",
            Value::map()
                .with(
                    "push",
                    Value::map()
                        .with("branches", vec!["main"])
                        .with("tags", vec!["v*"]),
                )
                .with("pull_request", Value::map()),
        )
        .with("permissions", Value::map().with("contents", "read"))
        .with(
            "concurrency",
            Value::map()
                .with("group", "${{ github.workflow }}-${{ github.ref }}")
                .with("cancel-in-progress", true),
        )
        .with("jobs", jobs);
    let mut out = String::from("# Generated by iot-deploy. Actions are pinned by commit SHA:\n");
    for (name, sha, version) in ACTIONS {
        out.push_str(&format!("# {name} {version} = {sha}\n"));
    }
    out.push_str(&to_yaml(&wf));
    out
}

/// `.github/dependabot.yml`: weekly updates of the pinned actions, the
/// Cargo dependencies and the Dockerfile's base images.
pub fn dependabot(spec: &DeploySpec) -> String {
    let dir = match spec.build.dockerfile.rsplit_once('/') {
        Some((d, _)) => format!("/{d}"),
        None => "/".to_string(),
    };
    let update = |ecosystem: &str, directory: &str| {
        Value::map()
            .with("package-ecosystem", ecosystem)
            .with("directory", directory)
            .with("schedule", Value::map().with("interval", "weekly"))
    };
    let v = Value::map().with("version", 2i64).with(
        "updates",
        vec![
            update("github-actions", "/"),
            update("cargo", "/"),
            update("docker", &dir),
        ],
    );
    format!(
        "# Generated by iot-deploy: keeps the workflow's pinned actions, the\n# crates and {} current.\n{}",
        "the image's base images",
        to_yaml(&v)
    )
}

/// Where `deny.toml` lands, relative to the workspace root: next to the
/// Dockerfile, the directory the files are rendered into.
fn deny_toml_path(spec: &DeploySpec) -> String {
    match spec.build.dockerfile.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/deny.toml"),
        None => "deny.toml".into(),
    }
}

/// cargo-deny's licence allow-list from `build.licenses` (identifiers
/// validated to `[A-Za-z0-9.+-]`, so quoting them is enough).
pub fn deny_toml(spec: &DeploySpec) -> String {
    let allow: Vec<String> = spec
        .build
        .licenses
        .iter()
        .map(|l| format!("\"{l}\""))
        .collect();
    format!(
        "# Generated by iot-deploy from build.licenses: the licences the\n\
         # dependencies may carry, checked by `cargo deny check licenses`.\n\
         [licenses]\n\
         allow = [{}]\n\
         confidence-threshold = 0.93\n",
        allow.join(", ")
    )
}

/// The workflow file and the Dependabot configuration (and `deny.toml`
/// with `build.licenses`).
pub fn files(spec: &DeploySpec) -> Vec<File> {
    let mut files = vec![
        File::new(
            format!(".github/workflows/{}.yaml", spec.name),
            workflow(spec),
        ),
        File::new(".github/dependabot.yml", dependabot(spec)),
    ];
    if !spec.build.licenses.is_empty() {
        files.push(File::new("deny.toml", deny_toml(spec)));
    }
    files
}
