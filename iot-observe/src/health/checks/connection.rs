//! A check over a reported connection state.

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use super::ConnectionState;
use crate::health::{CheckResult, HealthCheck};

/// Grace period before an outage fails the check.
const DEFAULT_GRACE: Duration = Duration::from_secs(30);

/// Reads a [`ConnectionState`] from a watch channel: connected passes; down
/// for less than the grace period warns (a reconnect is normal and brief);
/// down for longer fails. Reports the outage length in seconds.
///
/// Instant (see [`HealthCheck::is_instant`]): it only reads the channel.
///
/// ```
/// use std::time::{Duration, Instant};
/// use iot_observe::health::{ConnectionState, ConnectionStateCheck, HealthCheck, Status};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let since = Instant::now() - Duration::from_secs(60);
/// let (tx, rx) = tokio::sync::watch::channel(ConnectionState::Disconnected { since });
/// let check = ConnectionStateCheck::new(rx).grace_period(Duration::from_secs(10));
/// assert_eq!(check.check().await.status, Status::Fail);
/// tx.send_replace(ConnectionState::Connected);
/// assert_eq!(check.check().await.status, Status::Pass);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ConnectionStateCheck {
    rx: watch::Receiver<ConnectionState>,
    grace: Duration,
}

impl ConnectionStateCheck {
    /// A check over `rx` with a grace period of 30 s.
    pub fn new(rx: watch::Receiver<ConnectionState>) -> Self {
        Self {
            rx,
            grace: DEFAULT_GRACE,
        }
    }

    /// How long the connection may be down before the check fails.
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }
}

#[async_trait]
impl HealthCheck for ConnectionStateCheck {
    async fn check(&self) -> CheckResult {
        // Copy out at once: the borrow guard must not be held.
        let state = *self.rx.borrow();
        let (what, since) = match state {
            ConnectionState::Connected => {
                return CheckResult::pass().with_component_type("component");
            }
            ConnectionState::Connecting { since } => ("connecting", since),
            ConnectionState::Disconnected { since } => ("disconnected", since),
        };
        let down = since.elapsed();
        let output = format!("{what} for {:.1}s", down.as_secs_f64());
        let result = if down < self.grace {
            CheckResult::warn(format!("{output} (grace {}s)", self.grace.as_secs_f64()))
        } else {
            CheckResult::fail(output)
        };
        let seconds = (down.as_secs_f64() * 1000.0).round() / 1000.0;
        result
            .with_observed(seconds, "s")
            .with_component_type("component")
    }

    fn is_instant(&self) -> bool {
        true
    }
}
