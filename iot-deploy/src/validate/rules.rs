//! The rules, field by field.

use super::Problems;
use super::names::*;
use super::quantity::{Measure, check as check_quantity};
use crate::decode::join;
use crate::spec::{DeploySpec, MqttAuth, ProbeKind};

/// Checks everything that types alone do not.
pub(crate) fn validate(s: &DeploySpec) -> Problems {
    let mut p = Problems::default();
    identity(s, &mut p);
    image(s, &mut p);
    ports(s, &mut p);
    env(s, &mut p);
    resources(s, &mut p);
    scaling_and_probes(s, &mut p);
    dependencies(s, &mut p);
    extras(s, &mut p);
    text(s, &mut p);
    network(s, &mut p);
    alerting(s, &mut p);
    acknowledgements(s, &mut p);
    platform(s, &mut p);
    p
}

/// A duration Argo Rollouts reads: a number and `s`, `m` or `h`.
fn is_argo_duration(v: &str) -> bool {
    let digits = v.trim_end_matches(['s', 'm', 'h']);
    v.len() == digits.len() + 1 && !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
}

/// An `http(s)://host[:port][/path]` address (no query, no user info).
fn is_http_address(v: &str) -> bool {
    let Some(rest) = v
        .strip_prefix("http://")
        .or_else(|| v.strip_prefix("https://"))
    else {
        return false;
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (h, port) = match authority.rsplit_once(':') {
        Some((h, port)) => (h, Some(port)),
        None => (authority, None),
    };
    !h.is_empty()
        && (h.parse::<std::net::IpAddr>().is_ok() || is_dns1123_subdomain(h))
        && port.is_none_or(|n| n.parse::<u16>().is_ok_and(|n| n > 0))
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~/".contains(c))
}

/// Labels a spec adds to objects: Kubernetes label keys and values.
fn labels(p: &mut Problems, base: &str, labels: &std::collections::BTreeMap<String, String>) {
    for (k, v) in labels {
        let key_ok = !k.is_empty()
            && k.len() <= 253
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
        if !key_ok || !is_label_value(v) {
            p.add(
                join(base, k),
                format!("{k:?} = {v:?} is not a Kubernetes label"),
            );
        }
    }
}

fn address(p: &mut Problems, path: &str, v: &str) {
    if !is_http_address(v) {
        p.add(
            path,
            format!(
                "{v:?} is not an address like \"http://prometheus-operated.monitoring.svc:9090\""
            ),
        );
    }
}

/// prometheus-operator, Argo Rollouts and KEDA settings.
fn platform(s: &DeploySpec, p: &mut Problems) {
    use crate::spec::{RolloutStrategy, TrafficRouting};
    if let Some(op) = &s.prometheus_operator {
        labels(p, "prometheus_operator.labels", &op.labels);
        for k in op.labels.keys() {
            if k.starts_with("app.kubernetes.io/") || k.starts_with("helm.sh/") {
                p.add(
                    join("prometheus_operator.labels", k),
                    format!("{k:?} is a label iot-deploy sets itself; use a key of your own, like \"release\""),
                );
            }
        }
    }
    if let Some(r) = &s.rollout {
        let canary = r.strategy == RolloutStrategy::Canary;
        if canary && r.steps.is_empty() {
            p.add("rollout.steps", "a canary needs at least one step");
        }
        for (i, st) in r.steps.iter().enumerate() {
            if !(1..=100).contains(&st.weight) {
                p.add(
                    format!("rollout.steps[{i}].weight"),
                    format!("{} is out of range, expected 1 to 100", st.weight),
                );
            }
            if let Some(d) = st.pause.as_deref().filter(|d| !is_argo_duration(d)) {
                p.add(
                    format!("rollout.steps[{i}].pause"),
                    format!("{d:?} is not a duration like \"5m\" (a number and s, m or h)"),
                );
            }
        }
        if !canary && r.traffic.is_some() {
            p.add(
                "rollout.traffic",
                "traffic routing is for the canary strategy; blue-green switches Services",
            );
        }
        if canary && r.auto_promotion_seconds.is_some() {
            p.add(
                "rollout.auto_promotion_seconds",
                "only for strategy = \"blue-green\"; a canary promotes by its steps",
            );
        }
        if let Some(v) = &r.virtual_service {
            if r.traffic != Some(TrafficRouting::Istio) {
                p.add("rollout.virtual_service", "only with traffic = \"istio\"");
            } else if !is_dns1123_subdomain(v) {
                p.add(
                    "rollout.virtual_service",
                    format!("{v:?} is not an object name (DNS-1123 subdomain)"),
                );
            }
        }
        let a = &r.analysis;
        address(
            p,
            "rollout.analysis.prometheus_address",
            &a.prometheus_address,
        );
        if !is_argo_duration(&a.interval) {
            p.add(
                "rollout.analysis.interval",
                format!(
                    "{:?} is not a duration like \"1m\" (a number and s, m or h)",
                    a.interval
                ),
            );
        }
        // A share above 0 and at most 1 (NaN is outside).
        let out_of_range = |x: &f64| !(0.0..=1.0).contains(x) || *x == 0.0;
        if let Some(x) = a.max_error_ratio.filter(out_of_range) {
            p.add(
                "rollout.analysis.max_error_ratio",
                format!("{x} is out of range, expected a share above 0 and at most 1"),
            );
        }
        if let Some(x) = a
            .max_decode_errors_per_second
            .filter(|x| !(x.is_finite() && *x >= 0.0))
        {
            p.add(
                "rollout.analysis.max_decode_errors_per_second",
                format!("{x} is not a rate (0 or more)"),
            );
        }
    }
    if let Some(k) = &s.scaling.keda {
        if s.scaling.autoscale.is_some() {
            p.add(
                "scaling.keda",
                "scaling.autoscale is set too: one workload takes one autoscaler (KEDA creates its own HorizontalPodAutoscaler); remove one",
            );
        }
        if k.max == 0 || k.max < k.min {
            p.add(
                "scaling.keda.max",
                format!("{} is below min ({}) or 0", k.max, k.min),
            );
        }
        if !(k.target.is_finite() && k.target > 0.0) {
            p.add(
                "scaling.keda.target",
                format!("{} is not a positive number", k.target),
            );
        }
        address(p, "scaling.keda.prometheus_address", &k.prometheus_address);
    }
}

/// `[[lint.acknowledge]]`: a known rule, a reason, known environments.
fn acknowledgements(s: &DeploySpec, p: &mut Problems) {
    for (i, a) in s.lint.acknowledge.iter().enumerate() {
        let path = format!("lint.acknowledge[{i}]");
        if !crate::lint::RULES.iter().any(|(id, _)| *id == a.id) {
            p.add(
                format!("{path}.id"),
                format!("{:?} is not a rule id (ID001 to ID009)", a.id),
            );
        }
        if a.reason.trim().is_empty() {
            p.add(
                format!("{path}.reason"),
                "missing: say why the finding is accepted",
            );
        }
        for (j, e) in a.environments.iter().enumerate() {
            if !crate::spec::ENVIRONMENTS.contains(&e.as_str()) {
                p.add(
                    format!("{path}.environments[{j}]"),
                    format!("{e:?} is not an environment (dev, staging, prod)"),
                );
            }
        }
    }
}

/// `host:port` addresses of Alertmanager and kube-state-metrics.
fn alerting(s: &DeploySpec, p: &mut Problems) {
    let ok = |v: &str| {
        v.rsplit_once(':').is_some_and(|(h, port)| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.".contains(c))
                && port.parse::<u16>().is_ok_and(|n| n > 0)
        })
    };
    let mut addrs: Vec<(String, &str)> = s
        .alerts
        .alertmanagers
        .iter()
        .enumerate()
        .map(|(i, a)| (format!("alerts.alertmanagers[{i}]"), a.as_str()))
        .collect();
    if !s.alerts.kube_state_metrics.is_empty() {
        addrs.push((
            "alerts.kube_state_metrics".into(),
            &s.alerts.kube_state_metrics,
        ));
    }
    for (path, v) in addrs {
        if !ok(v) {
            p.add(
                path,
                format!(
                    "{v:?} is not a host:port address like \"alertmanager.monitoring.svc:9093\""
                ),
            );
        }
    }
}

