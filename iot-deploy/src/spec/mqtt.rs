//! The MQTT broker dependency: where it is, how clients authenticate, TLS,
//! and the topic prefix its ACL protects.

use serde::{Deserialize, Serialize};

use super::{Broker, ShareGroup};

/// An MQTT broker (Mosquitto in compose).
///
/// Without `tls` the broker behaves as before TLS existed: one plaintext
/// listener on every interface of its container (reported by `check` as
/// ID008). With `tls`, clients use the TLS listener and the plaintext one is
/// bound to the container's loopback unless `plaintext` says otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Mqtt {
    /// Host name in Kubernetes (compose always uses its `mosquitto` service).
    pub host: String,
    /// The plaintext listener's port.
    pub port: u32,
    /// How clients authenticate; defaults to `password`, or `certificate`
    /// with mutual TLS.
    pub auth: Option<MqttAuth>,
    /// Restrict the egress rule to this CIDR.
    pub cidr: Option<String>,
    /// The compose image.
    pub image: String,
    /// The topic prefix (one or more levels) the ACL grants access under.
    pub prefix: String,
    /// The MQTT user name the service connects as (password auth), or the
    /// common name of its client certificate (mutual TLS); it has the
    /// gateway role in the ACL. Defaults to the service name.
    pub username: Option<String>,
    /// More user names with the gateway role in the ACL.
    pub gateway_users: Vec<String>,
    /// Where the plaintext listener listens; defaults to `all` without TLS,
    /// `loopback` with server TLS and `off` with mutual TLS.
    pub plaintext: Option<Plaintext>,
    /// The Kubernetes Secret holding the service's MQTT password (key
    /// `password`), for password auth. Defaults to `<name>-mqtt`.
    pub password_secret: Option<String>,
    /// The TLS listener.
    pub tls: Option<MqttTls>,
    /// The broker iot-deploy runs: where (compose always; Kubernetes when
    /// asked), its storage, resources, device networks and durability.
    pub broker: Broker,
    /// The service consumes through a `$share` group: each replica gets a
    /// stable client id.
    pub share_group: Option<ShareGroup>,
}

impl Default for Mqtt {
    fn default() -> Self {
        Mqtt {
            host: "mosquitto".into(),
            port: 1883,
            auth: None,
            cidr: None,
            image: "eclipse-mosquitto:2.0.20".into(),
            prefix: "iot".into(),
            username: None,
            gateway_users: Vec::new(),
            plaintext: None,
            password_secret: None,
            tls: None,
            broker: Broker::default(),
            share_group: None,
        }
    }
}

impl Mqtt {
    /// The authentication in effect: the explicit one, else `certificate`
    /// with mutual TLS, else `password`.
    pub fn auth(&self) -> MqttAuth {
        match (self.auth, &self.tls) {
            (Some(a), _) => a,
            (None, Some(t)) if t.mode == TlsMode::Mutual => MqttAuth::Certificate,
            (None, _) => MqttAuth::Password,
        }
    }

    /// Where the plaintext listener listens, defaults applied.
    pub fn plaintext(&self) -> Plaintext {
        match (self.plaintext, &self.tls) {
            (Some(p), _) => p,
            (None, None) => Plaintext::All,
            (None, Some(t)) if t.mode == TlsMode::Mutual => Plaintext::Off,
            (None, Some(_)) => Plaintext::Loopback,
        }
    }

    /// Whether an ACL file restricts each client to its topics (every mode
    /// that knows who the client is).
    pub fn has_acl(&self) -> bool {
        self.auth() != MqttAuth::Anonymous
    }

    /// The TLS mode, if TLS is on.
    pub fn tls_mode(&self) -> Option<TlsMode> {
        self.tls.as_ref().map(|t| t.mode)
    }

    /// The port clients of the service connect to: TLS when on.
    pub fn client_port(&self) -> u32 {
        self.tls.as_ref().map_or(self.port, |t| t.port)
    }

    /// The service's user name (`service` is the spec's name, the default).
    pub fn username_for(&self, service: &str) -> String {
        or_default(&self.username, service, "")
    }

    /// The Secret with the service's password.
    pub fn password_secret_for(&self, service: &str) -> String {
        or_default(&self.password_secret, service, "-mqtt")
    }

    /// The name of the broker's Service in `namespace`, when `host` names
    /// one there: `<svc>`, `<svc>.<namespace>`, `<svc>.<namespace>.svc` or
    /// `<svc>.<namespace>.svc.cluster.local`.
    pub fn local_service(&self, namespace: &str) -> Option<&str> {
        let (svc, rest) = self.host.split_once('.').unwrap_or((&self.host, ""));
        let local = rest.is_empty()
            || [
                namespace.to_string(),
                format!("{namespace}.svc"),
                format!("{namespace}.svc.cluster.local"),
            ]
            .contains(&rest.to_string());
        (local && !svc.is_empty()).then_some(svc)
    }

