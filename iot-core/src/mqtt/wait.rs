//! Waiting for the first connection, so a service can fail its start-up
//! instead of running disconnected.

use std::time::Duration;

use tokio::sync::watch;

use super::connect_failure::ConnectFailure;
use super::state::{ConnectionState, Stats};

/// Why [`Publisher::wait_connected`](super::Publisher::wait_connected) or
/// [`Consumer::wait_connected`](super::Consumer::wait_connected) returned
/// without a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// The broker or the TLS handshake refused the client. The client
    /// keeps retrying with backoff; most callers end here.
    #[error("MQTT connection refused: {reason} ({})", reason.advice())]
    Refused {
        /// Why.
        reason: ConnectFailure,
    },
    /// No connection within the time allowed.
    #[error("no MQTT connection within {timeout:?}{}", last_failure.map(|r| format!(" (last attempt: {r}: {})", r.advice())).unwrap_or_default())]
    Timeout {
        /// The time allowed.
        timeout: Duration,
        /// Why the last attempt failed, if one did.
        last_failure: Option<ConnectFailure>,
    },
    /// The client was closed.
    #[error("the MQTT client was closed")]
    Closed,
}

/// Waits until the state is `Connected` (Ok), `Refused` (at once), or
/// `timeout` passes; a timeout names the last failed attempt from `stats`
/// (a network fault such as `unreachable` never shows in the state).
pub(crate) async fn wait_connected(
    mut state: watch::Receiver<ConnectionState>,
    stats: &Stats,
    timeout: Duration,
) -> Result<(), WaitError> {
    let outcome = tokio::time::timeout(timeout, async {
        loop {
            let current = *state.borrow_and_update();
            match current {
                ConnectionState::Connected { .. } => return Ok(()),
                ConnectionState::Refused { reason, .. } => {
                    return Err(WaitError::Refused { reason });
                }
                ConnectionState::Closed => return Err(WaitError::Closed),
                _ => {}
            }
            if state.changed().await.is_err() {
                return Err(WaitError::Closed);
            }
        }
    })
    .await;
    match outcome {
        Ok(result) => result,
        Err(_elapsed) => Err(WaitError::Timeout {
            timeout,
            last_failure: stats.snapshot().last_connect_failure,
        }),
    }
}
