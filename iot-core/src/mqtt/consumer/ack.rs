//! [`AckMode::Manual`](crate::mqtt::AckMode::Manual): the broker gets a
//! frame's PUBACK only once the application acknowledged its handle.
//!
//! The window holds, in arrival order, the QoS 1 messages of the current
//! connection not acknowledged to the broker yet. A slot is *done* when
//! its frame's handle is acknowledged, or at once for what the application
//! never sees (duplicates, births, error items). PUBACKs leave from the
//! front only, so they follow the order the PUBLISHes arrived in (MQTT
//! 3.1.1, 4.6) while handles complete in any order.
//!
//! PUBACKs are written by the connection task itself, straight to the
//! socket between two reads, not through rumqttc's request channel:
//! rumqttc takes one request per read of up to ten packets, so under load
//! acknowledgements queued there fall behind the messages arriving, and
//! the broker keeps its in-flight window full.
//!
//! Packet ids belong to one connection. When it is lost the slots are
//! void: the broker redelivers their messages to the session, and a
//! redelivery of a frame the application still holds is linked to its
//! handle (the slot on the new connection waits for it) instead of being
//! acknowledged as a duplicate. A handle given back (`nack` or drop)
//! needs a new connection too, since MQTT 3.1.1 redelivers only on
//! reconnect: the window asks the connection task for one, and marks the
//! frame *returned* so its redelivery is delivered again rather than
//! suppressed by the ledger. If the broker lost the session instead
//! (CONNACK without `session_present`), no redelivery will come: returned
//! frames are reported missing.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::super::state::Stats;

/// One frame: the ledger's identity of a reading batch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct FrameKey {
    pub(super) device: String,
    pub(super) epoch: u64,
    pub(super) seq: u64,
}

/// A QoS 1 message of the current connection.
#[derive(Debug, Clone, Copy)]
struct Slot {
    pkid: u16,
    done: bool,
}

/// A frame the application holds.
#[derive(Debug, Clone, Copy)]
struct Held {
    /// Its slot on the current connection; `None` while its redelivery is
    /// awaited (the connection that delivered it was lost).
    slot: Option<u64>,
    /// The broker session it was delivered in.
    session: u64,
}

#[derive(Debug, Default)]
struct Inner {
    /// Id of `slots[0]`. Ids grow for the consumer's life, so a slot id of
    /// a lost connection is below it.
    front: u64,
    slots: VecDeque<Slot>,
    held: HashMap<FrameKey, Held>,
    /// Frames given back, whose redelivery is delivered again.
    returned: HashMap<FrameKey, u64>,
    /// Frames given back whose redelivery cannot come: to report missing.
    lost: Vec<FrameKey>,
    /// Broker sessions lost so far.
    session: u64,
}

/// What a redelivered (duplicate) frame is.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Redelivery {
    /// The application holds it: its handle now waits on the new slot.
    Held,
    /// The application gave it back: deliver it again.
    Returned,
    /// Already acknowledged by the application: acknowledged now.
    Duplicate,
}

/// The unacknowledged messages of a consumer and the frames its
/// application holds.
#[derive(Debug)]
pub(super) struct AckWindow {
    inner: Mutex<Inner>,
    /// Wakes the connection task: PUBACKs to write, a reconnect asked
    /// for, frames to report missing.
    pub(super) wake: Notify,
    reconnect: AtomicBool,
    capacity: usize,
    stats: Arc<Stats>,
}

impl AckWindow {
    pub(super) fn new(capacity: usize, stats: Arc<Stats>) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            wake: Notify::new(),
            reconnect: AtomicBool::new(false),
            capacity,
            stats,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A QoS 1 message arrived on the current connection: its slot id.
    pub(super) fn admit(&self, pkid: u16) -> u64 {
        let mut inner = self.lock();
        inner.slots.push_back(Slot { pkid, done: false });
        self.stats.set_unacked(inner.slots.len() as u64);
        inner.front + inner.slots.len() as u64 - 1
    }

    /// Acknowledges a slot the application never sees.
    pub(super) fn complete(&self, slot: u64) {
        let mut inner = self.lock();
        self.mark_done(&mut inner, slot);
    }

    /// The application takes a frame: its handle.
    pub(super) fn hold(self: &Arc<Self>, key: FrameKey, slot: Option<u64>) -> AckHandle {
        let mut inner = self.lock();
        let session = inner.session;
        inner.returned.remove(&key);
        inner.held.insert(key.clone(), Held { slot, session });
        AckHandle {
            window: self.clone(),
            key: Some(key),
        }
    }

    /// A frame the ledger has seen arrived again, in `slot` (if any).
    /// Completes the slot unless the frame's handle now waits on it.
    pub(super) fn on_duplicate(&self, key: &FrameKey, slot: Option<u64>) -> Redelivery {
        let mut inner = self.lock();
        if inner.returned.remove(key).is_some() {
            return Redelivery::Returned;
        }
        let front = inner.front;
        if let (Some(held), Some(slot)) = (inner.held.get_mut(key), slot) {
            // Unless the frame already has a live slot (the same frame sent
            // twice on one connection): then this copy is a plain duplicate.
            if held.slot.is_none_or(|s| s < front) {
                held.slot = Some(slot);
                return Redelivery::Held;
            }
        }
        if let Some(slot) = slot {
            self.mark_done(&mut inner, slot);
        }
        Redelivery::Duplicate
    }

