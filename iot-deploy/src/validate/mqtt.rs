//! Rules for `dependencies.mqtt`: the strings that end up inside
//! `mosquitto.conf`, the ACL file and certificates, and the combinations of
//! TLS mode, authentication and plaintext listener that make sense.

use super::Problems;
use super::names::{is_cidr, is_dns1035_label, is_dns1123_subdomain, is_env_name};
use super::quantity::{Measure, check as check_quantity};
use crate::generate::mosquitto::HEALTH_PORT;
use crate::spec::{
    DeploySpec, IssuerKind, MAX_INFLIGHT, MAX_QUEUE, Mqtt, MqttAuth, Plaintext, TlsMode,
};

const BASE: &str = "dependencies.mqtt";

/// Why `c` may not appear in a topic level or user name, if it may not.
/// The allowed set is deliberately small: these strings are written into
/// line-oriented files (`mosquitto.conf`, the ACL) and into topic filters,
/// so nothing in them may start a new line, a comment, a wildcard or an
/// ACL substitution.
fn refused(c: char) -> Option<String> {
    match c {
        'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => None,
        '+' | '#' => Some(format!("the MQTT wildcard {c:?}")),
        '\0' => Some("a NUL character".into()),
        '\n' | '\r' => Some("a line break".into()),
        '%' => Some("'%' (an ACL pattern substitution)".into()),
        '$' => Some("'$' (reserved for broker topics like $SYS)".into()),
        c if c.is_control() => Some(format!("the control character U+{:04X}", c as u32)),
        c if c.is_whitespace() => Some("whitespace".into()),
        c => Some(format!("{c:?}")),
    }
}

/// Checks a topic prefix: one or more non-empty levels of safe characters.
pub(crate) fn topic_prefix_problem(v: &str) -> Option<String> {
    if v.is_empty() {
        return Some("is empty".into());
    }
    if v.len() > 256 {
        return Some(format!("is {} bytes long, at most 256", v.len()));
    }
    for level in v.split('/') {
        if level.is_empty() {
            return Some("has an empty level (a leading, trailing or doubled '/')".into());
        }
        if let Some(why) = level.chars().find_map(refused) {
            return Some(format!("contains {why}"));
        }
    }
    None
}

/// Checks an MQTT user name (also a certificate common name).
fn user_problem(v: &str) -> Option<String> {
    if v.is_empty() {
        return Some("is empty".into());
    }
    if v.len() > 64 {
        return Some(format!(
            "is {} bytes long, at most 64 (a certificate common name)",
            v.len()
        ));
    }
    v.chars()
        .find_map(|c| if c == '@' { None } else { refused(c) })
        .map(|why| format!("contains {why}"))
}

fn port(p: &mut Problems, path: String, v: u32) {
    if !(1..=65535).contains(&v) {
        p.add(
            path,
            format!("{v} is out of range, expected a port from 1 to 65535"),
        );
    } else if v == HEALTH_PORT {
        p.add(
            path,
            format!("{v} is the broker's health-check listener; pick another port"),
        );
    }
}

fn secret_name(p: &mut Problems, path: &str, v: &Option<String>) {
    if let Some(v) = v {
        if !is_dns1123_subdomain(v) {
            p.add(
                path,
                format!("{v:?} is not a Secret name (DNS-1123 subdomain)"),
            );
        }
    }
}

/// Where the broker runs in Kubernetes: `host` must name the Service it
/// gets, which must not collide with the service's own objects; no `cidr`.
fn placement(s: &DeploySpec, m: &Mqtt, p: &mut Problems) {
    let bp = format!("{BASE}.broker");
    let ns = s.namespace();
    if !m.broker_in_cluster(ns) {
        return;
    }
    let Some(svc) = m.local_service(ns) else {
        p.add(
            format!("{BASE}.host"),
            format!(
                "{:?} is not a Service of namespace {ns:?}, where {bp}.kubernetes = true runs the broker; use a Service name like \"mosquitto\" (or \"mosquitto.{ns}.svc\"), or set {bp}.kubernetes = false for a broker elsewhere",
                m.host
            ),
        );
        return;
    };
    if !is_dns1035_label(svc) {
        p.add(
            format!("{BASE}.host"),
            format!("{svc:?} would name the broker's Service, which must be a DNS-1035 label (lowercase letters, digits, '-', starting with a letter)"),
        );
    } else if svc.len() > 52 {
        // Its StatefulSet's pods carry `controller-revision-hash:
        // <name>-<hash of up to 10>` (a label, 63), and `<name>-headless`
        // is a Service too.
        p.add(
            format!("{BASE}.host"),
            format!(
                "{svc:?} ({} characters) would name the broker's StatefulSet, which may have at most 52",
                svc.len()
            ),
        );
    }
    let own = [s.name.clone(), crate::generate::k8s::headless_name(s)];
    let broker = [
        svc.to_string(),
        format!("{svc}-headless"),
        format!("{svc}-config"),
    ];
    if let Some(clash) = broker.iter().find(|b| own.contains(b)) {
        p.add(
            format!("{BASE}.host"),
            format!("the broker's objects would be named {clash:?}, like the service's own; pick another Service name for the broker"),
        );
    }
    if let Some(c) = &m.cidr {
        p.add(
            format!("{BASE}.cidr"),
            format!("{c:?} restricts egress to a network, but the broker runs in the cluster and is reached by pod selector; remove cidr, or set {bp}.kubernetes = false"),
        );
    }
}

