//! TCP connect check.

use std::time::Duration;

use async_trait::async_trait;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::health::{CheckResult, HealthCheck};

/// Passes when a TCP connection to an address can be opened (then closes
/// it at once); reports the connect time in milliseconds.
///
/// The address is a `host:port` string resolved on every run, so a DNS
/// change is followed. Without [`connect_timeout`](Self::connect_timeout)
/// the registry's per-check timeout bounds the attempt.
///
/// ```
/// use iot_observe::health::{HealthCheck, Status, TcpCheck};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let check = TcpCheck::new(listener.local_addr().unwrap().to_string());
/// let result = check.check().await;
/// assert_eq!(result.status, Status::Pass);
/// assert_eq!(result.observed_unit.as_deref(), Some("ms"));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TcpCheck {
    addr: String,
    connect_timeout: Option<Duration>,
}

impl TcpCheck {
    /// A check connecting to `addr` (`"broker.local:1883"`, `"10.0.0.5:5432"`).
    pub fn new(addr: impl Into<String>) -> Self {
        Self {
            addr: addr.into(),
            connect_timeout: None,
        }
    }

    /// Gives up after `timeout`, with an output naming the address (the
    /// registry's timeout would only say that the check timed out).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// The address checked.
    pub fn addr(&self) -> &str {
        &self.addr
    }
}

#[async_trait]
impl HealthCheck for TcpCheck {
    async fn check(&self) -> CheckResult {
        let started = Instant::now();
        let connect = TcpStream::connect(self.addr.as_str());
        let outcome = match self.connect_timeout {
            Some(limit) => tokio::time::timeout(limit, connect).await.ok(),
            None => Some(connect.await),
        };
        let result = match outcome {
            Some(Ok(_stream)) => {
                let millis = started.elapsed().as_secs_f64() * 1000.0;
                // Three decimals are plenty and keep the JSON short.
                CheckResult::pass().with_observed((millis * 1000.0).round() / 1000.0, "ms")
            }
            Some(Err(error)) => CheckResult::fail(format!("connect to {}: {error}", self.addr)),
            None => CheckResult::fail(format!(
                "connect to {} timed out after {}ms",
                self.addr,
                self.connect_timeout.unwrap_or_default().as_millis()
            )),
        };
        result
            .with_component_id(self.addr.clone())
            .with_component_type("system")
    }
}
