//! State shared by the `Publisher` handles and the connection task: the
//! queue and its bookkeeping behind one lock, counters, wake-ups.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use rumqttc::{AsyncClient, Event, Incoming, Outgoing as RumqttOutgoing, QoS};
use tokio::sync::Notify;

use crate::codec::Encoder;

use super::super::connection::Shutdown;
use super::super::queue::{Control, FrameQueue, Outgoing};
use super::super::state::Stats;
use super::{OFFLINE, ONLINE};

pub(super) struct Shared {
    pub(super) core: Mutex<Core>,
    pub(super) stats: Arc<Stats>,
    /// Stops the task.
    pub(super) shutdown: Shutdown,
    /// Tells the task that publishes are ready to be written.
    pub(super) kick: Notify,
    /// Wakes `flush`, `send` and `close` when frames finish or controls go
    /// out.
    pub(super) progress: Notify,
    /// Tasks waiting on `progress`: events skip the `Notify` (a lock) when
    /// nobody waits.
    pub(super) waiters: AtomicUsize,
    pub(super) device_id: String,
    /// The session epoch stamped on every frame and birth.
    pub(super) epoch: u64,
    pub(super) client_id: String,
    pub(super) qos: QoS,
    /// Largest frame whose PUBLISH fits `max_packet_size`.
    pub(super) max_frame: usize,
    /// Largest birth message whose PUBLISH fits `max_packet_size`.
    pub(super) max_birth: usize,
    pub(super) max_bytes: usize,
    /// The spool `send` waits on (`FsyncPolicy::Always` only); set at start.
    #[cfg(feature = "spool")]
    pub(super) durable: Option<crate::mqtt::spool::Spool>,
}

pub(super) struct Core {
    pub(super) queue: FrameQueue,
    pub(super) client: AsyncClient,
    pub(super) connected: bool,
    pub(super) closing: bool,
    pub(super) closed: bool,
    /// Frames still queued when the task ended.
    pub(super) unacked_at_close: usize,
    pub(super) buf: BytesMut,
    pub(super) encoder: Encoder,
    pub(super) telemetry_topic: String,
    pub(super) status_topic: String,
    pub(super) birth_topic: String,
    pub(super) birth: Option<Bytes>,
    /// The spool behind the queue; the queue's tags are its record ids.
    #[cfg(feature = "spool")]
    pub(super) spool: Option<crate::mqtt::spool::Spool>,
}

impl Core {
    /// Releases the spool records of frames the queue finished with.
    #[cfg(feature = "spool")]
    pub(super) fn release_spooled(&mut self) {
        let Some(spool) = &self.spool else { return };
        for tag in self.queue.take_released() {
            if let Err(e) = spool.release(crate::mqtt::spool::RecordId::new(tag)) {
                // The record stays on disk and is sent again after a
                // restart: a duplicate, which consumers suppress.
                tracing::warn!(record = tag, error = %e, "could not release a spool record");
            }
        }
    }

    #[cfg(not(feature = "spool"))]
    pub(super) fn release_spooled(&mut self) {}

    /// Whether frames are kept in a spool.
    pub(super) fn spooled(&self) -> bool {
        #[cfg(feature = "spool")]
        return self.spool.is_some();
        #[cfg(not(feature = "spool"))]
        false
    }
}

