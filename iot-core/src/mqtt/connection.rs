//! What publisher and consumer share about driving rumqttc's event loop:
//! the connection state, the reconnect backoff, and cleaning up after a
//! broken connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use iot_resilience::backoff::{Backoff, BackoffConfig};
use rumqttc::{ConnectionError, Event, EventLoop, Request};
use tokio::sync::futures::Notified;
use tokio::sync::{Notify, watch};

use super::connect_failure::ConnectFailure;
use super::state::{ConnectionState, Stats};
use super::transport::Connector;

/// Connection bookkeeping of one event-loop task.
pub(crate) struct Link {
    backoff: Backoff,
    state: watch::Sender<ConnectionState>,
    stats: Arc<Stats>,
    connected: bool,
    connected_at: Instant,
    down_since: Instant,
    /// A connection that lasted this long resets the backoff when it
    /// breaks; one that broke sooner (accepted, then dropped at once: a
    /// poison message, an overloaded or misconfigured broker) keeps
    /// backing off instead of reconnecting in a tight loop.
    stable_after: Duration,
    /// Builds the transport (TLS files read anew) before each attempt.
    connector: Connector,
    /// The reason last logged at `error`, so a refusal repeated by every
    /// retry is logged loudly once and then quietly.
    last_logged: Option<ConnectFailure>,
}

/// How long a connection must last for its loss to restart the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(1);

impl Link {
    pub(crate) fn new(
        backoff: BackoffConfig,
        stats: Arc<Stats>,
        connector: Connector,
    ) -> (Self, watch::Receiver<ConnectionState>) {
        let (state, rx) = watch::channel(ConnectionState::Connecting);
        let link = Self {
            backoff: Backoff::new(backoff),
            state,
            stats,
            connected: false,
            connected_at: Instant::now(),
            down_since: Instant::now(),
            stable_after: STABLE_AFTER,
            connector,
            last_logged: None,
        };
        (link, rx)
    }

    /// A CONNACK arrived: connected.
    pub(crate) fn on_connack(&mut self, session_present: bool, client_id: &str) {
        self.connected_at = Instant::now();
        if !self.connected {
            self.connected = true;
            self.stats.metrics.connected(true);
        }
        Stats::add(&self.stats.connects, 1);
        self.last_logged = None;
        tracing::info!(client_id, session_present, "MQTT connected");
        if self.connector.verification_disabled() {
            tracing::warn!(
                client_id,
                "MQTT connected WITHOUT verifying the broker's certificate \
                 (mqtt.tls.dangerous_disable_verification): anyone on the path can read and change this traffic"
            );
        }
        self.state.send_replace(ConnectionState::Connected {
            since: Instant::now(),
        });
    }

    /// The connection broke or an attempt failed: returns how long to wait
    /// before the next attempt.
    ///
    /// An error while connected is a lost connection; one before the
    /// CONNACK is a failed attempt, classified ([`ConnectFailure`]) and
    /// counted, and a refusal shows in the state as
    /// [`ConnectionState::Refused`].
    pub(crate) fn on_error(&mut self, error: &ConnectionError, client_id: &str) -> Duration {
        let was_connected = self.connected;
        if self.connected {
            self.connected = false;
            self.down_since = Instant::now();
            self.stats.metrics.connected(false);
            if self.connected_at.elapsed() >= self.stable_after {
                self.backoff.reset();
            }
        }
        Stats::add(&self.stats.disconnects, 1);
        self.stats.metrics.reconnect();
        let cap = self.backoff.config().cap;
        let delay = self.backoff.next_delay().unwrap_or(cap);
        let since = self.down_since;
        if was_connected {
            tracing::warn!(client_id, %error, retry_in = ?delay, "MQTT connection lost");
            self.state
                .send_replace(ConnectionState::Disconnected { since });
            return delay;
        }
        let reason = ConnectFailure::classify(error);
        self.stats.connect_failure(reason);
        let first_time = self.last_logged != Some(reason);
        if reason.is_refusal() {
            if first_time {
                tracing::error!(
                    client_id, %error, %reason, advice = reason.advice(), retry_in = ?delay,
                    "MQTT connection refused"
                );
            } else {
                tracing::debug!(client_id, %reason, retry_in = ?delay, "MQTT connection refused again");
            }
            self.state
                .send_replace(ConnectionState::Refused { since, reason });
        } else {
            tracing::warn!(client_id, %error, %reason, retry_in = ?delay, "MQTT connection attempt failed");
            self.state
                .send_replace(ConnectionState::Disconnected { since });
        }
        self.last_logged = Some(reason);
        delay
    }