/// The broker's own fields: names, storage, resources, device networks,
/// the queue sizing and the autosave policy.
fn broker(s: &DeploySpec, m: &Mqtt, p: &mut Problems) {
    let b = &m.broker;
    let bp = format!("{BASE}.broker");
    secret_name(p, &format!("{bp}.auth_secret"), &b.auth_secret);
    if let Some(c) = &b.storage_class {
        if !is_dns1123_subdomain(c) {
            p.add(
                format!("{bp}.storage_class"),
                format!("{c:?} is not a StorageClass name (DNS-1123 subdomain)"),
            );
        }
    }
    if let Err((msg, fix)) = check_quantity(&b.storage, Measure::Memory) {
        p.suggest(format!("{bp}.storage"), msg, fix);
    }
    super::rules::check_resources(&b.resources, &format!("{bp}.resources"), p);
    for (i, c) in b.device_cidrs.iter().enumerate() {
        if !is_cidr(c) {
            p.add(
                format!("{bp}.device_cidrs[{i}]"),
                format!("{c:?} is not a CIDR like \"10.8.0.0/16\""),
            );
        }
    }
    for (field, v) in [
        ("devices", b.devices),
        ("device_messages_per_minute", b.device_messages_per_minute),
    ] {
        if v == 0 {
            p.add(
                format!("{bp}.{field}"),
                "expected 1 or more (the queues are sized from it)",
            );
        }
    }
    let consumers = s.mqtt_consumers();
    match b.max_queued_messages {
        Some(0) => p.add(
            format!("{bp}.max_queued_messages"),
            "0 lifts the limit: an offline consumer's queue would grow until the broker runs out of memory; give a number, or leave it out to size it from devices, device_messages_per_minute and consumer_outage_seconds",
        ),
        Some(q) if u64::from(q) > MAX_QUEUE => p.add(
            format!("{bp}.max_queued_messages"),
            format!("{q} is more than {MAX_QUEUE} messages per client, which Mosquitto keeps in memory"),
        ),
        Some(_) => {}
        None => {
            let q = b.derived_queue(consumers);
            if q > MAX_QUEUE {
                p.add(
                    format!("{bp}.consumer_outage_seconds"),
                    format!(
                        "{} s of {} devices x {}/min is {q} messages for each of {consumers} consumer(s), more than the {MAX_QUEUE} a broker holds in memory; shorten the outage, add replicas to the share group, or set max_queued_messages",
                        b.consumer_outage_seconds, b.devices, b.device_messages_per_minute
                    ),
                );
            }
        }
    }
    if let Some(f) = b.max_inflight_messages {
        if f == 0 || u64::from(f) > MAX_INFLIGHT {
            p.add(
                format!("{bp}.max_inflight_messages"),
                format!("{f} is out of range, expected 1 to {MAX_INFLIGHT}"),
            );
        }
    }
    if b.autosave_interval == 0 {
        p.add(
            format!("{bp}.autosave_interval"),
            "0 turns autosave off: Mosquitto would save only at a clean shutdown, and a crash would lose every session and queued message since the start; expected 1 or more",
        );
    }
    match b.persistent_client_expiration_hours {
        Some(0) => p.add(
            format!("{bp}.persistent_client_expiration_hours"),
            "expected 1 or more (leave it out for sessions that never expire)",
        ),
        Some(h) if u64::from(h) * 3600 < u64::from(b.consumer_outage_seconds) => p.add(
            format!("{bp}.persistent_client_expiration_hours"),
            format!(
                "{h} h is shorter than consumer_outage_seconds ({} s): a consumer away that long would lose its session and queue",
                b.consumer_outage_seconds
            ),
        ),
        _ => {}
    }
}

/// The share group's client-id variable: a name, and not one set elsewhere.
fn share_group(s: &DeploySpec, m: &Mqtt, p: &mut Problems) {
    let Some(g) = &m.share_group else {
        return;
    };
    let path = format!("{BASE}.share_group.client_id_env");
    let v = &g.client_id_env;
    if !is_env_name(v) {
        p.add(
            path,
            format!("{v:?} is not an environment variable name (letters, digits, '_')"),
        );
    } else if super::rules::DEP_ENV.contains(&v.as_str()) {
        p.add(path, format!("{v} is set from the MQTT dependency itself"));
    } else if s.env.contains_key(v) || s.secrets.iter().any(|x| x.keys.contains(v)) {
        p.add(
            path,
            format!("{v} is also set in env or secrets; the pod name is its value"),
        );
    }
}

