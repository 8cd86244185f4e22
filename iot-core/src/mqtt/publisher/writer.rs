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

use rumqttc::{ConnectionError, EventLoop, Packet, Publish, Request, StateError};

use super::super::queue::Item;
use super::shared::Shared;

/// The connection task's writer; keeps its buffer between runs.
pub(super) struct Writer {
    packets: Vec<Packet>,
}

impl Writer {
    pub(super) fn new() -> Self {
        Self {
            packets: Vec::new(),
        }
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
    /// An error means the connection broke; the caller cleans up as
    /// `poll` does after its own errors (`EventLoop::clean`). Publishes
    /// given to rumqttc's state but not written by then have their
    /// `Outgoing::Publish` events queued, so the queue treats them as
    /// written and unacknowledged, and sends them again.
    pub(super) async fn write_ready(
        &mut self,
        shared: &Shared,
        eventloop: &mut EventLoop,
    ) -> Result<(), ConnectionError> {
        let EventLoop {
            state,
            network,
            network_options,
            ..
        } = eventloop;
        let Some(network) = network.as_mut() else {
            return Ok(());
        };
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
            return Err(ConnectionError::MqttState(e));
        }
        if packets.is_empty() {
            return Ok(());
        }
        // `write` only buffers (and flushes when the buffer is full), so
        // the run leaves in as few writes as the buffer allows. One
        // timeout for all of it, as rumqttc has for its flushes: a broker
        // that stops reading must not hold the task forever.
        let write = async {
            for packet in packets.drain(..) {
                network.write(packet).await?;
            }
            network.flush().await
        };
        let timeout = Duration::from_secs(network_options.connection_timeout());
        match tokio::time::timeout(timeout, write).await {
            Ok(written) => written.map_err(ConnectionError::MqttState),
            Err(_) => Err(ConnectionError::FlushTimeout),
        }
    }
}