/// Counts a waiter on `Shared::progress` while it lives.
pub(super) struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    /// Registers a waiter on `progress`, before it checks its condition:
    /// an event that changed the state after the waiter looked then sees
    /// the count (both sides use `SeqCst`).
    pub(super) fn waiting(&self) -> Waiting<'_> {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        Waiting(&self.waiters)
    }

    /// Wakes the waiters on `progress`, if any.
    pub(super) fn wake_waiters(&self) {
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.progress.notify_waiters();
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Core> {
        // A panic while holding the lock leaves consistent data behind
        // (every method restores its invariants before it can panic).
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// After a handle changed the queue: wakes the connection task when
    /// publishes are ready and the window has room (the task writes them
    /// itself, as one run: `writer`), then [`settle`](Self::settle)s.
    pub(super) fn pump(&self, core: &mut Core) {
        if core.connected && core.queue.has_ready() {
            // Stores a permit if the task is busy, so a frame queued while
            // it writes is not left waiting for the next event.
            self.kick.notify_one();
        }
        self.settle(core);
    }

    /// After the queue changed: releases finished spool records, updates
    /// the queue gauges. The connection task calls this rather than
    /// `pump`: it writes whatever is ready before it polls again, so a
    /// kick from itself would only send it round its loop once more.
    pub(super) fn settle(&self, core: &mut Core) {
        core.release_spooled();
        self.stats.set_queue(core.queue.len(), core.queue.bytes());
    }

    /// After frames left the queue (in the connection task): settles, and
    /// wakes the waiters once the queue has drained to its low-water mark.
    /// A producer blocked in `send` on a full queue then refills it in
    /// bursts instead of being woken, from another thread, for every frame
    /// written. (Control publishes handed on wake them from `writer`.)
    pub(super) fn settle_and_wake(&self, mut core: MutexGuard<'_, Core>) {
        self.settle(&mut core);
        let wake = drained_enough(core.queue.len(), core.queue.limits().0);
        drop(core);
        if wake {
            self.wake_waiters();
        }
    }

    pub(super) async fn wait_controls_sent(&self) {
        self.wait_until(|| (!self.lock().queue.has_control()).then_some(()))
            .await;
    }

    /// Waits on `progress` until `ready` gives a value. The waiter registers
    /// (and the `Notified` is enabled) before `ready` looks, so an event
    /// between the look and the wait still wakes it.
    pub(super) async fn wait_until<T>(&self, mut ready: impl FnMut() -> Option<T>) -> T {
        let _waiting = self.waiting();
        loop {
            let notified = self.progress.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if let Some(value) = ready() {
                return value;
            }
            notified.await;
        }
    }

    pub(super) fn on_event(&self, event: Event) -> bool {
        match event {
            Event::Incoming(Incoming::ConnAck(ack)) => {
                let mut core = self.lock();
                core.connected = true;
                if let Some(birth) = core.birth.clone() {
                    let topic = core.birth_topic.clone();
                    core.queue.push_control(Control {
                        topic,
                        payload: birth,
                    });
                }
                let topic = core.status_topic.clone();
                let closing = core.closing;
                core.queue.push_control(Control {
                    topic,
                    payload: Bytes::from_static(if closing { OFFLINE } else { ONLINE }),
                });
                tracing::debug!(
                    session_present = ack.session_present,
                    queued = core.queue.len(),
                    "publisher connected; re-sending unacknowledged frames"
                );
                self.settle(&mut core);
            }
            Event::Outgoing(RumqttOutgoing::Publish(pkid)) => {
                let mut core = self.lock();
                match core.queue.on_outgoing_publish(pkid) {
                    Outgoing::Frame { done } => self.stats.sent(done),
                    Outgoing::Control => {}
                    Outgoing::Unexpected => {
                        tracing::warn!(pkid, "publish written that the publisher did not hand off");
                    }
                }
                self.settle_and_wake(core);
            }
            Event::Incoming(Incoming::PubAck(ack)) => {
                let mut core = self.lock();
                if core.queue.on_puback(ack.pkid) {
                    self.stats.acked();
                }
                self.settle_and_wake(core);
            }
            Event::Outgoing(RumqttOutgoing::Disconnect) if self.lock().closing => return false,
            _ => {}
        }
        true
    }
}

/// Whether a queue of `len` frames (of at most `max_frames`) has drained
/// to its low-water mark: an eighth of it free, at least one frame.
pub(super) fn drained_enough(len: usize, max_frames: usize) -> bool {
    len <= max_frames - (max_frames / 8).max(1)
}