/// The NetworkPolicy sources: namespaces and the Prometheus pod labels.
fn network(s: &DeploySpec, p: &mut Problems) {
    let mut namespaces = vec![(
        "metrics.prometheus_namespace".to_string(),
        s.metrics.prometheus_namespace.as_str(),
    )];
    for (i, n) in s.ports.http_from_namespaces.iter().enumerate() {
        namespaces.push((format!("ports.http_from_namespaces[{i}]"), n));
    }
    if let Some(n) = s
        .ingress
        .as_ref()
        .and_then(|i| i.controller_namespace.as_deref())
    {
        namespaces.push(("ingress.controller_namespace".into(), n));
    }
    for (path, n) in namespaces {
        if !is_dns1123_label(n) || n.is_empty() {
            p.add(
                path,
                format!("{n:?} is not a namespace name (DNS-1123 label)"),
            );
        }
    }
    labels(
        p,
        "metrics.prometheus_pod_labels",
        &s.metrics.prometheus_pod_labels,
    );
}

/// The first control character (newline, carriage return, tab, NUL, ...) in `v`.
fn control_char(v: &str) -> Option<char> {
    v.chars().find(|c| c.is_control())
}

/// Free text lands in line-based formats (systemd units, Dockerfiles,
/// environment files): a control character there would end the line and
/// let the rest of the value become new keys or instructions. Everything
/// else is escaped by each emitter.
fn text(s: &DeploySpec, p: &mut Problems) {
    let mut single_line = |path: String, v: &str| {
        if let Some(c) = control_char(v) {
            p.add(
                path,
                format!(
                    "contains the control character {c:?}: a single line without newlines, tabs or other control characters is expected"
                ),
            );
        }
    };
    single_line("description".into(), &s.description);
    for (k, v) in &s.env {
        single_line(join("env", k), v);
    }
    if let Some(c) = &s.cronjob {
        for (i, a) in c.args.iter().enumerate() {
            single_line(format!("cronjob.args[{i}]"), a);
        }
    }
    // A trailing backslash continues a systemd line onto the next one
    // (`Description=` is not C-unescaped, so it cannot be escaped there).
    if s.description.ends_with('\\') {
        p.add(
            "description",
            "ends with a backslash, which continues the systemd line onto the next: remove it",
        );
    }
    if let Some(tz) = s.cronjob.as_ref().and_then(|c| c.time_zone.as_ref()) {
        let ok = !tz.is_empty()
            && tz
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+-/".contains(c));
        if !ok {
            p.add(
                "cronjob.time_zone",
                format!("{tz:?} is not an IANA time zone name like \"Europe/Berlin\""),
            );
        }
    }
    // Paths in `ExecStart=` and `EnvironmentFile=`: `%` is a specifier,
    // `$` expands a variable, quotes and backslashes are unquoted.
    for (f, v) in [
        ("systemd.exec_path", &s.systemd.exec_path),
        ("systemd.environment_file", &s.systemd.environment_file),
    ] {
        if let Some(v) = v {
            if let Some(c) = v
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || "/._-+@".contains(*c)))
            {
                p.add(
                    f,
                    format!(
                        "{v:?} contains {c:?}: use letters, digits and '/', '.', '_', '-', '+', '@'"
                    ),
                );
            }
        }
    }
}

