//! Why a connection attempt failed, as a typed, bounded reason.
//!
//! rumqttc reports a failed attempt as a [`rumqttc::ConnectionError`]
//! whose TLS causes sit several layers deep (an `io::Error` wrapping a
//! `rustls::Error`). [`ConnectFailure::classify`] walks that chain once
//! per failed attempt and names the cause; the reason then appears in
//! [`ConnectionState::Refused`](super::ConnectionState::Refused), in
//! [`StatsSnapshot`](super::StatsSnapshot), in the
//! `iot_mqtt_connect_failures_total{reason}` counter and in
//! [`Publisher::wait_connected`](super::Publisher::wait_connected).

use std::fmt;

/// Why an attempt to connect to the broker failed.
///
/// The first group are *refusals*: the broker or the TLS handshake said
/// no, and trying again will not help until someone changes a password,
/// a certificate or an ACL ([`is_refusal`](Self::is_refusal)). The rest
/// are the network's faults, which usually pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectFailure {
    /// CONNACK 4: bad user name or password.
    BadCredentials,
    /// CONNACK 5: not authorized (no or unknown credentials where the broker
    /// requires them, or a certificate identity it does not accept).
    NotAuthorized,
    /// CONNACK 2: the broker refused the client id.
    ClientIdRejected,
    /// CONNACK 1: the broker does not speak MQTT 3.1.1.
    ProtocolVersion,
    /// The broker's certificate chain does not lead to a trusted CA.
    UnknownCa,
    /// The broker's certificate (or one in its chain) has expired or is
    /// not yet valid.
    CertificateExpired,
    /// The broker's certificate is not valid for the host name connected
    /// to (or [`server_name`](super::TlsConfig::server_name)).
    HostnameMismatch,
    /// The broker's certificate is malformed, revoked or otherwise refused.
    BadServerCertificate,
    /// The broker requires a client certificate and none was sent.
    ClientCertificateRequired,
    /// The broker refused the client certificate (unknown CA, expired,
    /// revoked).
    ClientCertificateRejected,
    /// Another TLS failure: no common protocol version or cipher suite, a
    /// TLS client on a plaintext port, an unexpected alert.
    TlsHandshake,
    /// The broker closed the connection before its CONNACK: typically a
    /// plaintext client on a TLS port, or a broker-side limit.
    ClosedBeforeConnack,
    /// A WebSocket upgrade the server answered with an HTTP error.
    WebSocketRejected,
    /// CONNACK 3: the broker is unavailable; it asked to retry later.
    ServerUnavailable,
    /// Nothing listens on the port, or the host cannot be reached or
    /// resolved.
    Unreachable,
    /// No connection or CONNACK within `connect_timeout`.
    Timeout,
    /// Any other I/O or protocol error.
    Other,
}

impl ConnectFailure {
    /// Every reason, in declaration order (for registering metrics).
    pub const ALL: [ConnectFailure; 17] = [
        ConnectFailure::BadCredentials,
        ConnectFailure::NotAuthorized,
        ConnectFailure::ClientIdRejected,
        ConnectFailure::ProtocolVersion,
        ConnectFailure::UnknownCa,
        ConnectFailure::CertificateExpired,
        ConnectFailure::HostnameMismatch,
        ConnectFailure::BadServerCertificate,
        ConnectFailure::ClientCertificateRequired,
        ConnectFailure::ClientCertificateRejected,
        ConnectFailure::TlsHandshake,
        ConnectFailure::ClosedBeforeConnack,
        ConnectFailure::WebSocketRejected,
        ConnectFailure::ServerUnavailable,
        ConnectFailure::Unreachable,
        ConnectFailure::Timeout,
        ConnectFailure::Other,
    ];

    /// Whether the broker or the handshake refused the client, as opposed
    /// to a network fault: a refusal persists until a credential,
    /// certificate or broker setting changes.
    pub fn is_refusal(self) -> bool {
        !matches!(
            self,
            ConnectFailure::ServerUnavailable
                | ConnectFailure::Unreachable
                | ConnectFailure::Timeout
                | ConnectFailure::Other
        )
    }

