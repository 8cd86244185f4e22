//! The service's side of the broker: the environment variables it reads
//! and the files mounted for it (CA, client certificate and key, password),
//! the same in compose, Kubernetes and Helm.
//!
//! Secrets never travel as values: the password and the key are files in
//! a read-only mount, and the environment only says where they are.

use crate::spec::{Mqtt, MqttAuth, TlsMode};

/// Where the service's MQTT files are mounted, read-only.
pub const SECRETS_DIR: &str = "/run/secrets/mqtt";
/// The CA the service trusts (TLS).
pub const CA_KEY: &str = "ca.crt";
/// The service's client certificate (mutual TLS).
pub const CERT_KEY: &str = "tls.crt";
/// The service's client key (mutual TLS).
pub const KEY_KEY: &str = "tls.key";
/// The service's password (password auth).
pub const PASSWORD_KEY: &str = "password";

/// The file names (also the Secret keys) the service needs, in mount order:
/// the TLS ones from the client TLS Secret, then the password.
pub fn tls_keys(m: &Mqtt) -> Vec<&'static str> {
    match m.tls_mode() {
        None => Vec::new(),
        Some(TlsMode::Server) => vec![CA_KEY],
        Some(TlsMode::Mutual) => vec![CA_KEY, CERT_KEY, KEY_KEY],
    }
}

/// Whether the service reads its password from a file.
pub fn needs_password(m: &Mqtt) -> bool {
    m.auth() == MqttAuth::Password
}

/// Whether anything is mounted at [`SECRETS_DIR`].
pub fn has_files(m: &Mqtt) -> bool {
    needs_password(m) || m.tls.is_some()
}

fn path(key: &str) -> String {
    format!("{SECRETS_DIR}/{key}")
}

/// The variables, in order: `MQTT_URL` (`mqtts://` with TLS), `MQTT_HOST`
/// and `MQTT_PORT` (the same endpoint, for older readers), the file paths
/// (`MQTT_CA_FILE`, `MQTT_CERT_FILE`, `MQTT_KEY_FILE`) and, with password
/// auth, `MQTT_USERNAME` and `MQTT_PASSWORD_FILE`. `host` is where the
/// service finds the broker (compose uses its `mosquitto` service).
pub fn env(m: &Mqtt, service: &str, host: &str) -> Vec<(&'static str, String)> {
    let port = m.client_port();
    let scheme = if m.tls.is_some() { "mqtts" } else { "mqtt" };
    let mut out = vec![
        ("MQTT_URL", format!("{scheme}://{host}:{port}")),
        ("MQTT_HOST", host.to_string()),
        ("MQTT_PORT", port.to_string()),
    ];
    let names = [
        (CA_KEY, "MQTT_CA_FILE"),
        (CERT_KEY, "MQTT_CERT_FILE"),
        (KEY_KEY, "MQTT_KEY_FILE"),
    ];
    for key in tls_keys(m) {
        if let Some((_, var)) = names.iter().find(|(k, _)| *k == key) {
            out.push((var, path(key)));
        }
    }
    if needs_password(m) {
        out.push(("MQTT_USERNAME", m.username_for(service)));
        out.push(("MQTT_PASSWORD_FILE", path(PASSWORD_KEY)));
    }
    out
}
