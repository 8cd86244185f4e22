//! Connection state a transport reports into, and the reporting side.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use super::ConnectionStateCheck;

/// The state of a long-lived connection (an MQTT session, a database pool).
///
/// `since` is when the connection was last lost, or when the first attempt
/// began: how long the component has been unavailable. It is a
/// [`std::time::Instant`] so transports need no tokio clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Connected and usable.
    Connected,
    /// Not connected, an attempt is under way.
    Connecting {
        /// When the component became unavailable.
        since: Instant,
    },
    /// Not connected, no attempt under way (waiting for a backoff, given up).
    Disconnected {
        /// When the component became unavailable.
        since: Instant,
    },
    /// The last attempt was refused (credentials, certificates,
    /// authorization): retrying will not help until someone changes a
    /// setting, so a check fails at once, without a grace period.
    Refused {
        /// When the component became unavailable.
        since: Instant,
        /// Why, as a short label (`bad_credentials`, `unknown_ca`).
        reason: &'static str,
    },
}

impl ConnectionState {
    /// Whether the state is [`Connected`](Self::Connected).
    pub fn is_connected(&self) -> bool {
        matches!(self, ConnectionState::Connected)
    }

    /// When the component became unavailable; `None` while connected.
    pub fn down_since(&self) -> Option<Instant> {
        match *self {
            ConnectionState::Connected => None,
            ConnectionState::Connecting { since }
            | ConnectionState::Disconnected { since }
            | ConnectionState::Refused { since, .. } => Some(since),
        }
    }
}

/// The sending side: a transport calls [`connected`](Self::connected),
/// [`connecting`](Self::connecting) and [`disconnected`](Self::disconnected)
/// as its connection changes, and a [`ConnectionStateCheck`] reads it.
///
/// Moving between `connecting` and `disconnected` keeps the original
/// `since`, so a reconnect loop does not reset the outage clock.
///
/// ```
/// use std::time::Duration;
/// use iot_observe::health::{ConnectionReporter, HealthCheck, Status};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let reporter = ConnectionReporter::new(); // starts as connecting
/// let check = reporter.check().grace_period(Duration::from_secs(30));
/// assert_eq!(check.check().await.status, Status::Warn); // within the grace period
/// reporter.connected();
/// assert_eq!(check.check().await.status, Status::Pass);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ConnectionReporter {
    tx: Arc<watch::Sender<ConnectionState>>,
}

impl Default for ConnectionReporter {
    fn default() -> Self {
        Self::new()
    }
}

impl ConnectionReporter {
    /// A reporter in [`ConnectionState::Connecting`] since now.
    pub fn new() -> Self {
        let (tx, _) = watch::channel(ConnectionState::Connecting {
            since: Instant::now(),
        });
        Self { tx: Arc::new(tx) }
    }

    /// A receiver for [`ConnectionStateCheck::new`] or for the
    /// application's own use.
    pub fn subscribe(&self) -> watch::Receiver<ConnectionState> {
        self.tx.subscribe()
    }

    /// A check over this reporter with the default grace period.
    pub fn check(&self) -> ConnectionStateCheck {
        ConnectionStateCheck::new(self.subscribe())
    }

    /// The current state.
    pub fn state(&self) -> ConnectionState {
        *self.tx.borrow()
    }

    /// The connection is up.
    pub fn connected(&self) {
        self.tx.send_replace(ConnectionState::Connected);
    }

    /// An attempt to connect has begun.
    pub fn connecting(&self) {
        self.set_down(|since| ConnectionState::Connecting { since });
    }

    /// The connection is down and no attempt is under way.
    pub fn disconnected(&self) {
        self.set_down(|since| ConnectionState::Disconnected { since });
    }

    /// The last attempt was refused for `reason` (a short label such as
    /// `bad_credentials`).
    pub fn refused(&self, reason: &'static str) {
        self.set_down(|since| ConnectionState::Refused { since, reason });
    }

    fn set_down(&self, make: impl FnOnce(Instant) -> ConnectionState) {
        self.tx.send_modify(|state| {
            let since = state.down_since().unwrap_or_else(Instant::now);
            *state = make(since);
        });
    }
}
