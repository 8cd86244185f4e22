//! Configuration of the standalone server.

use serde::{Deserialize, Serialize};

/// Configuration of [`serve_with`](super::serve_with).
///
/// Serde: every field is optional.
///
/// ```
/// use iot_observe::endpoint::ServerConfig;
///
/// let config: ServerConfig = serde_json::from_str(r#"{ "backlog": 8192 }"#).unwrap();
/// assert_eq!(config, ServerConfig::default().backlog(8192));
/// assert_eq!(ServerConfig::default().backlog, ServerConfig::DEFAULT_BACKLOG);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// The listen backlog: how many connections the kernel holds,
    /// handshake done, until the server accepts them. Connections beyond
    /// it are not refused: their handshake packets are dropped and the
    /// client retransmits after a second or more, which a probe storm sees
    /// as a latency cliff. Default [`DEFAULT_BACKLOG`](Self::DEFAULT_BACKLOG)
    /// (4096). The kernel caps it (Linux: `net.core.somaxconn`, 4096 by
    /// default since 5.4), and treats 0 as its minimum.
    pub backlog: u32,
}

impl ServerConfig {
    /// 4096: Linux's default `somaxconn` since 5.4. `serve` used to bind
    /// with `tokio::net::TcpListener::bind`, whose backlog is 128 (mio 1's,
    /// the standard library's); a 2,000-connection probe storm overflowed
    /// it (see docs/benchmarks.md, "Probe storm").
    pub const DEFAULT_BACKLOG: u32 = 4096;

    /// Sets the listen backlog.
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.backlog = backlog;
        self
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            backlog: Self::DEFAULT_BACKLOG,
        }
    }
}
