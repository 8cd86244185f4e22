//! docker-compose.yaml, mosquitto.conf and the env-file template.

use super::File;
use crate::emit::{Value, to_yaml};
use crate::metrics_contract::HEALTHCHECK_SUBCOMMAND;
use crate::spec::{DeploySpec, MqttAuth};

/// Pinned images of the observability services.
pub(crate) const PROMETHEUS_IMAGE: &str = "prom/prometheus:v2.54.1";
pub(crate) const GRAFANA_IMAGE: &str = "grafana/grafana:11.2.0";

fn strs(items: &[&str]) -> Value {
    Value::Seq(items.iter().map(|s| Value::from(*s)).collect())
}

fn health(test: Value, start: &str) -> Value {
    Value::map()
        .with("test", test)
        .with("interval", "10s")
        .with("timeout", "5s")
        .with("retries", 5i64)
        .with("start_period", start)
}

fn healthy(names: &[&str]) -> Value {
    let mut m = Value::map();
    for n in names {
        m.set(*n, Value::map().with("condition", "service_healthy"));
    }
    m
}

/// PostgreSQL's superuser password, read by the postgres service only.
pub const POSTGRES_PASSWORD: &str = "POSTGRES_PASSWORD";
/// Grafana's admin password, read by the grafana service only.
pub const GRAFANA_ADMIN_PASSWORD: &str = "GF_SECURITY_ADMIN_PASSWORD";

/// The secret variables each compose service reads, by service name, in
/// file order: the service's own secret keys (as in the Kubernetes
/// Deployment), then PostgreSQL's and Grafana's. Services without secrets
/// are left out.
pub fn secret_keys_by_service(spec: &DeploySpec) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let app = super::systemd::secret_keys(spec);
    if !app.is_empty() {
        out.push((spec.name.clone(), app));
    }
    if spec.dependencies.postgres.is_some() {
        out.push(("postgres".into(), vec![POSTGRES_PASSWORD.into()]));
    }
    if spec.compose.grafana {
        out.push(("grafana".into(), vec![GRAFANA_ADMIN_PASSWORD.into()]));
    }
    out
}

