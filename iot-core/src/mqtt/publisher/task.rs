//! The publisher's connection task: polls rumqttc, keeps the queue's
//! bookkeeping, reconnects with backoff.

use std::sync::Arc;

use rumqttc::{Event, EventLoop, Incoming};

use super::super::connection::{Link, take_stale};
use super::super::metrics::DropReason;
use super::shared::Shared;
use super::writer::Writer;

/// The connection task: polls rumqttc, keeps the queue's bookkeeping, and
/// reconnects with backoff.
pub(super) async fn run(shared: Arc<Shared>, mut eventloop: EventLoop, mut link: Link) {
    // One `Notified` for the task's life: creating one per event costs two
    // lock round trips on the `Notify`'s waiter list.
    let shutdown = shared.shutdown.notified();
    let mut shutdown = std::pin::pin!(shutdown);
    let kick = shared.kick.notified();
    let mut kick = std::pin::pin!(kick);
    let mut writer = Writer::new();
    loop {
        if shared.shutdown.is_triggered() {
            break;
        }
        // The write first: it completes at once unless the socket is
        // full, and then the shutdown must not wait for it.
        let written = tokio::select! {
            biased;
            written = writer.write_ready(&shared, &mut eventloop) => written,
            () = shutdown.as_mut() => break,
        };
        // QoS 0 publishes of a failed run, to send again (`Broken`).
        let mut unsent = 0;
        let polled = match written {
            Err(broken) => {
                // What `poll` does after its own errors: drop the
                // connection, move rumqttc's unacknowledged publishes to
                // its `pending` list (which `take_stale` discards).
                eventloop.clean();
                unsent = broken.unsent;
                Err(broken.error)
            }
            // rumqttc first: the shutdown and the kick are looked at only
            // while it waits. The kick interrupts `poll` only while
            // connected: there it waits on the socket and the keepalive,
            // which a later `poll` resumes (its read is buffered by the
            // codec and its events stay queued; a packet it writes is
            // encoded at once, its write buffer being empty (`Writer`), and
            // a flush left half-done is finished by the next write); a
            // connection attempt would be dropped half-way. Not after a
            // collision either: nothing new can be written until `poll`
            // reads the acknowledgement that frees the packet id.
            Ok(()) => {
                let kickable = eventloop.network.is_some() && eventloop.state.collision.is_none();
                tokio::select! {
                    biased;
                    polled = eventloop.poll() => polled,
                    () = shutdown.as_mut() => break,
                    () = kick.as_mut(), if kickable => {
                        kick.set(shared.kick.notified());
                        writer.poll_interrupted();
                        continue;
                    }
                }
            }
        };
        match polled {
            Ok(Event::Incoming(Incoming::ConnAck(ack))) => {
                link.on_connack(ack.session_present, &shared.client_id);
                shared.on_event(Event::Incoming(Incoming::ConnAck(ack)));
            }
            Ok(event) => {
                if !shared.on_event(event) {
                    break;
                }
            }
            Err(error) => {
                let (stale, drained) = take_stale(&mut eventloop);
                for event in stale {
                    shared.on_event(event);
                }
                let closing = {
                    let mut core = shared.lock();
                    core.connected = false;
                    let moved = core.queue.reset(drained + unsent);
                    if moved > 0 {
                        tracing::debug!(moved, "unacknowledged frames will be re-sent");
                    }
                    shared.stats.set_queue(core.queue.len(), core.queue.bytes());
                    core.closing
                };
                let delay = link.on_error(&error, &shared.client_id);
                shared.wake_waiters();
                if closing {
                    break;
                }
                tokio::select! {
                    biased;
                    () = shutdown.as_mut() => break,
                    () = tokio::time::sleep(delay) => {}
                }
                link.prepare(&mut eventloop.mqtt_options, &shared.client_id);
            }
        }
    }
    {
        // Whatever is still queued is given up, and counted; with a spool
        // it stays on disk for the next publisher instead.
        let mut core = shared.lock();
        core.connected = false;
        core.closed = true;
        core.release_spooled();
        let left = core.queue.clear();
        core.unacked_at_close = left;
        shared.stats.set_queue(0, 0);
        if left > 0 && core.spooled() {
            tracing::info!(
                client_id = %shared.client_id,
                unacked = left,
                "publisher stopped; unacknowledged frames stay in the spool for the next start"
            );
        } else if left > 0 {
            shared.stats.dropped(DropReason::Closed, left as u64);
            tracing::warn!(
                client_id = %shared.client_id,
                unacked = left,
                "publisher stopped with unacknowledged frames"
            );
        }
    }
    link.closed();
    shared.wake_waiters();
}
