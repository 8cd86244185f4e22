//! The container image reference.

use serde::{Deserialize, Serialize};

/// The container image: a repository and a pinned tag and/or digest.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Image {
    /// Repository, like `ghcr.io/acme/gateway` (required, no tag in it).
    pub repository: String,
    /// A pinned tag, like `1.4.2`. `latest` is refused unless `allow_latest`.
    pub tag: Option<String>,
    /// A digest, like `sha256:...`; wins over the tag when both are set.
    pub digest: Option<String>,
    /// Accept the `latest` tag (not recommended: deployments stop being reproducible).
    pub allow_latest: bool,
    /// Kubernetes `imagePullPolicy`.
    pub pull_policy: PullPolicy,
}

impl Image {
    /// The full reference: `repo@digest`, `repo:tag@digest` or `repo:tag`.
    pub fn reference(&self) -> String {
        let mut r = self.repository.clone();
        if let Some(tag) = &self.tag {
            r.push(':');
            r.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            r.push('@');
            r.push_str(digest);
        }
        r
    }

    /// The version label: the tag, else the digest's first 12 hex digits.
    pub fn version(&self) -> String {
        match (&self.tag, &self.digest) {
            (Some(t), _) => t.clone(),
            (None, Some(d)) => d.trim_start_matches("sha256:").chars().take(12).collect(),
            (None, None) => "unversioned".into(),
        }
    }

    /// The registry host, if the repository names one (`ghcr.io/...`).
    pub fn registry(&self) -> Option<&str> {
        let (first, rest) = self.repository.split_once('/')?;
        (!rest.is_empty() && (first.contains('.') || first.contains(':') || first == "localhost"))
            .then_some(first)
    }
}

/// When the kubelet pulls the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PullPolicy {
    /// Pull only when the node lacks it (right for pinned tags).
    #[default]
    IfNotPresent,
    /// Pull on every start.
    Always,
    /// Never pull.
    Never,
}

impl PullPolicy {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Always => "Always",
            PullPolicy::Never => "Never",
        }
    }
}
