//! Coalesced writes: the connection task writes the queue's ready
//! publishes to rumqttc's state and socket itself, a run at a time, and
//! flushes once.
//!
//! Through rumqttc's request channel every publish is taken, written and
//! flushed on its own: one write syscall per publish and, over TLS, one
//! record, which the client encrypts and the broker decrypts one at a
//! time. Written here, the window's free places go out as one run (issue
//! #18). The queue's bookkeeping does not change: rumqttc's state assigns
//! the packet ids in write order and queues `Outgoing::Publish(pkid)` for
//! each, which `poll` returns and the task processes like before.

use std::time::Duration;

use rumqttc::{
    ConnectionError, Event, EventLoop, MqttState, Outgoing, Packet, Publish, Request, StateError,
};

use super::super::queue::Item;
use super::shared::Shared;

/// The connection task's writer; keeps its buffer between runs.
pub(super) struct Writer {
    packets: Vec<Packet>,
    /// rumqttc's `poll` was cancelled (the task's kick) and may have left
    /// bytes in its write buffer: flush them before the next run.
    poll_interrupted: bool,
}

impl Writer {
    pub(super) fn new() -> Self {
        Self {
            packets: Vec::new(),
            poll_interrupted: false,
        }
    }

    /// The task cancelled rumqttc's `poll`; see `write_ready`.
    pub(super) fn poll_interrupted(&mut self) {
        self.poll_interrupted = true;
    }

    /// Writes the publishes the queue has ready (up to the free window)
    /// and flushes once.
    ///
    /// Does nothing while `poll` has events to return (processing them
    /// first frees window places, so the run is longer), while not
    /// connected, and while a publish collided on a packet id: rumqttc
    /// holds that one and writes it when the id is acknowledged, and, as
    /// in its own loop, nothing new may go out before it.
    ///
    /// First it flushes what rumqttc's own `poll` left buffered when the
    /// task's kick interrupted it ([`poll_interrupted`](Self::poll_interrupted)), so `poll` always
    /// starts with an empty write buffer: a packet it writes (a PINGREQ,
    /// the publish held back after a collision) is then encoded without
    /// waiting, and the kick cannot drop it half-way.
    ///
    /// An error means the connection broke; the caller cleans up as
    /// `poll` does after its own errors (`EventLoop::clean`). The run's
    /// QoS 1 publishes have their `Outgoing::Publish(pkid)` events queued:
    /// the queue treats them as written and unacknowledged, and sends them
    /// again. A QoS 0 publish has no acknowledgement to wait for, so its
    /// event would complete it: those events are taken out here
    /// ([`Broken::unsent`]) and the caller has the queue send the frames
    /// again (those of the run that had left in an earlier buffer-full
    /// write then arrive twice; consumers drop duplicates by sequence).
    pub(super) async fn write_ready(
        &mut self,
        shared: &Shared,
        eventloop: &mut EventLoop,
    ) -> Result<(), Broken> {
        let EventLoop {
            state,
            network,
            network_options,
            ..
        } = eventloop;
        let Some(network) = network.as_mut() else {
            return Ok(());
        };
        let timeout = Duration::from_secs(network_options.connection_timeout());
        // Only a cancelled `poll` leaves bytes behind: every `poll` that
        // returns has flushed (or failed, and the connection is gone).
        if std::mem::take(&mut self.poll_interrupted) {
            step(timeout, network.flush())
                .await
                .map_err(Broken::before_the_run)?;
        }
        if !state.events.is_empty() || state.collision.is_some() {
            return Ok(());
        }
        let packets = &mut self.packets;
        packets.clear();
        let mut failed: Option<StateError> = None;
        let controls_handed_off;
        {
            let mut guard = shared.lock();
            let core = &mut *guard;
            if !core.connected {
                return Ok(());
            }
            let controls = core.queue.has_control();
            let qos = shared.qos;
            let telemetry_topic = &core.telemetry_topic;
            let done = core.queue.handoff(|item| {
                if state.collision.is_some() {
                    return false;
                }
                let publish = match item {
                    Item::Control(c) => {
                        let mut p = Publish::from_bytes(
                            c.topic.as_str(),
                            rumqttc::QoS::AtLeastOnce,
                            c.payload.clone(),
                        );
                        p.retain = true;
                        p
                    }
                    Item::Frame(payload) => {
                        Publish::from_bytes(telemetry_topic.as_str(), qos, payload)
                    }
                };
                match state.handle_outgoing_packet(Request::Publish(publish)) {
                    Ok(Some(packet)) => {
                        packets.push(packet);
                        true
                    }
                    // Collided: rumqttc keeps it and writes it later; it
                    // counts as handed off (`take_stale` accounts for it
                    // if the connection breaks first).
                    Ok(None) => true,
                    Err(e) => {
                        failed = Some(e);
                        false
                    }
                }
            });
            if done.resent > 0 {
                shared.stats.resent(done.resent);
            }
            shared.stats.set_queue(core.queue.len(), core.queue.bytes());
            controls_handed_off = controls && !core.queue.has_control();
        }
        if controls_handed_off {
            // `close` waits for its offline status to be handed on before
            // it puts the DISCONNECT in rumqttc's channel; `poll` takes
            // that only after this run is written.
            shared.wake_waiters();
        }
        if let Some(e) = failed {
            let unsent = take_unsent_qos0(state);
            return Err(Broken {
                error: ConnectionError::MqttState(e),
                unsent,
            });
        }
        if packets.is_empty() {
            return Ok(());
        }
        // `write` only buffers (and flushes when the buffer is full), so
        // the run leaves in as few writes as the buffer allows. A broker
        // that stops reading must not hold the task forever, so each step
        // has the timeout rumqttc gives its flushes: a step is one packet
        // or one buffer-full, so a slow link that keeps moving is never cut
        // off, where one timeout for a whole run (up to `max_inflight`
        // packets) could fail the same run on every connection.
        let write = async {
            for packet in packets.drain(..) {
                step(timeout, network.write(packet)).await?;
            }
            step(timeout, network.flush()).await
        };
        let error = match write.await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        Err(Broken {
            error,
            unsent: take_unsent_qos0(state),
        })
    }
}

