//! Which request paths the endpoint serves.

use crate::health::Group;

/// What a path resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// A health report: one group, or every check (`None`).
    Health(Option<Group>),
    /// The Prometheus exposition.
    Metrics,
}

/// The full paths, computed once from the prefix.
#[derive(Debug, Clone)]
pub(crate) struct Routes {
    pub(crate) prefix: String,
    pub(crate) live: String,
    pub(crate) ready: String,
    pub(crate) startup: String,
    pub(crate) all: String,
    pub(crate) metrics: String,
}

impl Routes {
    pub(crate) fn new(prefix: &str) -> Self {
        let prefix = normalize_prefix(prefix);
        Self {
            live: format!("{prefix}/health/live"),
            ready: format!("{prefix}/health/ready"),
            startup: format!("{prefix}/health/startup"),
            all: format!("{prefix}/health"),
            metrics: format!("{prefix}/metrics"),
            prefix,
        }
    }

    /// Exact match on the path (no trailing-slash or case folding: probes
    /// are configured once and should fail loudly when mistyped).
    pub(crate) fn resolve(&self, path: &str) -> Option<Route> {
        if path == self.live {
            Some(Route::Health(Some(Group::Liveness)))
        } else if path == self.ready {
            Some(Route::Health(Some(Group::Readiness)))
        } else if path == self.startup {
            Some(Route::Health(Some(Group::Startup)))
        } else if path == self.all {
            Some(Route::Health(None))
        } else if path == self.metrics {
            Some(Route::Metrics)
        } else {
            None
        }
    }
}

/// `"mgmt"`, `"/mgmt"` and `"/mgmt/"` all become `"/mgmt"`; `""` and `"/"`
/// become `""`.
pub(crate) fn normalize_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim().trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_normalized() {
        assert_eq!(Routes::new("").live, "/health/live");
        assert_eq!(Routes::new("/").all, "/health");
        assert_eq!(Routes::new("mgmt").ready, "/mgmt/health/ready");
        assert_eq!(Routes::new("/mgmt/").metrics, "/mgmt/metrics");
        assert_eq!(Routes::new("/a/b").startup, "/a/b/health/startup");
    }

    #[test]
    fn resolves_exact_paths_only() {
        let routes = Routes::new("/x");
        assert_eq!(routes.resolve("/x/health"), Some(Route::Health(None)));
        assert_eq!(routes.resolve("/x/metrics"), Some(Route::Metrics));
        assert_eq!(routes.resolve("/x/health/"), None);
        assert_eq!(routes.resolve("/health"), None);
    }
}