    /// The `reason` label: `bad_credentials`, `unknown_ca`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectFailure::BadCredentials => "bad_credentials",
            ConnectFailure::NotAuthorized => "not_authorized",
            ConnectFailure::ClientIdRejected => "client_id_rejected",
            ConnectFailure::ProtocolVersion => "protocol_version",
            ConnectFailure::UnknownCa => "unknown_ca",
            ConnectFailure::CertificateExpired => "certificate_expired",
            ConnectFailure::HostnameMismatch => "hostname_mismatch",
            ConnectFailure::BadServerCertificate => "bad_server_certificate",
            ConnectFailure::ClientCertificateRequired => "client_certificate_required",
            ConnectFailure::ClientCertificateRejected => "client_certificate_rejected",
            ConnectFailure::TlsHandshake => "tls_handshake",
            ConnectFailure::ClosedBeforeConnack => "closed_before_connack",
            ConnectFailure::WebSocketRejected => "websocket_rejected",
            ConnectFailure::ServerUnavailable => "server_unavailable",
            ConnectFailure::Unreachable => "unreachable",
            ConnectFailure::Timeout => "timeout",
            ConnectFailure::Other => "other",
        }
    }

    /// What to do about it, in one sentence (for logs and status pages).
    pub fn advice(self) -> &'static str {
        match self {
            ConnectFailure::BadCredentials => "check the user name and password",
            ConnectFailure::NotAuthorized => {
                "the broker requires credentials or a client certificate it accepts"
            }
            ConnectFailure::ClientIdRejected => "use a client id the broker accepts",
            ConnectFailure::ProtocolVersion => "the broker must accept MQTT 3.1.1",
            ConnectFailure::UnknownCa => "trust the broker's CA (mqtt.tls.ca_file)",
            ConnectFailure::CertificateExpired => {
                "renew the broker's certificate, or check this machine's clock"
            }
            ConnectFailure::HostnameMismatch => {
                "connect by a name in the broker's certificate, or set mqtt.tls.server_name"
            }
            ConnectFailure::BadServerCertificate => "the broker's certificate is not acceptable",
            ConnectFailure::ClientCertificateRequired => {
                "set mqtt.tls.client_cert_file and client_key_file"
            }
            ConnectFailure::ClientCertificateRejected => {
                "the broker does not trust this client certificate (CA, expiry)"
            }
            ConnectFailure::TlsHandshake => {
                "TLS failed: is the port a TLS port, and do both sides share a TLS version?"
            }
            ConnectFailure::ClosedBeforeConnack => {
                "the broker hung up before answering: a TLS port spoken to without TLS?"
            }
            ConnectFailure::WebSocketRejected => "check the WebSocket path and the server",
            ConnectFailure::ServerUnavailable => "the broker asked to retry later",
            ConnectFailure::Unreachable => "check the host, the port and that the broker runs",
            ConnectFailure::Timeout => "the broker did not answer in time",
            ConnectFailure::Other => "see the log for the error",
        }
    }

    /// The reason for a failed attempt.
    pub fn classify(error: &rumqttc::ConnectionError) -> Self {
        use rumqttc::{ConnectReturnCode, ConnectionError, StateError};
        match error {
            ConnectionError::ConnectionRefused(code) => match code {
                ConnectReturnCode::BadUserNamePassword => ConnectFailure::BadCredentials,
                ConnectReturnCode::NotAuthorized => ConnectFailure::NotAuthorized,
                ConnectReturnCode::BadClientId => ConnectFailure::ClientIdRejected,
                ConnectReturnCode::RefusedProtocolVersion => ConnectFailure::ProtocolVersion,
                ConnectReturnCode::ServiceUnavailable | ConnectReturnCode::Success => {
                    ConnectFailure::ServerUnavailable
                }
            },
            ConnectionError::NetworkTimeout | ConnectionError::FlushTimeout => {
                ConnectFailure::Timeout
            }
            ConnectionError::MqttState(StateError::ConnectionAborted) => {
                ConnectFailure::ClosedBeforeConnack
            }
            // A WebSocket error that is not I/O or TLS underneath is the
            // HTTP upgrade or the WebSocket protocol saying no.
            #[cfg(feature = "ws")]
            ConnectionError::Websocket(e) => {
                classify_chain(e).unwrap_or(ConnectFailure::WebSocketRejected)
            }
            #[cfg(feature = "ws")]
            ConnectionError::ResponseValidation(_) | ConnectionError::WsConnect(_) => {
                ConnectFailure::WebSocketRejected
            }
            other => classify_chain(other).unwrap_or(ConnectFailure::Other),
        }
    }
}