    /// Before the next attempt: a transport built from the files as they
    /// are now (a rotated certificate takes effect here). If they cannot
    /// be read or parsed, the previous transport stays and a warning names
    /// the file: a renewal caught half-written must not stop reconnects.
    pub(crate) fn prepare(&mut self, options: &mut rumqttc::MqttOptions, client_id: &str) {
        match self.connector.build() {
            Ok(transport) => {
                options.set_transport(transport);
            }
            Err(error) => tracing::warn!(
                client_id, %error,
                "TLS files could not be loaded; reconnecting with the previous ones"
            ),
        }
    }

    /// The task ends.
    pub(crate) fn closed(&mut self) {
        if self.connected {
            self.connected = false;
            self.stats.metrics.connected(false);
        }
        self.state.send_replace(ConnectionState::Closed);
    }
}

/// Tells an event-loop task to stop.
///
/// The task checks the flag before each poll and waits on the `Notify`
/// only while rumqttc has nothing ready: polling a pending `Notified` takes
/// the `Notify`'s lock, which for every event would be a lock round trip
/// for nothing.
#[derive(Default)]
pub(crate) struct Shutdown {
    flag: AtomicBool,
    notify: Notify,
}

impl Shutdown {
    /// Asks the task to stop.
    pub(crate) fn trigger(&self) {
        self.flag.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    /// Whether the task was asked to stop.
    pub(crate) fn is_triggered(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Completes once the task is asked to stop (also if that happened
    /// before the first poll).
    pub(crate) fn notified(&self) -> Notified<'_> {
        self.notify.notified()
    }
}

/// Cleans up rumqttc after `poll` returned an error.
///
/// rumqttc keeps (1) events it queued before the failure (they would be
/// returned after the next CONNACK, mixed with the new connection's), (2)
/// the unacknowledged publishes and the requests it drained from its
/// channel in `pending`, to re-send them if the broker resumes the session,
/// and (3) a publish that collided on a packet id (never cleared by
/// rumqttc itself). This takes (1) for the caller to process now, discards
/// (2) and (3) because the caller re-sends from its own queue, and returns
/// how many publishes rumqttc had taken from its channel without reporting
/// them as written (the drained ones plus the collided one): they are the
/// oldest of the caller's unreported hand-offs.
pub(crate) fn take_stale(eventloop: &mut EventLoop) -> (Vec<Event>, usize) {
    let events: Vec<Event> = eventloop.state.events.drain(..).collect();
    let drained = eventloop
        .pending
        .iter()
        .filter(|r| matches!(r, Request::Publish(p) if p.pkid == 0))
        .count();
    let collided = usize::from(eventloop.state.collision.take().is_some());
    eventloop.pending.clear();
    (events, drained + collided)
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(stable_after: Duration) -> Link {
        let config = BackoffConfig::exponential(Duration::from_millis(10), Duration::from_secs(1));
        let mqtt = crate::mqtt::MqttConfig::default().client_id("c");
        let (_, _, connector) = mqtt.to_options().unwrap();
        let (mut link, _) = Link::new(config, Arc::new(Stats::default()), connector);
        link.stable_after = stable_after;
        link
    }

    fn reset_by_peer() -> ConnectionError {
        ConnectionError::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
    }

    /// Connections that break right after their CONNACK back off further
    /// each time; one that lasted resets the schedule.
    #[test]
    fn flapping_connections_keep_backing_off() {
        let mut flapping = link(Duration::from_secs(3600));
        let delays: Vec<Duration> = (0..4)
            .map(|_| {
                flapping.on_connack(false, "c");
                flapping.on_error(&reset_by_peer(), "c")
            })
            .collect();
        let ms = |d: &Duration| d.as_millis();
        assert_eq!(delays.iter().map(ms).collect::<Vec<_>>(), [10, 20, 40, 80]);

        let mut stable = link(Duration::ZERO);
        for _ in 0..4 {
            stable.on_connack(false, "c");
            assert_eq!(
                stable.on_error(&reset_by_peer(), "c"),
                Duration::from_millis(10)
            );
        }
        // Failed attempts (never connected) back off too.
        assert_eq!(
            stable.on_error(&reset_by_peer(), "c"),
            Duration::from_millis(20)
        );
    }
}