/// Names of the secret values the env file must define: every compose
/// service's, sorted, each once. Compose reads the file for `${VAR}`
/// interpolation only; each service is given just its own keys.
pub fn env_file_keys(spec: &DeploySpec) -> Vec<String> {
    let mut keys: Vec<String> = secret_keys_by_service(spec)
        .into_iter()
        .flat_map(|(_, k)| k)
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// `${KEY:?...}`: the value of `KEY` from the project env file (or the
/// shell), never inlined; compose refuses to start when it is unset or empty.
fn required_var(spec: &DeploySpec, key: &str) -> String {
    let file = &spec.compose.env_file;
    let file = if file.contains(['$', '{', '}']) {
        "the env file"
    } else {
        file.as_str()
    };
    format!("${{{key}:?set {key} in {file}}}")
}

fn service(spec: &DeploySpec, deps: &[&str]) -> Value {
    let bin = spec.binary();
    let mut env = Value::map();
    for (k, v) in &spec.env {
        // Compose substitutes `$VAR` in values; `$$` is a literal `$`.
        env.set(k, v.replace('$', "$$"));
    }
    let d = &spec.dependencies;
    if let Some(m) = &d.mqtt {
        env.set("MQTT_HOST", "mosquitto")
            .set("MQTT_PORT", m.port.to_string());
    }
    if let Some(p) = &d.postgres {
        env.set("POSTGRES_HOST", "postgres")
            .set("POSTGRES_PORT", "5432")
            .set("POSTGRES_DB", p.database.as_str());
    }
    if d.redis.is_some() {
        env.set("REDIS_HOST", "redis").set("REDIS_PORT", "6379");
    }
    for key in super::systemd::secret_keys(spec) {
        env.set(&key, required_var(spec, &key));
    }
    let uid = spec.hardening.run_as_user;
    let mut ports = vec![Value::from(format!("127.0.0.1:{0}:{0}", spec.ports.http))];
    if let Some(m) = spec.ports.metrics {
        ports.push(Value::from(format!("127.0.0.1:{m}:{m}")));
    }
    let mut s = Value::map()
        .with(
            "build",
            Value::map()
                .with("context", spec.build.compose_context())
                .with("dockerfile", spec.build.dockerfile.as_str()),
        )
        .with("image", spec.image.reference())
        .with("restart", "unless-stopped")
        .with("user", format!("{uid}:{uid}"))
        .with("read_only", spec.hardening.read_only_root_filesystem)
        .with("cap_drop", strs(&["ALL"]))
        .with("security_opt", strs(&["no-new-privileges:true"]))
        .with("tmpfs", strs(&["/tmp"]))
        .with("environment", env)
        .with("ports", Value::Seq(ports));
    if !spec.config_files.is_empty() {
        s.set(
            "volumes",
            vec![format!("./config:{}:ro", spec.config_dir())],
        );
    }
    s.set(
        "healthcheck",
        health(
            strs(&[
                "CMD",
                &format!("/usr/local/bin/{bin}"),
                HEALTHCHECK_SUBCOMMAND,
            ]),
            "20s",
        ),
    );
    s.set("stop_grace_period", format!("{}s", spec.grace_seconds()));
    if !deps.is_empty() {
        s.set("depends_on", healthy(deps));
    }
    s
}

/// The compose file and the files it mounts.
pub fn files(spec: &DeploySpec) -> Vec<File> {
    let d = &spec.dependencies;
    let mut services = Value::map();
    let mut volumes = Value::map();
    let mut deps = Vec::new();
    let mut out = Vec::new();
    if let Some(m) = &d.mqtt {
        deps.push("mosquitto");
        let mut mounts =
            vec!["./mosquitto/mosquitto.conf:/mosquitto/config/mosquitto.conf:ro".to_string()];
        if m.auth == MqttAuth::Password {
            mounts.push("./mosquitto/passwd:/mosquitto/config/passwd:ro".into());
        }
        mounts.push("mosquitto-data:/mosquitto/data".into());
        let check = strs(&[
            "CMD",
            "mosquitto_sub",
            "-h",
            "127.0.0.1",
            "-p",
            "1880",
            "-t",
            "$$SYS/broker/uptime",
            "-C",
            "1",
            "-W",
            "3",
        ]);
        services.set(
            "mosquitto",
            Value::map()
                .with("image", m.image.as_str())
                .with("restart", "unless-stopped")
                .with("volumes", mounts)
                .with("ports", vec![format!("127.0.0.1:{0}:{0}", m.port)])
                .with("healthcheck", health(check, "5s")),
        );
        volumes.set("mosquitto-data", Value::map());
        out.push(File::new(
            "compose/mosquitto/mosquitto.conf",
            mosquitto_conf(m.port, m.auth),
        ));
        if m.auth == MqttAuth::Password {
            // Mounted as a file: an empty one (no users) until `mosquitto_passwd` adds some.
            out.push(File::new("compose/mosquitto/passwd", ""));
        }
    }
    if let Some(p) = &d.postgres {
        deps.push("postgres");
        let check = strs(&["CMD", "pg_isready", "-U", &p.user, "-d", &p.database]);
        services.set(
            "postgres",
            Value::map()
                .with("image", p.image.as_str())
                .with("restart", "unless-stopped")
                .with(
                    "environment",
                    Value::map()
                        .with("POSTGRES_DB", p.database.as_str())
                        .with("POSTGRES_USER", p.user.as_str())
                        .with(POSTGRES_PASSWORD, required_var(spec, POSTGRES_PASSWORD)),
                )
                .with("volumes", vec!["postgres-data:/var/lib/postgresql/data"])
                .with("healthcheck", health(check, "10s")),
        );
        volumes.set("postgres-data", Value::map());
    }
    if let Some(r) = &d.redis {
        deps.push("redis");
        services.set(
            "redis",
            Value::map()
                .with("image", r.image.as_str())
                .with("restart", "unless-stopped")
                .with("command", strs(&["redis-server", "--appendonly", "yes"]))
                .with("volumes", vec!["redis-data:/data"])
                .with(
                    "healthcheck",
                    health(strs(&["CMD", "redis-cli", "ping"]), "5s"),
                ),
        );
        volumes.set("redis-data", Value::map());
    }
    let mut all = Value::map().with(spec.name.as_str(), service(spec, &deps));
    if let Value::Map(entries) = services {
        for (k, v) in entries {
            all.set(k, v);
        }
    }
    if spec.compose.prometheus {
        let check = strs(&[
            "CMD",
            "wget",
            "-q",
            "--spider",
            "http://127.0.0.1:9090/-/ready",
        ]);
        all.set(
            "prometheus",
            Value::map()
                .with("image", PROMETHEUS_IMAGE)
                .with("restart", "unless-stopped")
                .with(
                    "volumes",
                    vec![
                        "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro",
                        "./prometheus/rules:/etc/prometheus/rules:ro",
                        "prometheus-data:/prometheus",
                    ],
                )
                .with("ports", vec!["127.0.0.1:9090:9090"])
                .with("healthcheck", health(check, "10s"))
                .with("depends_on", healthy(&[spec.name.as_str()])),
        );
        volumes.set("prometheus-data", Value::map());
    }
    if spec.compose.grafana {
        let check = strs(&[
            "CMD",
            "wget",
            "-q",
            "--spider",
            "http://127.0.0.1:3000/api/health",
        ]);
        let mut g = Value::map()
            .with("image", GRAFANA_IMAGE)
            .with("restart", "unless-stopped")
            .with(
                "environment",
                Value::map()
                    .with("GF_AUTH_ANONYMOUS_ENABLED", "false")
                    .with("GF_USERS_ALLOW_SIGN_UP", "false")
                    .with(
                        GRAFANA_ADMIN_PASSWORD,
                        required_var(spec, GRAFANA_ADMIN_PASSWORD),
                    ),
            )
            .with(
                "volumes",
                vec![
                    "./grafana/provisioning:/etc/grafana/provisioning:ro",
                    "./grafana/dashboards:/var/lib/grafana/dashboards:ro",
                    "grafana-data:/var/lib/grafana",
                ],
            )
            .with("ports", vec!["127.0.0.1:3000:3000"])
            .with("healthcheck", health(check, "20s"));
        if spec.compose.prometheus {
            g.set("depends_on", healthy(&["prometheus"]));
        }
        all.set("grafana", g);
        volumes.set("grafana-data", Value::map());
        out.extend(super::grafana::provisioning(spec));
    }
    if spec.compose.prometheus {
        out.extend(super::prometheus::compose_files(spec));
    }
    for (name, f) in &spec.config_files {
        out.push(File::new(format!("compose/config/{name}"), f.text()));
    }
    let compose = Value::map()
        .with("name", spec.name.as_str())
        .with("services", all)
        .with("volumes", volumes);
    out.insert(
        0,
        File::new("compose/docker-compose.yaml", to_yaml(&compose)),
    );
    out.push(File::new("compose/env.example", env_example(spec)));
    out
}

/// The env-file template: every secret key once, grouped by the service
/// that reads it.
fn env_example(spec: &DeploySpec) -> String {
    let file = &spec.compose.env_file;
    let mut env = format!(
        "# Secret values for docker compose. Copy to {file} next to docker-compose.yaml\n\
         # and fill in; never commit it. Compose substitutes each value into the\n\
         # `environment:` of the services that read it (never `env_file:`), and\n\
         # refuses to start while one is unset or empty.\n"
    );
    if file != ".env" {
        env.push_str(&format!(
            "# Not the default .env: pass `--env-file <path to {file}>` to docker compose.\n"
        ));
    }
    let mut seen: Vec<String> = Vec::new();
    for (service, keys) in secret_keys_by_service(spec) {
        env.push_str(&format!("# {service}\n"));
        for k in keys {
            if seen.contains(&k) {
                env.push_str(&format!("# {k}: set above\n"));
            } else {
                env.push_str(&format!("{k}=\n"));
                seen.push(k);
            }
        }
    }
    env
}

/// Mosquitto 2 config: the client listener with an explicit authentication
/// choice, and a loopback-only anonymous listener for the health check.
pub fn mosquitto_conf(port: u32, auth: MqttAuth) -> String {
    let auth_lines = match auth {
        MqttAuth::Password => {
            "allow_anonymous false\npassword_file /mosquitto/config/passwd\n# Create it with: mosquitto_passwd -c passwd <user>\n"
        }
        MqttAuth::Anonymous => {
            "# Anonymous clients: local development only.\nallow_anonymous true\n"
        }
    };
    format!(
        "# Generated by iot-deploy.\nper_listener_settings true\npersistence true\npersistence_location /mosquitto/data/\nlog_dest stdout\n\
         # Never larger than the consumers' limit (iot-core's default).\nmax_packet_size {max_packet}\n\n\
         # Clients.\nlistener {port}\n{auth_lines}\n\
         # Health checks only: loopback inside the container.\nlistener 1880 127.0.0.1\nallow_anonymous true\n",
        max_packet = crate::metrics_contract::MQTT_MAX_PACKET_SIZE,
    )
}