/// The Kubernetes objects named after the spec's name that this spec
/// generates, with the longest name each may have: the first (what, name,
/// limit) whose name is over its limit, the one leaving the name the
/// fewest characters. Without this a name valid on its own (up to 63)
/// produced manifests the API server refuses.
fn tightest_derived_name(s: &DeploySpec) -> Option<(String, String, usize)> {
    use crate::generate::k8s::{headless_name, migrations, platform};
    // Services are DNS-1035 labels (63); a CronJob's name at most 52 (its
    // Jobs get an 11-character suffix), a StatefulSet's too (its revision
    // label adds 11); a Job's name is a label value of its pods (63).
    let mut names = vec![("the headless Service".to_string(), headless_name(s), 63)];
    for suffix in platform::strategy_services(s) {
        names.push((
            format!("the Rollout's {suffix} Service"),
            format!("{}-{suffix}", s.name),
            63,
        ));
    }
    if s.cronjob.is_some() {
        names.push(("the CronJob".to_string(), format!("{}-cron", s.name), 52));
    }
    if s.share_group().is_some() && s.rollout.is_none() {
        // Its pods carry `controller-revision-hash: <name>-<hash of up to
        // 10>`, a label value (63).
        names.push(("the StatefulSet".to_string(), s.name.clone(), 52));
    }
    if let Some((_, sql)) = migrations::migration(s) {
        names.push((
            "the migrations Job".to_string(),
            migrations::job_name(s, sql),
            63,
        ));
    }
    names
        .into_iter()
        .filter(|(_, name, limit)| name.len() > *limit)
        .max_by_key(|(_, name, limit)| name.len() - limit)
}