/// One step of a run's write, within `timeout`.
async fn step(
    timeout: Duration,
    io: impl std::future::Future<Output = Result<(), StateError>>,
) -> Result<(), ConnectionError> {
    match tokio::time::timeout(timeout, io).await {
        Ok(done) => done.map_err(ConnectionError::MqttState),
        Err(_) => Err(ConnectionError::FlushTimeout),
    }
}

/// [`Writer::write_ready`] failed: the connection is broken.
#[derive(Debug)]
pub(super) struct Broken {
    /// Why.
    pub(super) error: ConnectionError,
    /// The QoS 0 publishes of the failed run, not confirmed written: the
    /// queue sends them again, as it does the publishes rumqttc held
    /// (`take_stale`'s `drained`).
    pub(super) unsent: usize,
}

impl Broken {
    /// Broken before any publish of a run was handed to rumqttc.
    fn before_the_run(error: ConnectionError) -> Self {
        Self { error, unsent: 0 }
    }
}

/// Takes the `Outgoing::Publish(0)` events (QoS 0 publishes) out of
/// `state`'s queue and returns how many there were.
///
/// Called after a failed run, when the queue holds only that run's events
/// (a run starts only with it empty). The run handed control publishes
/// (QoS 1) before frames, so the events left pair with the queue's first
/// FIFO places, and the QoS 0 frames are the places after them, which
/// `FrameQueue::reset` sends again when told they were not written.
fn take_unsent_qos0(state: &mut MqttState) -> usize {
    let before = state.events.len();
    state
        .events
        .retain(|e| !matches!(e, Event::Outgoing(Outgoing::Publish(0))));
    before - state.events.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// After a failed run of two control publishes (QoS 1) and three QoS 0
    /// frames, rumqttc's real state holds five events; the three QoS 0
    /// ones are taken out, the control ones stay in order.
    #[test]
    fn the_qos0_publishes_of_a_failed_run_are_taken_out() {
        let mut state = MqttState::new(10, false);
        let publish = |qos| Request::Publish(Publish::new("t", qos, vec![1u8]));
        for qos in [rumqttc::QoS::AtLeastOnce, rumqttc::QoS::AtLeastOnce] {
            assert!(
                state
                    .handle_outgoing_packet(publish(qos))
                    .unwrap()
                    .is_some()
            );
        }
        for _ in 0..3 {
            let p = publish(rumqttc::QoS::AtMostOnce);
            assert!(state.handle_outgoing_packet(p).unwrap().is_some());
        }
        assert_eq!(state.events.len(), 5);
        assert_eq!(take_unsent_qos0(&mut state), 3);
        let left: Vec<_> = state.events.iter().cloned().collect();
        assert_eq!(
            left,
            [
                Event::Outgoing(Outgoing::Publish(1)),
                Event::Outgoing(Outgoing::Publish(2)),
            ]
        );
        assert_eq!(take_unsent_qos0(&mut state), 0);
    }
}
