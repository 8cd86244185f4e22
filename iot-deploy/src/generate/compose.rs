//! docker-compose.yaml, mosquitto.conf and the env-file template.

use super::File;
use super::k8s::{POSTGRES_SECRETS_DIR, migrations, postgres_password_file};
use super::{mosquitto, mqtt_client};
use crate::emit::{Value, to_yaml};
use crate::metrics_contract::HEALTHCHECK_SUBCOMMAND;
use crate::spec::{DeploySpec, MqttAuth, Plaintext};

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
        for (k, v) in mqtt_client::env(m, &spec.name, "mosquitto") {
            env.set(k, v);
        }
        if let Some(g) = &m.share_group {
            // One container, one stable client id (the StatefulSet's first
            // pod name), so a restart resumes the same broker session.
            env.set(g.client_id_env.as_str(), format!("{}-0", spec.name));
        }
    }
    if let Some(p) = &d.postgres {
        env.set("POSTGRES_HOST", "postgres")
            .set("POSTGRES_PORT", "5432")
            .set("POSTGRES_DB", p.database.as_str())
            .set("POSTGRES_USER", p.user.as_str())
            .set("POSTGRES_PASSWORD_FILE", postgres_password_file());
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
    let mut volumes = Vec::new();
    if !spec.config_files.is_empty() {
        volumes.push(format!("./config:{}:ro", spec.config_dir()));
    }
    if d.mqtt.as_ref().is_some_and(mqtt_client::has_files) {
        // The operator puts the CA, client certificate, key and password
        // here (readable by the service's user); never generated.
        volumes.push(format!("./secrets/mqtt:{}:ro", mqtt_client::SECRETS_DIR));
    }
    if d.postgres.is_some() {
        // The operator puts the user's password here as `password` (the
        // value of POSTGRES_PASSWORD in the env file); never generated.
        volumes.push(format!("./secrets/postgres:{POSTGRES_SECRETS_DIR}:ro"));
    }
    if !volumes.is_empty() {
        s.set("volumes", volumes);
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
        services.set("mosquitto", mosquitto_service(m));
        volumes.set("mosquitto-data", Value::map());
        out.extend(mosquitto_files(m, spec));
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
                .with("volumes", postgres_volumes(spec))
                .with("healthcheck", health(check, "10s")),
        );
        volumes.set("postgres-data", Value::map());
        if let Some((_, sql)) = migrations::migration(spec) {
            out.push(File::new(
                format!("compose/postgres/initdb/{}", migrations::SQL_KEY),
                sql,
            ));
        }
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

/// Where the postgres image runs `*.sql` files when it initialises an
/// empty data directory.
pub const INITDB_DIR: &str = "/docker-entrypoint-initdb.d";

/// The postgres service's volumes: its data, and the migration SQL as an
/// init script (run once, on the first start with an empty volume).
fn postgres_volumes(spec: &DeploySpec) -> Vec<String> {
    let mut v = vec!["postgres-data:/var/lib/postgresql/data".to_string()];
    if migrations::migration(spec).is_some() {
        v.push(format!("./postgres/initdb:{INITDB_DIR}:ro"));
    }
    v
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

/// The compose service running Mosquitto.
fn mosquitto_service(m: &crate::spec::Mqtt) -> Value {
    let mut mounts = vec![format!(
        "./mosquitto/mosquitto.conf:{}/mosquitto.conf:ro",
        mosquitto::CONFIG_DIR
    )];
    if m.auth() == MqttAuth::Password {
        mounts.push(format!("./mosquitto/passwd:{}:ro", mosquitto::PASSWD_FILE));
    }
    if m.has_acl() {
        mounts.push(format!("./mosquitto/acl:{}:ro", mosquitto::ACL_FILE));
    }
    if m.tls.is_some() {
        // ca.crt, tls.crt and tls.key: the operator's, never generated.
        mounts.push(format!("./mosquitto/certs:{}:ro", mosquitto::CERTS_DIR));
    }
    mounts.push(format!("mosquitto-data:{}", mosquitto::DATA_DIR));
    let check = strs(&[
        "CMD",
        "mosquitto_sub",
        "-h",
        "127.0.0.1",
        "-p",
        &mosquitto::HEALTH_PORT.to_string(),
        "-t",
        "$$SYS/broker/uptime",
        "-C",
        "1",
        "-W",
        "3",
    ]);
    // Published on the host's loopback only; a plaintext listener bound to
    // the container's loopback cannot be published at all.
    let mut ports = Vec::new();
    if let Some(t) = &m.tls {
        ports.push(format!("127.0.0.1:{0}:{0}", t.port));
    }
    if m.plaintext() == Plaintext::All {
        ports.push(format!("127.0.0.1:{0}:{0}", m.port));
    }
    let mut s = Value::map()
        .with("image", m.image.as_str())
        .with("restart", "unless-stopped")
        .with("volumes", mounts);
    if !ports.is_empty() {
        s.set("ports", ports);
    }
    s.with("healthcheck", health(check, "5s"))
}

/// `mosquitto.conf`, and the files the operator owns after the first
/// render: the password file (empty: no users until `mosquitto_passwd`
/// adds some) and the ACL.
fn mosquitto_files(m: &crate::spec::Mqtt, spec: &DeploySpec) -> Vec<File> {
    let mut out = vec![File::new(
        "compose/mosquitto/mosquitto.conf",
        mosquitto::mosquitto_conf(m, spec.mqtt_consumers()),
    )];
    if m.auth() == MqttAuth::Password {
        out.push(File::create_only("compose/mosquitto/passwd", ""));
    }
    if let Some(acl) = mosquitto::acl(m, &spec.name) {
        out.push(File::create_only("compose/mosquitto/acl", acl));
    }
    out
}
