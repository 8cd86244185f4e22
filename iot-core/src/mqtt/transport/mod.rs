//! How a client reaches its broker: TCP, TLS, WebSockets or WebSockets
//! over TLS, and the TLS settings.
//!
//! The options are plain data in [`MqttConfig`](super::MqttConfig)
//! ([`transport`](super::MqttConfig::transport),
//! [`tls`](super::MqttConfig::tls));
//! [`MqttConfig::broker_url`](super::MqttConfig::broker_url) fills them
//! from an `mqtt://`, `mqtts://`, `ws://` or `wss://` URL. What turns them
//! into a rumqttc transport is `Connector`: the publisher and consumer ask it again
//! before every (re)connect, so certificate and key files are read anew and
//! a rotated client certificate is used without a restart.
//!
//! TLS needs the `tls` feature (rustls with the *ring* provider, or
//! `tls-aws-lc`); WebSockets the `ws` feature. A configuration that asks
//! for a transport this build lacks fails validation, naming the feature.

mod error;
mod options;
#[cfg(feature = "_tls")]
mod tls;
mod url;

pub use error::TlsError;
pub use options::{TlsConfig, Transport};

pub(crate) use url::parse_broker_url;

use super::config::MqttConfig;
use super::error::ConfigError;

/// Builds the rumqttc transport for each connection attempt.
#[derive(Debug, Clone)]
pub(crate) struct Connector {
    transport: Transport,
    #[cfg(feature = "_tls")]
    tls: TlsConfig,
    /// For `ws` and `wss`: the URL rumqttc connects to.
    url: String,
}

impl Connector {
    /// A connector for `config` and the transport of the first connection:
    /// the TLS files are read now, so a missing or malformed one is
    /// reported before the client starts.
    pub(crate) fn new(config: &MqttConfig) -> Result<(Self, rumqttc::Transport), ConfigError> {
        let connector = Self {
            transport: config.transport,
            #[cfg(feature = "_tls")]
            tls: config.tls.clone(),
            url: config.ws_url(),
        };
        let transport = connector
            .build()
            .map_err(|e| ConfigError::new(e.field(), e.to_string()))?;
        Ok((connector, transport))
    }

    /// Whether certificate checks are off (logged at every connect).
    pub(crate) fn verification_disabled(&self) -> bool {
        #[cfg(feature = "_tls")]
        {
            self.transport.uses_tls() && self.tls.dangerous_disable_verification
        }
        #[cfg(not(feature = "_tls"))]
        {
            false
        }
    }

    /// The transport for the next connection, with the files read now.
    pub(crate) fn build(&self) -> Result<rumqttc::Transport, TlsError> {
        match self.transport {
            Transport::Tcp => Ok(rumqttc::Transport::Tcp),
            #[cfg(feature = "_tls")]
            Transport::Tls => Ok(rumqttc::Transport::tls_with_config(
                self.tls.client_config()?.into(),
            )),
            #[cfg(feature = "ws")]
            Transport::Ws => Ok(rumqttc::Transport::Ws),
            #[cfg(all(feature = "ws", feature = "_tls"))]
            Transport::Wss => Ok(rumqttc::Transport::wss_with_config(
                self.tls.client_config()?.into(),
            )),
            #[allow(unreachable_patterns)]
            other => Err(TlsError::unsupported(other)),
        }
    }

    /// What rumqttc takes as the broker address: the host, or for
    /// WebSockets the whole URL.
    pub(crate) fn broker_addr(&self, host: &str) -> String {
        if self.transport.uses_websocket() {
            self.url.clone()
        } else {
            host.to_owned()
        }
    }
}
