//! cert-manager objects for the MQTT broker and the service: a CA `Issuer`
//! (unless a `ClusterIssuer` is referenced), the broker's server
//! certificate and the service's client certificate.
//!
//! These kinds are not in k8s-openapi; they are checked against the
//! cert-manager CRD schemas by the validator tests instead.

use super::{Meta, meta};
use crate::emit::{Value, to_value};
use crate::spec::{DeploySpec, IssuerKind, Mqtt, MqttTls};

/// cert-manager's API version.
pub const API_VERSION: &str = "cert-manager.io/v1";
/// Certificate lifetime: 90 days, renewed 15 days before the end.
pub const DURATION: &str = "2160h";
/// When cert-manager renews.
pub const RENEW_BEFORE: &str = "360h";

/// The name of the broker's Certificate object.
pub fn broker_certificate_name(spec: &DeploySpec) -> String {
    format!("{}-mqtt-broker", spec.name)
}

/// The name of the service's client Certificate object.
pub fn client_certificate_name(spec: &DeploySpec) -> String {
    format!("{}-mqtt-client", spec.name)
}

fn object(kind: &str, metadata: Meta, spec: Value) -> Value {
    Value::map()
        .with("apiVersion", API_VERSION)
        .with("kind", kind)
        .with("metadata", to_value(&metadata))
        .with("spec", spec)
}

/// The private key every certificate gets: ECDSA P-256, new on renewal.
pub(crate) fn private_key() -> Value {
    Value::map()
        .with("algorithm", "ECDSA")
        .with("size", 256i64)
        .with("rotationPolicy", "Always")
}

fn certificate(
    spec: &DeploySpec,
    name: String,
    secret: String,
    issuer: Value,
    subject: Value,
) -> Value {
    let mut s = Value::map()
        .with("secretName", secret)
        .with("duration", DURATION)
        .with("renewBefore", RENEW_BEFORE)
        .with("privateKey", private_key());
    if let Value::Map(fields) = subject {
        for (k, v) in fields {
            s.set(k, v);
        }
    }
    s.set("issuerRef", issuer);
    object("Certificate", meta(spec, &name), s)
}

/// What the broker's certificate names and may be used for: `host`, and
/// when iot-deploy runs the broker in the cluster, its Service's other DNS
/// names too (`<svc>.<namespace>[.svc[.cluster.local]]`).
pub(crate) fn broker_subject(spec: &DeploySpec, m: &Mqtt) -> Value {
    let mut names = vec![m.host.clone()];
    if spec.cluster_broker().is_some() {
        let svc = super::broker::BrokerNames::of(spec, m).service;
        let ns = spec.namespace();
        for n in [
            svc.clone(),
            format!("{svc}.{ns}"),
            format!("{svc}.{ns}.svc"),
            format!("{svc}.{ns}.svc.cluster.local"),
        ] {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    Value::map()
        .with("commonName", m.host.as_str())
        .with("dnsNames", names)
        .with("usages", vec!["server auth", "digital signature"])
}

/// What the service's client certificate names: its MQTT user name.
pub(crate) fn client_subject(m: &Mqtt, service: &str) -> Value {
    Value::map()
        .with("commonName", m.username_for(service))
        .with("usages", vec!["client auth", "digital signature"])
}

/// The Issuer (when generated) and both Certificates; empty without
/// `dependencies.mqtt.tls.cert_manager`.
pub fn objects(spec: &DeploySpec) -> Vec<Value> {
    let Some(m) = &spec.dependencies.mqtt else {
        return Vec::new();
    };
    let Some(
        tls @ MqttTls {
            cert_manager: Some(cm),
            ..
        },
    ) = &m.tls
    else {
        return Vec::new();
    };
    let issuer = cm.issuer_for(&spec.name);
    let mut out = Vec::new();
    if cm.issuer_kind == IssuerKind::Issuer {
        let ca = Value::map().with("secretName", cm.ca_secret_for(&spec.name));
        out.push(object(
            "Issuer",
            meta(spec, &issuer),
            Value::map().with("ca", ca),
        ));
    }
    let issuer_ref = Value::map()
        .with("name", issuer)
        .with("kind", cm.issuer_kind.as_str())
        .with("group", "cert-manager.io");
    out.push(certificate(
        spec,
        broker_certificate_name(spec),
        tls.broker_secret_for(&spec.name),
        issuer_ref.clone(),
        broker_subject(spec, m),
    ));
    // Issued in server mode too: its Secret carries the ca.crt the service
    // trusts (only that key is mounted then).
    out.push(certificate(
        spec,
        client_certificate_name(spec),
        tls.client_secret_for(&spec.name),
        issuer_ref,
        client_subject(m, &spec.name),
    ));
    out
}
