//! Rules for `dependencies.mqtt`: the strings that end up inside
//! `mosquitto.conf`, the ACL file and certificates, and the combinations of
//! TLS mode, authentication and plaintext listener that make sense.

use super::Problems;
use super::names::is_dns1123_subdomain;
use crate::generate::mosquitto::HEALTH_PORT;
use crate::spec::{DeploySpec, IssuerKind, Mqtt, MqttAuth, Plaintext, TlsMode};

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

/// Every rule for the broker dependency of `s`.
pub(crate) fn check(s: &DeploySpec, m: &Mqtt, p: &mut Problems) {
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
        if m.plaintext() == Plaintext::Off {
            p.add(
                format!("{BASE}.plaintext"),
                "\"off\" leaves no listener without TLS: add [dependencies.mqtt.tls]",
            );
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