fn identity(s: &DeploySpec, p: &mut Problems) {
    if s.name.is_empty() {
        p.add(
            "name",
            "missing: every spec needs a name (a DNS-1035 label like \"telemetry-gateway\")",
        );
    } else if !is_dns1035_label(&s.name) {
        let fix = dns_label_suggestion(&s.name);
        let hint = fix
            .as_ref()
            .map_or(String::new(), |f| format!(", did you mean {f:?}?"));
        let msg = format!(
            "{:?} is not a DNS-1035 label (lowercase letters, digits and '-', starting with a letter, at most 63 characters){hint}",
            s.name
        );
        p.suggest("name", msg, fix);
    } else if let Some((object, derived, limit)) = tightest_derived_name(s) {
        let most = s.name.len() - (derived.len() - limit);
        p.add(
            "name",
            format!(
                "{} characters is too long for this spec: {object} is named {derived:?}, which may have at most {limit}; use at most {most}",
                s.name.len()
            ),
        );
    }
    if let Some(ns) = &s.namespace {
        if !is_dns1123_label(ns) {
            p.suggest(
                "namespace",
                format!("{ns:?} is not a DNS-1123 label"),
                dns_label_suggestion(ns),
            );
        }
    }
    for (path, v) in [
        ("part_of", s.part_of.as_deref().unwrap_or("")),
        ("component", s.component.as_str()),
    ] {
        if !is_label_value(v) {
            p.add(
                path,
                format!(
                    "{v:?} is not a valid label value (alphanumerics, '-', '_', '.', at most 63)"
                ),
            );
        }
    }
}

fn image(s: &DeploySpec, p: &mut Problems) {
    let img = &s.image;
    let repo = &img.repository;
    if repo.is_empty() {
        p.add(
            "image.repository",
            "missing: expected an image repository like \"ghcr.io/acme/gateway\"",
        );
    } else if let Some((r, t)) = repo.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
        let msg =
            format!("{repo:?} contains a tag; set image.repository = {r:?} and image.tag = {t:?}");
        p.suggest("image.repository", msg, Some(r.to_string()));
    } else if repo.contains('@') {
        p.add(
            "image.repository",
            format!("{repo:?} contains a digest; move it to image.digest"),
        );
    } else if !is_repository(repo) {
        let lower = repo.to_ascii_lowercase();
        let fix = (is_repository(&lower) && lower != *repo).then_some(lower);
        p.suggest(
            "image.repository",
            format!(
                "{repo:?} is not an image repository (lowercase path like \"ghcr.io/acme/gateway\")"
            ),
            fix,
        );
    }
    match (&img.tag, &img.digest) {
        (None, None) => p.add("image.tag", "missing: pin the image with a tag (like \"1.4.2\") or a digest"),
        (Some(t), _) if t == "latest" && !img.allow_latest => p.add(
            "image.tag",
            "\"latest\" is not a pinned version; use a release tag or a digest (or set image.allow_latest = true)",
        ),
        (Some(t), _) if !is_tag(t) => {
            p.add("image.tag", format!("{t:?} is not an image tag (letters, digits, '_', '.', '-', at most 128)"))
        }
        _ => {}
    }
    if let Some(d) = &img.digest {
        if !is_digest(d) {
            p.add(
                "image.digest",
                format!("{d:?} is not a digest, expected \"sha256:\" and 64 hex digits"),
            );
        }
    }
    let b = &s.build;
    for (path, v) in [("build.binary", &b.binary), ("build.package", &b.package)] {
        if let Some(v) = v {
            if v.is_empty()
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                p.add(path, format!("{v:?} is not a cargo target name"));
            }
        }
    }
    for (i, f) in b.features.iter().enumerate() {
        if f.is_empty()
            || !f
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/'))
        {
            p.add(
                format!("build.features[{i}]"),
                format!("{f:?} is not a cargo feature name"),
            );
        }
    }
    for (path, d) in [
        ("build.builder_digest", &b.builder_digest),
        ("build.runtime_digest", &b.runtime_digest),
    ] {
        if let Some(d) = d {
            if !is_digest(d) {
                p.add(
                    path,
                    format!("{d:?} is not a digest, expected \"sha256:\" and 64 hex digits"),
                );
            }
        }
    }
    if b.runtime_digest.is_some() && b.runtime == crate::spec::Runtime::Static {
        p.add(
            "build.runtime_digest",
            "the static runtime is `scratch`, which has no digest",
        );
    }
    for (i, l) in b.licenses.iter().enumerate() {
        // An SPDX identifier: letters, digits, `.`, `-`, `+` (it is written
        // into deny.toml and a workflow; nothing else may reach them).
        if l.is_empty()
            || l.len() > 64
            || !l
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
        {
            p.add(
                format!("build.licenses[{i}]"),
                format!("{l:?} is not an SPDX licence identifier like \"Apache-2.0\""),
            );
        }
    }
    let df = &b.dockerfile;
    if df.starts_with('/')
        || df.split('/').any(|c| c.is_empty() || c == "..")
        || df.contains(char::is_whitespace)
    {
        p.add(
            "build.dockerfile",
            format!(
                "{df:?} must be a relative path inside the workspace, like \"deploy/Dockerfile\""
            ),
        );
    }
    let version_ok = |v: &str| {
        let parts: Vec<&str> = v.split('.').collect();
        (2..=3).contains(&parts.len())
            && parts
                .iter()
                .all(|x| !x.is_empty() && x.chars().all(|c| c.is_ascii_digit()))
    };
    for (path, v) in [
        ("build.rust_version", &b.rust_version),
        ("build.cargo_chef_version", &b.cargo_chef_version),
    ] {
        if !version_ok(v) {
            p.add(
                path,
                format!("{v:?} is not a pinned version like \"1.85\" or \"0.1.68\""),
            );
        }
    }
}