impl fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Walks an error's sources for a rustls error or a telling I/O error.
fn classify_chain(error: &(dyn std::error::Error + 'static)) -> Option<ConnectFailure> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut io_kind = None;
    while let Some(e) = current {
        #[cfg(feature = "_tls")]
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(classify_tls(tls));
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            io_kind.get_or_insert(io.kind());
            // An `io::Error` carrying another error exposes it through
            // `get_ref`, not always through `source`.
            #[cfg(feature = "_tls")]
            if let Some(tls) = io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                return Some(classify_tls(tls));
            }
        }
        current = e.source();
    }
    io_kind.map(|kind| {
        use std::io::ErrorKind as K;
        match kind {
            K::ConnectionRefused
            | K::NotFound
            | K::AddrNotAvailable
            | K::HostUnreachable
            | K::NetworkUnreachable => ConnectFailure::Unreachable,
            K::TimedOut => ConnectFailure::Timeout,
            K::UnexpectedEof | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
                ConnectFailure::ClosedBeforeConnack
            }
            K::InvalidData => ConnectFailure::TlsHandshake,
            _ => ConnectFailure::Other,
        }
    })
}

#[cfg(feature = "_tls")]
fn classify_tls(error: &rustls::Error) -> ConnectFailure {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E};
    match error {
        E::InvalidCertificate(cert) => match cert {
            C::UnknownIssuer => ConnectFailure::UnknownCa,
            C::Expired
            | C::ExpiredContext { .. }
            | C::NotValidYet
            | C::NotValidYetContext { .. } => ConnectFailure::CertificateExpired,
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                ConnectFailure::HostnameMismatch
            }
            _ => ConnectFailure::BadServerCertificate,
        },
        E::AlertReceived(alert) => match alert {
            A::CertificateRequired => ConnectFailure::ClientCertificateRequired,
            A::BadCertificate
            | A::UnsupportedCertificate
            | A::CertificateRevoked
            | A::CertificateExpired
            | A::CertificateUnknown
            | A::UnknownCA
            | A::AccessDenied => ConnectFailure::ClientCertificateRejected,
            _ => ConnectFailure::TlsHandshake,
        },
        _ => ConnectFailure::TlsHandshake,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttc::{ConnectReturnCode, ConnectionError};

    #[test]
    fn connack_codes() {
        let c = |code| ConnectFailure::classify(&ConnectionError::ConnectionRefused(code));
        assert_eq!(
            c(ConnectReturnCode::BadUserNamePassword),
            ConnectFailure::BadCredentials
        );
        assert_eq!(
            c(ConnectReturnCode::NotAuthorized),
            ConnectFailure::NotAuthorized
        );
        assert_eq!(
            c(ConnectReturnCode::ServiceUnavailable),
            ConnectFailure::ServerUnavailable
        );
        assert!(c(ConnectReturnCode::BadUserNamePassword).is_refusal());
        assert!(!c(ConnectReturnCode::ServiceUnavailable).is_refusal());
    }

    #[test]
    fn io_errors() {
        let io = |kind| ConnectFailure::classify(&ConnectionError::Io(std::io::Error::from(kind)));
        assert_eq!(
            io(std::io::ErrorKind::ConnectionRefused),
            ConnectFailure::Unreachable
        );
        assert_eq!(
            io(std::io::ErrorKind::UnexpectedEof),
            ConnectFailure::ClosedBeforeConnack
        );
        assert_eq!(
            io(std::io::ErrorKind::PermissionDenied),
            ConnectFailure::Other
        );
        assert_eq!(
            ConnectFailure::classify(&ConnectionError::NetworkTimeout),
            ConnectFailure::Timeout
        );
    }

    #[cfg(feature = "_tls")]
    #[test]
    fn tls_errors_inside_io_errors() {
        let wrapped = |e: rustls::Error| {
            ConnectFailure::classify(&ConnectionError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                e,
            )))
        };
        use rustls::{AlertDescription, CertificateError, Error};
        assert_eq!(
            wrapped(Error::InvalidCertificate(CertificateError::UnknownIssuer)),
            ConnectFailure::UnknownCa
        );
        assert_eq!(
            wrapped(Error::InvalidCertificate(CertificateError::NotValidForName)),
            ConnectFailure::HostnameMismatch
        );
        assert_eq!(
            wrapped(Error::AlertReceived(AlertDescription::CertificateRequired)),
            ConnectFailure::ClientCertificateRequired
        );
        assert_eq!(
            wrapped(Error::AlertReceived(AlertDescription::UnknownCA)),
            ConnectFailure::ClientCertificateRejected
        );
    }

    #[test]
    fn labels_are_unique() {
        let mut labels: Vec<_> = ConnectFailure::ALL.iter().map(|f| f.as_str()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), ConnectFailure::ALL.len());
    }
}
