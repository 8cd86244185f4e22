//! Adapter: iot-core's MQTT transport state as a connection source.

use std::time::Instant;

use iot_core::mqtt::ConnectionState as MqttState;
use tokio::sync::watch;

use super::{ConnectionSource, ConnectionState, ConnectionStateCheck};

/// The state of an iot-core MQTT `Publisher` or `Consumer`
/// (`state()` returns the receiver) as a [`ConnectionSource`].
///
/// Mapping: `Connected` passes; `Connecting` (never connected yet) counts as
/// down since this adapter was created; `Disconnected { since }` as down
/// since then; `Refused { since, reason }` (credentials, certificates) as
/// refused, failing at once with the reason (`refused: bad_credentials`);
/// `Closed` (the application closed the transport) as down
/// since the adapter was created, so it fails once the grace period is over;
/// states a later iot-core adds count the same way.
///
/// ```no_run
/// # async fn demo(consumer: iot_core::mqtt::Consumer) {
/// use std::time::Duration;
/// use iot_observe::health::{ConnectionStateCheck, MqttConnection};
///
/// let check = ConnectionStateCheck::from_source(MqttConnection::new(consumer.state()))
///     .grace_period(Duration::from_secs(15));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MqttConnection {
    rx: watch::Receiver<MqttState>,
    created: Instant,
}

impl MqttConnection {
    /// Wraps the transport's state receiver.
    pub fn new(rx: watch::Receiver<MqttState>) -> Self {
        Self {
            rx,
            created: Instant::now(),
        }
    }
}

impl From<watch::Receiver<MqttState>> for ConnectionStateCheck<MqttConnection> {
    fn from(rx: watch::Receiver<MqttState>) -> Self {
        ConnectionStateCheck::from_source(MqttConnection::new(rx))
    }
}

impl ConnectionSource for MqttConnection {
    fn current(&self) -> ConnectionState {
        match *self.rx.borrow() {
            MqttState::Connected { .. } => ConnectionState::Connected,
            MqttState::Connecting => ConnectionState::Connecting {
                since: self.created,
            },
            MqttState::Disconnected { since } => ConnectionState::Disconnected { since },
            MqttState::Refused { since, reason } => ConnectionState::Refused {
                since,
                reason: reason.as_str(),
            },
            // Closed, and any state a later iot-core adds: not usable.
            _ => ConnectionState::Disconnected {
                since: self.created,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::health::{HealthCheck, Status};

    #[tokio::test]
    async fn maps_every_transport_state() {
        let (tx, rx) = watch::channel(MqttState::Connecting);
        let check = ConnectionStateCheck::from(rx).grace_period(Duration::from_secs(5));
        // Never connected, within grace: warn.
        assert_eq!(check.check().await.status, Status::Warn);
        tx.send_replace(MqttState::Connected {
            since: Instant::now(),
        });
        assert_eq!(check.check().await.status, Status::Pass);
        tx.send_replace(MqttState::Disconnected {
            since: Instant::now() - Duration::from_secs(60),
        });
        assert_eq!(check.check().await.status, Status::Fail);
        tx.send_replace(MqttState::Disconnected {
            since: Instant::now(),
        });
        assert_eq!(check.check().await.status, Status::Warn);
        // A refusal fails at once, grace or not, and names its reason.
        tx.send_replace(MqttState::Refused {
            since: Instant::now(),
            reason: iot_core::mqtt::ConnectFailure::BadCredentials,
        });
        let refused = check.check().await;
        assert_eq!(refused.status, Status::Fail);
        assert!(
            refused
                .output
                .as_deref()
                .is_some_and(|o| o.contains("refused: bad_credentials")),
            "{refused:?}"
        );
        let (_tx, rx) = watch::channel(MqttState::Closed);
        let check = ConnectionStateCheck::from(rx).grace_period(Duration::ZERO);
        assert_eq!(check.check().await.status, Status::Fail);
    }
}
