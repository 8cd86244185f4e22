//! The transport options as plain configuration data.

use std::fmt;
use std::path::PathBuf;

/// The protocol stack under MQTT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Transport {
    /// Plain TCP (`mqtt://`, port 1883). The default.
    #[default]
    Tcp,
    /// TLS over TCP (`mqtts://`, port 8883); feature `tls`.
    Tls,
    /// MQTT over WebSockets (`ws://`); feature `ws`.
    Ws,
    /// MQTT over WebSockets over TLS (`wss://`, often port 443); features
    /// `ws` and `tls`.
    Wss,
}

impl Transport {
    /// Whether the connection is encrypted and the broker authenticated.
    pub fn uses_tls(self) -> bool {
        matches!(self, Transport::Tls | Transport::Wss)
    }

    /// Whether MQTT travels in WebSocket frames.
    pub fn uses_websocket(self) -> bool {
        matches!(self, Transport::Ws | Transport::Wss)
    }

    /// The URL scheme: `mqtt`, `mqtts`, `ws` or `wss`.
    pub fn scheme(self) -> &'static str {
        match self {
            Transport::Tcp => "mqtt",
            Transport::Tls => "mqtts",
            Transport::Ws => "ws",
            Transport::Wss => "wss",
        }
    }

    /// The port a URL without one means.
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Tcp => 1883,
            Transport::Tls => 8883,
            Transport::Ws => 80,
            Transport::Wss => 443,
        }
    }

    /// The cargo feature(s) of iot-core that provide this transport.
    pub(crate) fn feature(self) -> &'static str {
        match self {
            Transport::Tcp => "mqtt",
            Transport::Tls => "tls",
            Transport::Ws => "ws",
            Transport::Wss => "ws\" and \"tls",
        }
    }

    /// Whether this build can use the transport.
    pub fn is_available(self) -> bool {
        match self {
            Transport::Tcp => true,
            Transport::Tls => cfg!(feature = "_tls"),
            Transport::Ws => cfg!(feature = "ws"),
            Transport::Wss => cfg!(all(feature = "ws", feature = "_tls")),
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme())
    }
}

/// TLS settings for the `tls` and `wss` transports.
///
/// The broker's certificate is always verified unless
/// [`dangerous_disable_verification`](Self::dangerous_disable_verification)
/// is set. Files are PEM and are read again at every (re)connect, so a
/// renewed client certificate (cert-manager, ACME) or CA bundle takes
/// effect at the next connection without a restart; if a file cannot be
/// read or parsed then, the previous good configuration is used and a
/// warning names the file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[non_exhaustive]
pub struct TlsConfig {
    /// A PEM bundle of CA certificates to trust (a private CA, or a
    /// managed broker's root such as Amazon Root CA 1).
    pub ca_file: Option<PathBuf>,
    /// Trust the platform's certificate store (`/etc/ssl/certs` on Debian,
    /// through `rustls-native-certs`). Unset means: yes when no
    /// [`ca_file`](Self::ca_file) is given, no when one is (a private CA
    /// is then the only trust anchor).
    pub platform_roots: Option<bool>,
    /// The client's certificate chain (PEM, leaf first) for mutual TLS.
    /// Needs [`client_key_file`](Self::client_key_file).
    pub client_cert_file: Option<PathBuf>,
    /// The client's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub client_key_file: Option<PathBuf>,
    /// The name the broker's certificate must carry, when it differs from
    /// the host connected to (an IP address, a tunnel, a load balancer's
    /// internal name). rumqttc 0.25 still sends the connect host as SNI
    /// (none for an IP address).
    pub server_name: Option<String>,
    /// ALPN protocols to offer, e.g. `["x-amzn-mqtt-ca"]` for AWS IoT
    /// Core on port 443, `["mqtt"]` for brokers that ask for it.
    pub alpn: Vec<String>,
    /// Accept any server certificate: no CA, name or date checks. Anyone
    /// on the path can then read and change the traffic. For a lab only;
    /// every connect logs a warning while it is set.
    pub dangerous_disable_verification: bool,
}

impl TlsConfig {
    /// Trusts the CAs in `path` (PEM).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Sets [`platform_roots`](Self::platform_roots).
    pub fn platform_roots(mut self, on: bool) -> Self {
        self.platform_roots = Some(on);
        self
    }

    /// Presents the certificate chain in `cert` with the key in `key`
    /// (mutual TLS).
    pub fn client_auth(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.client_cert_file = Some(cert.into());
        self.client_key_file = Some(key.into());
        self
    }

    /// Sets [`server_name`](Self::server_name).
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Sets [`alpn`](Self::alpn).
    pub fn alpn<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.alpn = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Sets
    /// [`dangerous_disable_verification`](Self::dangerous_disable_verification).
    pub fn dangerous_disable_verification(mut self, on: bool) -> Self {
        self.dangerous_disable_verification = on;
        self
    }

    /// Whether the platform store is trusted, after the default rule.
    pub fn uses_platform_roots(&self) -> bool {
        self.platform_roots.unwrap_or(self.ca_file.is_none())
    }

    /// Checks the settings that need no file; the error names the field.
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        match (&self.client_cert_file, &self.client_key_file) {
            (Some(_), None) => {
                return Err((
                    "mqtt.tls.client_key_file",
                    "must be set with client_cert_file".into(),
                ));
            }
            (None, Some(_)) => {
                return Err((
                    "mqtt.tls.client_cert_file",
                    "must be set with client_key_file".into(),
                ));
            }
            _ => {}
        }
        if !self.dangerous_disable_verification
            && self.ca_file.is_none()
            && !self.uses_platform_roots()
        {
            return Err((
                "mqtt.tls.platform_roots",
                "is false and no ca_file is set: no certificate could be trusted".into(),
            ));
        }
        if let Some(name) = &self.server_name {
            if name.is_empty()
                || name.len() > 253
                || name.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err((
                    "mqtt.tls.server_name",
                    format!("{name:?} is not a DNS name or IP address"),
                ));
            }
        }
        for p in &self.alpn {
            if p.is_empty() || p.len() > 255 {
                return Err((
                    "mqtt.tls.alpn",
                    format!("protocol {p:?} must be 1 to 255 bytes"),
                ));
            }
        }
        Ok(())
    }
}