fn port(p: &mut Problems, path: &str, port: u32) {
    if !(1..=65535).contains(&port) {
        p.add(
            path,
            format!("{port} is out of range, expected a port from 1 to 65535"),
        );
    } else if port < 1024 {
        p.suggest(
            path,
            format!("{port} is a privileged port; the non-root container (all capabilities dropped) cannot bind it, use 1024 or above, like 8080"),
            Some("8080".into()),
        );
    }
}

fn ports(s: &DeploySpec, p: &mut Problems) {
    port(p, "ports.http", s.ports.http);
    if let Some(m) = s.ports.metrics {
        port(p, "ports.metrics", m);
        if m == s.ports.http {
            p.add(
                "ports.metrics",
                "equals ports.http; leave it out to serve /metrics on the http port",
            );
        }
    }
    if !s.metrics.path.starts_with('/') {
        p.add(
            "metrics.path",
            format!("{:?} must start with '/'", s.metrics.path),
        );
    }
    if !is_duration(&s.metrics.scrape_interval) {
        p.add(
            "metrics.scrape_interval",
            format!(
                "{:?} is not a duration like \"30s\" or \"1m\"",
                s.metrics.scrape_interval
            ),
        );
    }
}

/// Variables the dependencies set (`MQTT_PASSWORD` never is: the password
/// is read from `MQTT_PASSWORD_FILE`).
pub(crate) const DEP_ENV: [&str; 15] = [
    "MQTT_URL",
    "MQTT_HOST",
    "MQTT_PORT",
    "MQTT_CA_FILE",
    "MQTT_CERT_FILE",
    "MQTT_KEY_FILE",
    "MQTT_USERNAME",
    "MQTT_PASSWORD_FILE",
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "POSTGRES_DB",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD_FILE",
    "REDIS_HOST",
    "REDIS_PORT",
];

