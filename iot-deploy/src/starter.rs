//! The commented starter spec written by `iot-deploy init`.

/// A commented starter spec (TOML) showing the common fields.
pub const STARTER_TOML: &str = r#"# iot-deploy spec: describe the service once; `iot-deploy render` writes the
# Dockerfile, compose, Kubernetes, Helm, Kustomize, Prometheus, Grafana,
# systemd and CI files from it. Every field is documented in docs/deploy.md.

# Service name: lowercase letters, digits and '-', starting with a letter.
name = "my-service"
description = "What this service does, in one line."
# component = "server"        # app.kubernetes.io/component
# part_of = "iot-platform"    # app.kubernetes.io/part-of (default: name)
# namespace = "my-service"    # default: name
drain_seconds = 15            # seconds to drain after SIGTERM; the pod gets 10 s more

[image]
repository = "ghcr.io/acme/my-service"
tag = "0.1.0"                 # pinned; `latest` is refused (see allow_latest)
# digest = "sha256:..."       # wins over the tag when both are set

[build]
# binary = "my-service"       # default: name
# package = "my-service"      # cargo -p (default: binary)
# features = []
runtime = "distroless"        # distroless | debian-slim | static
dockerfile = "deploy/Dockerfile"  # where you render to, relative to the workspace

[ports]
http = 8080                   # API, probes and /metrics
# metrics = 9100              # a separate /metrics port, if any

[env]
RUST_LOG = "info"

# Secrets are referenced, never written here: each key becomes an env var.
# [[secrets]]
# name = "my-service-db"
# keys = ["DATABASE_URL"]

# Config files are mounted read-only under /etc/<name>.
# [config_files."service.toml"]
# path = "config/service.toml"  # or: content = "..."

[resources.requests]
cpu = "100m"
memory = "128Mi"

[resources.limits]
cpu = "500m"
memory = "256Mi"

[scaling]
replicas = 2
# autoscale = { min = 2, max = 6, cpu_percent = 70 }

# Probes default to iot-observe's paths: /health/live, /health/ready, /health/startup.
# [probes.startup]
# failure_threshold = 60

# [dependencies.mqtt]         # Mosquitto in compose (and Kubernetes: host "mosquitto"); MQTT_* env
# prefix = "iot"              # topics <prefix>/<device>/...; the ACL grants per role
# [dependencies.mqtt.tls]     # keep it: without TLS `check` reports ID008
# mode = "server"             # server (passwords) | mutual (client certificates)
# [dependencies.mqtt.broker]  # queues sized for devices x rate x tolerated consumer outage
# devices = 1000
# consumer_outage_seconds = 600
# [dependencies.mqtt.share_group]  # replicas share a $share group: stable client ids
# [dependencies.postgres]
# database = "app"
# [dependencies.redis]

# [ingress]
# host = "my-service.example.com"
# tls_secret = "my-service-tls"

# Per-environment overrides, merged over everything above.
[environments.dev]
scaling = { replicas = 1 }

# Findings accepted on purpose: `check` reports them as acknowledged.
[[lint.acknowledge]]
id = "ID007"
reason = "dev runs a single replica to save resources; downtime there is fine"
environments = ["dev"]

[environments.prod]
scaling = { replicas = 3 }
"#;

#[cfg(test)]
mod tests {
    #[test]
    fn starter_spec_is_valid() {
        let f = crate::SpecFile::parse(super::STARTER_TOML, crate::Format::Toml).unwrap();
        assert_eq!(f.environments.len(), 2);
    }
}