    /// The application acknowledged (`true`) or gave back a frame.
    fn resolve(&self, key: FrameKey, acked: bool) {
        let mut inner = self.lock();
        let Some(held) = inner.held.remove(&key) else {
            return;
        };
        let live = held.slot.filter(|s| *s >= inner.front);
        if acked {
            if let Some(slot) = live {
                self.mark_done(&mut inner, slot);
            }
            return;
        }
        self.stats.returned(1);
        if held.session != inner.session {
            // Delivered in a session the broker has lost since.
            inner.lost.push(key);
            self.wake.notify_one();
            return;
        }
        inner.returned.insert(key, held.session);
        if live.is_some() {
            // Its slot can never be acknowledged: only a new connection
            // frees the window and makes the broker redeliver.
            self.reconnect.store(true, Ordering::SeqCst);
        }
        self.wake.notify_one();
    }

    fn mark_done(&self, inner: &mut Inner, slot: u64) {
        let Some(index) = slot.checked_sub(inner.front) else {
            return; // a lost connection's slot
        };
        if let Some(s) = usize::try_from(index)
            .ok()
            .and_then(|i| inner.slots.get_mut(i))
        {
            s.done = true;
            if index == 0 {
                self.wake.notify_one();
            }
        }
    }

    /// The packet ids of the done slots at the front, in order, taken off
    /// the window: the connection task writes their PUBACKs now.
    pub(super) fn take_sendable(&self, pkids: &mut Vec<u16>) {
        let mut inner = self.lock();
        while inner.slots.front().is_some_and(|s| s.done) {
            if let Some(slot) = inner.slots.pop_front() {
                pkids.push(slot.pkid);
                inner.front += 1;
            }
        }
        if !pkids.is_empty() {
            self.stats.set_unacked(inner.slots.len() as u64);
        }
    }

    /// Whether PUBACKs are ready to be written.
    pub(super) fn has_sendable(&self) -> bool {
        self.lock().slots.front().is_some_and(|s| s.done)
    }

    /// Whether the window is full: nothing more is read until its oldest
    /// message is acknowledged.
    pub(super) fn is_full(&self) -> bool {
        self.lock().slots.len() >= self.capacity
    }

    /// Whether a reconnect was asked for (a handle given back).
    pub(super) fn reconnect_pending(&self) -> bool {
        self.reconnect.load(Ordering::SeqCst)
    }

    /// Whether a reconnect was asked for; clears it.
    pub(super) fn take_reconnect(&self) -> bool {
        self.reconnect.swap(false, Ordering::SeqCst)
    }

    /// The connection is gone: its slots are void.
    pub(super) fn connection_lost(&self) {
        let mut inner = self.lock();
        inner.front += inner.slots.len() as u64;
        inner.slots.clear();
        self.stats.set_unacked(0);
        self.reconnect.store(false, Ordering::SeqCst);
    }

    /// A CONNACK: if the broker has no session, frames given back will not
    /// be redelivered, and those held are of a session that is gone.
    pub(super) fn connected(&self, session_present: bool) {
        if session_present {
            return;
        }
        let mut inner = self.lock();
        inner.session += 1;
        let returned: Vec<FrameKey> = inner.returned.drain().map(|(k, _)| k).collect();
        inner.lost.extend(returned);
    }

    /// Frames given back that will never be redelivered.
    pub(super) fn take_lost(&self) -> Vec<FrameKey> {
        std::mem::take(&mut self.lock().lost)
    }
}

/// The acknowledgement of one frame received with
/// [`AckMode::Manual`](crate::mqtt::AckMode::Manual).
///
/// [`ack`](Self::ack) once the frame is durable (committed to a database,
/// forwarded and acknowledged downstream); the broker gets its PUBACK when
/// every message that arrived before it is acknowledged too.
/// [`nack`](Self::nack), or dropping the handle, gives the frame back: the
/// broker redelivers it and the consumer delivers it again.
///
/// An acknowledgement can only reach the broker on the connection that
/// delivered the frame; after a reconnect the broker redelivers it, and the
/// consumer acknowledges the redelivery if the handle was acknowledged by
/// then, or links it to the handle if not. Handles outlive the consumer,
/// but do nothing once it is closed.
#[must_use = "dropping the handle gives the frame back for redelivery; call `ack` once it is durable"]
pub struct AckHandle {
    window: Arc<AckWindow>,
    /// `None` once resolved.
    key: Option<FrameKey>,
}

impl std::fmt::Debug for AckHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("AckHandle");
        if let Some(key) = &self.key {
            d.field("device", &key.device)
                .field("epoch", &key.epoch)
                .field("seq", &key.seq);
        }
        d.finish()
    }
}

impl AckHandle {
    /// The frame is durable: let the broker forget it.
    pub fn ack(mut self) {
        if let Some(key) = self.key.take() {
            self.window.resolve(key, true);
        }
    }

    /// The frame is not stored and should come again: the broker
    /// redelivers it (the consumer reconnects to make it). Dropping the
    /// handle does the same.
    pub fn nack(mut self) {
        if let Some(key) = self.key.take() {
            self.window.resolve(key, false);
        }
    }
}

impl Drop for AckHandle {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.window.resolve(key, false);
        }
    }
}