fn env(s: &DeploySpec, p: &mut Problems) {
    for name in s.env.keys() {
        let path = join("env", name);
        if !is_env_name(name) {
            p.suggest(
                &path,
                format!("{name:?} is not an environment variable name (letters, digits, '_')"),
                env_name_suggestion(name),
            );
        } else if DEP_ENV.contains(&name.as_str()) {
            p.add(
                &path,
                format!("{name} is set from `dependencies`; change the dependency instead"),
            );
        }
    }
    if let Some(dir) = &s.config_dir {
        if !is_abs_path(dir) {
            p.add("config_dir", format!("{dir:?} is not an absolute path"));
        }
    }
    for (name, file) in &s.config_files {
        let path = join("config_files", name);
        if !is_config_key(name) {
            p.add(
                &path,
                format!("{name:?} is not a file name (letters, digits, '-', '_', '.')"),
            );
        }
        match (&file.content, &file.path) {
            (Some(_), Some(_)) => p.add(&path, "has both `content` and `path`; keep one"),
            (None, None) => p.add(
                &path,
                "needs `content` (the text) or `path` (a file next to the spec)",
            ),
            _ => {}
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, secret) in s.secrets.iter().enumerate() {
        let path = format!("secrets[{i}]");
        if !is_dns1123_subdomain(&secret.name) || secret.name.is_empty() {
            p.suggest(
                format!("{path}.name"),
                format!(
                    "{:?} is not a Secret name (DNS-1123 subdomain)",
                    secret.name
                ),
                dns_label_suggestion(&secret.name),
            );
        }
        if secret.keys.is_empty() {
            p.add(
                format!("{path}.keys"),
                "is empty: list the keys the service reads",
            );
        }
        for (j, key) in secret.keys.iter().enumerate() {
            let kp = format!("{path}.keys[{j}]");
            if !is_env_name(key) {
                p.suggest(&kp, format!("{key:?} becomes an environment variable, so it must be a valid name (letters, digits, '_')"), env_name_suggestion(key));
            } else if DEP_ENV.contains(&key.as_str()) {
                p.add(
                    &kp,
                    format!("{key} is set from `dependencies`; change the dependency instead"),
                );
            } else if key == "MQTT_PASSWORD"
                && s.dependencies
                    .mqtt
                    .as_ref()
                    .is_some_and(|m| m.auth() == MqttAuth::Password)
            {
                p.add(
                    &kp,
                    "the MQTT password is mounted as a file (MQTT_PASSWORD_FILE), never an environment variable: put it under key `password` of dependencies.mqtt.password_secret",
                );
            } else if s.env.contains_key(key) || !seen.insert(key.clone()) {
                p.add(
                    &kp,
                    format!("{key} is defined twice (in env or another secret)"),
                );
            }
        }
    }
}

fn resources(s: &DeploySpec, p: &mut Problems) {
    check_resources(&s.resources, "resources", p);
}

/// Checks requests and limits under the field path `base` (`resources`,
/// `dependencies.mqtt.broker.resources`).
pub(crate) fn check_resources(r: &crate::spec::Resources, base: &str, p: &mut Problems) {
    let mut value = |path: &str, q: &Option<String>, m: Measure, limit: bool| -> Option<f64> {
        let q = q.as_deref()?;
        if q == "none" {
            if !limit {
                p.add(
                    path,
                    "\"none\" only removes limits; requests are needed for scheduling",
                );
            }
            return None;
        }
        match check_quantity(q, m) {
            Ok(v) => Some(v),
            Err((msg, fix)) => {
                p.suggest(path, msg, fix);
                None
            }
        }
    };
    let rc = value(
        &format!("{base}.requests.cpu"),
        &r.requests.cpu,
        Measure::Cpu,
        false,
    );
    let rm = value(
        &format!("{base}.requests.memory"),
        &r.requests.memory,
        Measure::Memory,
        false,
    );
    let lc = value(
        &format!("{base}.limits.cpu"),
        &r.limits.cpu,
        Measure::Cpu,
        true,
    );
    let lm = value(
        &format!("{base}.limits.memory"),
        &r.limits.memory,
        Measure::Memory,
        true,
    );
    let eff = |explicit: Option<f64>, q: Option<&str>| {
        explicit.or_else(|| q.and_then(super::parse_quantity))
    };
    let pairs = [
        (
            "cpu",
            eff(rc, r.request_cpu()),
            eff(lc, r.limit_cpu()),
            r.request_cpu(),
            r.limit_cpu(),
        ),
        (
            "memory",
            eff(rm, r.request_memory()),
            eff(lm, r.limit_memory()),
            r.request_memory(),
            r.limit_memory(),
        ),
    ];
    for (what, req, lim, rq, lq) in pairs {
        if let (Some(a), Some(b), Some(rq), Some(lq)) = (req, lim, rq, lq) {
            if a > b {
                p.add(
                    format!("{base}.limits.{what}"),
                    format!("the {what} limit {lq:?} is below the request {rq:?}"),
                );
            }
        }
    }
}

fn scaling_and_probes(s: &DeploySpec, p: &mut Problems) {
    if s.scaling.replicas == 0 {
        p.add(
            "scaling.replicas",
            "0 replicas runs nothing; expected 1 or more",
        );
    }
    if let Some(a) = &s.scaling.autoscale {
        if a.min == 0 {
            p.add("scaling.autoscale.min", "expected 1 or more");
        }
        if a.max < a.min {
            p.add(
                "scaling.autoscale.max",
                format!("{} is below min ({})", a.max, a.min),
            );
        }
        if !(1..=100).contains(&a.cpu_percent) {
            p.add(
                "scaling.autoscale.cpu_percent",
                format!("{} is out of range, expected 1 to 100", a.cpu_percent),
            );
        }
    }
    for (kind, name) in [
        (ProbeKind::Liveness, "liveness"),
        (ProbeKind::Readiness, "readiness"),
        (ProbeKind::Startup, "startup"),
    ] {
        let r = s.probes.resolved(kind);
        let base = format!("probes.{name}");
        if !r.path.starts_with('/') {
            p.add(
                format!("{base}.path"),
                format!("{:?} must start with '/'", r.path),
            );
        }
        for (field, v) in [
            ("period_seconds", r.period_seconds),
            ("timeout_seconds", r.timeout_seconds),
            ("failure_threshold", r.failure_threshold),
        ] {
            if v == 0 {
                p.add(format!("{base}.{field}"), "expected 1 or more");
            }
        }
        if r.timeout_seconds > r.period_seconds && r.period_seconds > 0 {
            p.add(
                format!("{base}.timeout_seconds"),
                format!(
                    "{} s is longer than the period ({} s)",
                    r.timeout_seconds, r.period_seconds
                ),
            );
        }
    }
    if s.drain_seconds > 3600 {
        p.add(
            "drain_seconds",
            format!(
                "{} is more than an hour; expected 0 to 3600",
                s.drain_seconds
            ),
        );
    }
}

fn host(p: &mut Problems, path: String, h: &str) {
    if h.parse::<std::net::IpAddr>().is_err() && !is_dns1123_subdomain(h) {
        p.add(path, format!("{h:?} is not a host name or IP address"));
    }
}

fn pinned_image(p: &mut Problems, path: String, image: &str) {
    if let Some(c) = image.chars().find(|c| c.is_whitespace() || c.is_control()) {
        let what = match c {
            '\n' | '\r' => "a line break".to_string(),
            c if c.is_control() => format!("the control character U+{:04X}", c as u32),
            _ => "whitespace".to_string(),
        };
        p.add(
            path,
            format!("{image:?} contains {what}; expected an image reference like \"eclipse-mosquitto:2.0.20\""),
        );
        return;
    }
    let tag = image
        .rsplit_once(':')
        .map(|(_, t)| t)
        .filter(|t| !t.contains('/'));
    match tag {
        None => p.add(path, format!("{image:?} has no tag; pin a version")),
        Some("latest") => p.add(path, format!("{image:?} uses latest; pin a version")),
        _ => {}
    }
}

fn dependencies(s: &DeploySpec, p: &mut Problems) {
    let d = &s.dependencies;
    let mut common = |name: &str, h: &str, prt: u32, cidr: &Option<String>, image: &str| {
        let base = format!("dependencies.{name}");
        host(p, format!("{base}.host"), h);
        if !(1..=65535).contains(&prt) {
            p.add(
                format!("{base}.port"),
                format!("{prt} is out of range, expected a port from 1 to 65535"),
            );
        }
        if let Some(c) = cidr {
            if !is_cidr(c) {
                p.add(
                    format!("{base}.cidr"),
                    format!("{c:?} is not a CIDR like \"10.0.0.0/8\""),
                );
            }
        }
        pinned_image(p, format!("{base}.image"), image);
    };
    if let Some(m) = &d.mqtt {
        common("mqtt", &m.host, m.port, &m.cidr, &m.image);
    }
    if let Some(r) = &d.redis {
        common("redis", &r.host, r.port, &r.cidr, &r.image);
    }
    if let Some(pg) = &d.postgres {
        common("postgres", &pg.host, pg.port, &pg.cidr, &pg.image);
        pg_names(pg, p);
    }
    if let Some(m) = &d.mqtt {
        super::mqtt::check(s, m, p);
    }
}

/// PostgreSQL's database and user: plain identifiers.
fn pg_names(pg: &crate::spec::Postgres, p: &mut Problems) {
    let ident = |v: &str| {
        v.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && v.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    for (f, v) in [("database", &pg.database), ("user", &pg.user)] {
        if !ident(v) {
            p.add(
                format!("dependencies.postgres.{f}"),
                format!("{v:?} is not a plain identifier (lowercase letters, digits, '_')"),
            );
        }
    }
    if let Some(v) = pg
        .password_secret
        .as_deref()
        .filter(|v| !is_dns1123_subdomain(v))
    {
        p.add(
            "dependencies.postgres.password_secret",
            format!("{v:?} is not a Secret name (DNS-1123 subdomain)"),
        );
    }
    if let Some(m) = &pg.migrations {
        let ok = !m.trim().is_empty()
            && !m.starts_with('/')
            && control_char(m).is_none()
            && m.ends_with(".sql");
        if !ok {
            p.add(
                "dependencies.postgres.migrations",
                format!(
                    "{m:?} is not a path to a .sql file relative to the spec, like \"migrations/schema.sql\""
                ),
            );
        }
    }
}

fn extras(s: &DeploySpec, p: &mut Problems) {
    if let Some(ing) = &s.ingress {
        let h = ing.host.strip_prefix("*.").unwrap_or(&ing.host);
        if ing.host.is_empty() {
            p.add(
                "ingress.host",
                "missing: expected the public host name, like \"gateway.example.com\"",
            );
        } else if !is_dns1123_subdomain(h) || !h.contains('.') {
            p.add(
                "ingress.host",
                format!("{:?} is not a fully qualified host name", ing.host),
            );
        }
        if let Some(t) = &ing.tls_secret {
            if !is_dns1123_subdomain(t) {
                p.add(
                    "ingress.tls_secret",
                    format!("{t:?} is not a Secret name (DNS-1123 subdomain)"),
                );
            }
        }
        if let Some(c) = &ing.class {
            if !is_dns1123_subdomain(c) {
                p.add(
                    "ingress.class",
                    format!("{c:?} is not an IngressClass name"),
                );
            }
        }
    }
    if let Some(c) = &s.cronjob {
        if !is_cron(&c.schedule) {
            p.add(
                "cronjob.schedule",
                format!(
                    "{:?} is not a cron schedule, expected five fields like \"0 3 * * *\"",
                    c.schedule
                ),
            );
        }
        if c.args.is_empty() {
            p.add(
                "cronjob.args",
                "is empty: give the arguments the job passes to the binary",
            );
        }
    }
    let a = &s.alerts;
    for (f, v) in [
        ("error_ratio", a.error_ratio),
        ("devices_offline_ratio", a.devices_offline_ratio),
    ] {
        if !(v > 0.0 && v <= 1.0) {
            p.add(
                format!("alerts.{f}"),
                format!("{v} is out of range, expected a ratio above 0 and at most 1"),
            );
        }
    }
    for (f, v) in [
        ("p95_latency_seconds", a.p95_latency_seconds),
        ("decode_errors_per_second", a.decode_errors_per_second),
        ("rate_limited_per_second", a.rate_limited_per_second),
    ] {
        if v <= 0.0 {
            p.add(
                format!("alerts.{f}"),
                format!("{v} must be greater than zero"),
            );
        }
    }
    if s.hardening.run_as_user > i32::MAX as u32 {
        p.add("hardening.run_as_user", "is above 2147483647");
    }
    if s.compose.env_file.is_empty() || s.compose.env_file.contains(char::is_whitespace) {
        p.add("compose.env_file", "expected a file name like \".env\"");
    }
    for (f, v) in [
        ("systemd.exec_path", &s.systemd.exec_path),
        ("systemd.environment_file", &s.systemd.environment_file),
    ] {
        if let Some(v) = v {
            if !is_abs_path(v) {
                p.add(f, format!("{v:?} is not an absolute path"));
            }
        }
    }
}
