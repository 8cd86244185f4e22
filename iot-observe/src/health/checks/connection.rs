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
pub struct ConnectionStateCheck<S = watch::Receiver<ConnectionState>> {
    source: S,
    grace: Duration,
}

/// Where a [`ConnectionStateCheck`] reads the current state from.
///
/// Implemented for `watch::Receiver<ConnectionState>` (fed by a
/// [`ConnectionReporter`](super::ConnectionReporter)) and, with the `mqtt`
/// feature, for iot-core's MQTT transport state (`MqttConnection`; a plain
/// name, not a link, so the docs build without that feature).
pub trait ConnectionSource: Send + Sync + 'static {
    /// The state now.
    fn current(&self) -> ConnectionState;
}

impl ConnectionSource for watch::Receiver<ConnectionState> {
    fn current(&self) -> ConnectionState {
        // Copy out at once: the borrow guard must not be held.
        *self.borrow()
    }
}

impl ConnectionStateCheck {
    /// A check over `rx` with a grace period of 30 s.
    pub fn new(rx: watch::Receiver<ConnectionState>) -> Self {
        Self::from_source(rx)
    }
}

impl<S: ConnectionSource> ConnectionStateCheck<S> {
    /// A check over any [`ConnectionSource`] with a grace period of 30 s.
    pub fn from_source(source: S) -> Self {
        Self {
            source,
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
impl<S: ConnectionSource> HealthCheck for ConnectionStateCheck<S> {
    async fn check(&self) -> CheckResult {
        let state = self.source.current();
        let (what, since) = match state {
            ConnectionState::Connected => {
                return CheckResult::pass().with_component_type("component");
            }
            ConnectionState::Connecting { since } => ("connecting", since),
            ConnectionState::Disconnected { since } => ("disconnected", since),
            // No grace: a refusal does not pass by itself.
            ConnectionState::Refused { since, reason } => {
                let down = since.elapsed();
                let seconds = (down.as_secs_f64() * 1000.0).round() / 1000.0;
                return CheckResult::fail(format!(
                    "refused: {reason} (down for {:.1}s)",
                    down.as_secs_f64()
                ))
                .with_observed(seconds, "s")
                .with_component_type("component");
            }
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