    /// Whether iot-deploy runs the broker in Kubernetes (and Kustomize and
    /// Helm) for a service in `namespace`: as `broker.kubernetes` says,
    /// else when `host` names a Service there and no `cidr` is set.
    pub fn broker_in_cluster(&self, namespace: &str) -> bool {
        self.broker
            .kubernetes
            .unwrap_or_else(|| self.cidr.is_none() && self.local_service(namespace).is_some())
    }

    /// The ports clients reach the broker on, named: `mqtts` (TLS) and,
    /// when the plaintext listener is on every interface, `mqtt`.
    pub fn client_ports(&self) -> Vec<(&'static str, u32)> {
        let mut out = Vec::new();
        if let Some(t) = &self.tls {
            out.push(("mqtts", t.port));
        }
        if self.plaintext() == Plaintext::All {
            out.push(("mqtt", self.port));
        }
        out
    }
}

/// The explicit value, else `<service><suffix>`.
fn or_default(v: &Option<String>, service: &str, suffix: &str) -> String {
    v.clone().unwrap_or_else(|| format!("{service}{suffix}"))
}

/// Mosquitto's authentication, stated explicitly (2.0 refuses anonymous
/// clients unless told otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum MqttAuth {
    /// A password file (`mosquitto_passwd`); anonymous clients refused.
    Password,
    /// Anonymous clients allowed (local development only).
    Anonymous,
    /// The client certificate's common name is the user name (mutual TLS only).
    Certificate,
}

impl MqttAuth {
    /// The spec spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MqttAuth::Password => "password",
            MqttAuth::Anonymous => "anonymous",
            MqttAuth::Certificate => "certificate",
        }
    }
}

/// Where the plaintext listener listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Plaintext {
    /// The broker container's loopback only (tools run inside it).
    Loopback,
    /// Every interface: other containers and the published port.
    All,
    /// No plaintext listener.
    Off,
}

/// The broker's TLS listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MqttTls {
    /// `server`: the broker proves itself; `mutual`: clients too.
    pub mode: TlsMode,
    /// The TLS listener's port.
    pub port: u32,
    /// The Kubernetes Secret (`ca.crt`, `tls.crt`, `tls.key`) with the
    /// broker's certificate; defaults to `<name>-mqtt-broker-tls`.
    pub broker_secret: Option<String>,
    /// The Kubernetes Secret with the CA the service trusts (`ca.crt`) and,
    /// with mutual TLS, its client certificate (`tls.crt`, `tls.key`);
    /// defaults to `<name>-mqtt-tls`.
    pub client_secret: Option<String>,
    /// cert-manager objects issuing both certificates.
    pub cert_manager: Option<CertManager>,
}

impl MqttTls {
    /// The Secret with the broker's certificate.
    pub fn broker_secret_for(&self, service: &str) -> String {
        or_default(&self.broker_secret, service, "-mqtt-broker-tls")
    }

    /// The Secret the service mounts its CA (and client certificate) from.
    pub fn client_secret_for(&self, service: &str) -> String {
        or_default(&self.client_secret, service, "-mqtt-tls")
    }
}

impl Default for MqttTls {
    fn default() -> Self {
        MqttTls {
            mode: TlsMode::Server,
            port: 8883,
            broker_secret: None,
            client_secret: None,
            cert_manager: None,
        }
    }
}

/// Who presents a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TlsMode {
    /// The broker only; clients authenticate with a password.
    #[default]
    Server,
    /// The broker and every client; the certificate's CN is the user name.
    Mutual,
}

impl TlsMode {
    /// The spec spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Server => "server",
            TlsMode::Mutual => "mutual",
        }
    }
}

/// cert-manager `Certificate` objects for the broker and the service, from
/// an `Issuer` this spec creates (a CA issuer) or one that exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CertManager {
    /// The issuer's name; defaults to `<name>-mqtt-ca`.
    pub issuer: Option<String>,
    /// `Issuer` (generated, a CA issuer in the namespace) or
    /// `ClusterIssuer` (referenced, never generated).
    pub issuer_kind: IssuerKind,
    /// The Secret with the CA's `tls.crt` and `tls.key` that the generated
    /// `Issuer` signs with; defaults to `<name>-mqtt-ca`.
    pub ca_secret: Option<String>,
}

impl CertManager {
    /// The issuer's name.
    pub fn issuer_for(&self, service: &str) -> String {
        or_default(&self.issuer, service, "-mqtt-ca")
    }

    /// The CA Secret of the generated issuer.
    pub fn ca_secret_for(&self, service: &str) -> String {
        or_default(&self.ca_secret, service, "-mqtt-ca")
    }
}

impl Default for CertManager {
    fn default() -> Self {
        CertManager {
            issuer: None,
            issuer_kind: IssuerKind::Issuer,
            ca_secret: None,
        }
    }
}

/// The kind of cert-manager issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum IssuerKind {
    /// A namespaced CA `Issuer`, generated.
    #[default]
    Issuer,
    /// An existing `ClusterIssuer`.
    ClusterIssuer,
}

impl IssuerKind {
    /// The Kubernetes kind.
    pub fn as_str(self) -> &'static str {
        match self {
            IssuerKind::Issuer => "Issuer",
            IssuerKind::ClusterIssuer => "ClusterIssuer",
        }
    }
}
