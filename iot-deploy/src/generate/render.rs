//! Choosing generators and collecting their files.

use crate::SpecFile;
use crate::emit::to_yaml_docs;
use crate::spec::{DeploySpec, MqttAuth};

/// A generated file: a relative path, its contents and how it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Path relative to the output directory, with `/` separators.
    pub path: String,
    /// The file's text.
    pub contents: String,
    /// Whether an existing file is replaced or kept.
    pub mode: WriteMode,
}

/// How a generated file meets one that already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WriteMode {
    /// Replaced: the spec is the only source of the file.
    #[default]
    Replace,
    /// Written only when absent: the operator owns it after the first
    /// render (users in a password file, an edited ACL, key material).
    CreateOnly,
}

impl File {
    pub(crate) fn new(path: impl Into<String>, contents: impl Into<String>) -> Self {
        File {
            path: path.into(),
            contents: contents.into(),
            mode: WriteMode::Replace,
        }
    }

    /// A file written only when none exists at its path.
    pub(crate) fn create_only(path: impl Into<String>, contents: impl Into<String>) -> Self {
        File {
            mode: WriteMode::CreateOnly,
            ..File::new(path, contents)
        }
    }
}

/// A family of generated files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// `Dockerfile` and `Dockerfile.dockerignore`.
    Docker,
    /// `docker-compose.yaml` with its Mosquitto, Prometheus and Grafana files.
    Compose,
    /// Plain Kubernetes manifests under `k8s/`.
    K8s,
    /// A Helm chart under `helm/<name>/`.
    Helm,
    /// A Kustomize base and one overlay per environment under `kustomize/`.
    Kustomize,
    /// Prometheus scrape config, alert rules and rule tests under `prometheus/`.
    Prometheus,
    /// A Grafana dashboard under `grafana/`.
    Grafana,
    /// A hardened systemd unit under `systemd/`.
    Systemd,
    /// A GitHub Actions workflow under `.github/workflows/`.
    Ci,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 9] = [
        Target::Docker,
        Target::Compose,
        Target::K8s,
        Target::Helm,
        Target::Kustomize,
        Target::Prometheus,
        Target::Grafana,
        Target::Systemd,
        Target::Ci,
    ];

    /// The name used on the command line (`--only docker,k8s`).
    pub fn name(self) -> &'static str {
        match self {
            Target::Docker => "docker",
            Target::Compose => "compose",
            Target::K8s => "k8s",
            Target::Helm => "helm",
            Target::Kustomize => "kustomize",
            Target::Prometheus => "prometheus",
            Target::Grafana => "grafana",
            Target::Systemd => "systemd",
            Target::Ci => "ci",
        }
    }

    /// The target called `name`.
    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// The Kubernetes manifests as files under `k8s/` (Secret templates
/// included), and, when the broker runs in the cluster, the files its auth
/// Secret is made from (`k8s/mosquitto/passwd` and `acl`, written only when
/// absent, like compose's).
pub fn k8s_files(spec: &DeploySpec) -> Vec<File> {
    let ms = super::k8s::manifests(spec)
        .into_iter()
        .chain(std::iter::once(super::k8s::namespace_manifest(spec)))
        .chain(super::k8s::secret_templates(spec));
    let mut out: Vec<File> = ms
        .map(|m| File::new(format!("k8s/{}", m.file), to_yaml_docs(&m.docs)))
        .collect();
    if let Some(m) = spec.cluster_broker() {
        if m.auth() == MqttAuth::Password {
            out.push(File::create_only("k8s/mosquitto/passwd", ""));
        }
        if let Some(acl) = super::mosquitto::acl(m, &spec.name) {
            out.push(File::create_only("k8s/mosquitto/acl", acl));
        }
    }
    out
}

/// Renders `targets` for the spec of `env` (the base spec for `None`); the
/// Kustomize target always covers every environment. `None` when the
/// environment is not in the file.
pub fn render(file: &SpecFile, env: Option<&str>, targets: &[Target]) -> Option<Vec<File>> {
    let spec = file.resolve(env)?;
    let mut out = Vec::new();
    for t in Target::ALL.into_iter().filter(|t| targets.contains(t)) {
        match t {
            Target::Docker => {
                out.push(File::new("Dockerfile", super::docker::dockerfile(spec)));
                out.push(File::new(
                    "Dockerfile.dockerignore",
                    super::docker::dockerignore(spec),
                ));
            }
            Target::Compose => out.extend(super::compose::files(spec)),
            Target::K8s => out.extend(k8s_files(spec)),
            Target::Helm => out.extend(super::helm::files(spec)),
            Target::Kustomize => out.extend(super::kustomize::files(file)),
            Target::Prometheus => out.extend(super::prometheus::files(spec)),
            Target::Grafana => out.extend(super::grafana::files(spec)),
            Target::Systemd => out.extend(super::systemd::files(spec)),
            Target::Ci => out.extend(super::ci::files(spec)),
        }
    }
    Some(out)
}