/// Every rule for the broker dependency of `s`.
pub(crate) fn check(s: &DeploySpec, m: &Mqtt, p: &mut Problems) {
    placement(s, m, p);
    broker(s, m, p);
    share_group(s, m, p);
    if let Some(why) = topic_prefix_problem(&m.prefix) {
        p.add(
            format!("{BASE}.prefix"),
            format!(
                "{:?} {why}; expected topic levels of letters, digits, '-', '_' and '.' separated by '/', like \"acme/plant-1\"",
                m.prefix
            ),
        );
    }
    let user = m.username_for(&s.name);
    let users = std::iter::once((format!("{BASE}.username"), &user)).chain(
        m.gateway_users
            .iter()
            .enumerate()
            .map(|(i, u)| (format!("{BASE}.gateway_users[{i}]"), u)),
    );
    for (path, u) in users {
        if let Some(why) = user_problem(u) {
            p.add(
                path,
                format!(
                    "{u:?} {why}; expected an MQTT user name of letters, digits, '-', '_', '.' and '@'"
                ),
            );
        }
    }
    if m.port == HEALTH_PORT {
        port(p, format!("{BASE}.port"), m.port);
    }
    secret_name(p, &format!("{BASE}.password_secret"), &m.password_secret);
    let auth = m.auth();
    let Some(tls) = &m.tls else {
        if auth == MqttAuth::Certificate {
            p.add(
                format!("{BASE}.auth"),
                "\"certificate\" needs mutual TLS: add [dependencies.mqtt.tls] with mode = \"mutual\"",
            );
        }
        match m.plaintext() {
            Plaintext::Off => p.add(
                format!("{BASE}.plaintext"),
                "\"off\" leaves no listener without TLS: add [dependencies.mqtt.tls]",
            ),
            Plaintext::Loopback => p.add(
                format!("{BASE}.plaintext"),
                "\"loopback\" without TLS leaves the broker no listener the service can reach: add [dependencies.mqtt.tls], or set plaintext = \"all\"",
            ),
            _ => {}
        }
        return;
    };
    let tp = format!("{BASE}.tls");
    port(p, format!("{tp}.port"), tls.port);
    if tls.port == m.port && m.plaintext() != Plaintext::Off {
        p.add(
            format!("{tp}.port"),
            format!("{} is also the plaintext port", tls.port),
        );
    }
    match (tls.mode, auth) {
        (TlsMode::Mutual, MqttAuth::Certificate) | (TlsMode::Server, MqttAuth::Password) => {}
        (TlsMode::Server, MqttAuth::Anonymous) => {}
        (TlsMode::Server, MqttAuth::Certificate) => p.add(
            format!("{BASE}.auth"),
            "\"certificate\" needs mode = \"mutual\" in [dependencies.mqtt.tls]",
        ),
        (TlsMode::Mutual, other) => p.add(
            format!("{BASE}.auth"),
            format!(
                "{:?} cannot be combined with mutual TLS, where the certificate's common name is the user name; leave auth out (or set \"certificate\")",
                other.as_str()
            ),
        ),
    }
    if tls.mode == TlsMode::Mutual && m.plaintext() != Plaintext::Off {
        p.add(
            format!("{BASE}.plaintext"),
            "a plaintext listener has no client certificate to take the user name from; set plaintext = \"off\" with mutual TLS",
        );
    }
    secret_name(p, &format!("{tp}.broker_secret"), &tls.broker_secret);
    secret_name(p, &format!("{tp}.client_secret"), &tls.client_secret);
    if let Some(cm) = &tls.cert_manager {
        let cp = format!("{tp}.cert_manager");
        secret_name(p, &format!("{cp}.issuer"), &cm.issuer);
        secret_name(p, &format!("{cp}.ca_secret"), &cm.ca_secret);
        if cm.issuer_kind == IssuerKind::ClusterIssuer && cm.ca_secret.is_some() {
            p.add(
                format!("{cp}.ca_secret"),
                "only a generated Issuer signs with ca_secret; a ClusterIssuer is referenced as it is",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        for ok in ["iot", "acme/plant-1", "a.b_c-d/e"] {
            assert_eq!(topic_prefix_problem(ok), None, "{ok}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("iot/", "empty level"),
            ("/iot", "empty level"),
            ("a//b", "empty level"),
            ("iot/+", "wildcard"),
            ("iot/#", "wildcard"),
            ("iot\nuser x", "line break"),
            ("io\0t", "NUL"),
            ("iot %u", "whitespace"),
            ("iot%u", "substitution"),
            ("$SYS", "reserved"),
        ] {
            let got = topic_prefix_problem(bad).unwrap_or_default();
            assert!(got.contains(why), "{bad:?}: {got}");
        }
    }

    #[test]
    fn users() {
        assert_eq!(user_problem("gateway-1@site.a"), None);
        assert!(user_problem("a b").is_some());
        assert!(user_problem("a/b").is_some());
        assert!(user_problem(&"x".repeat(65)).is_some());
    }
}
