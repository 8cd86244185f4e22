//! The publisher's store-and-forward queue and its packet-id bookkeeping.
//!
//! rumqttc's `publish` returns no packet id, and rumqttc forgets queued and
//! in-flight publishes when it reconnects without a session. So the
//! publisher keeps every frame here until the broker acknowledges it:
//!
//! 1. `push` stores the encoded frame (bounded by frames and bytes; the
//!    [`OverflowPolicy`] decides what gives way, and every frame that does
//!    is counted).
//! 2. `handoff` gives frames, oldest first, to the publisher's connection
//!    task, which writes them through rumqttc's state (`publisher::writer`),
//!    while fewer than `window` (rumqttc's `inflight`) are outstanding, and
//!    records each in a FIFO. Control publishes (birth, status) go first
//!    and take FIFO places too.
//! 3. rumqttc assigns packet ids in the order it is given publishes and
//!    reports each as `Outgoing::Publish(pkid)`:
//!    `on_outgoing_publish` pops the FIFO's front and maps `pkid` to it.
//! 4. `Incoming::PubAck(pkid)` (`on_puback`) removes the mapped frame.
//! 5. When the connection breaks, `reset` moves every frame that rumqttc
//!    held (mapped ones, and the first `k` FIFO places that rumqttc took
//!    without reporting them: a publish that collided on a packet id) to a
//!    resend set; the next `handoff`s send them
//!    again, oldest first, before new frames.
//!
//! With a spool (feature `spool`) each frame also carries the id of its
//! record on disk (its *tag*); the queue lists the tags of frames that
//! finished (acknowledged, or dropped by the overflow policy) for the
//! publisher to release. Frames still queued at `clear` are not released:
//! the spool keeps them for the next start.

use std::collections::{BTreeSet, HashMap, VecDeque};

use bytes::Bytes;

use super::config::{OverflowPolicy, QueueConfig};

/// A publish handed to rumqttc and not yet acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handoff {
    /// A queued frame, by id.
    Frame(u64),
    /// A birth or status publish (not queued, re-sent on every connect).
    Control,
}

/// A control publish waiting for a hand-off place.
#[derive(Debug, Clone)]
pub(crate) struct Control {
    pub(crate) topic: String,
    pub(crate) payload: Bytes,
}

/// What `handoff` offers to send next.
#[derive(Debug)]
pub(crate) enum Item<'a> {
    /// A control publish: QoS 1, retained.
    Control(&'a Control),
    /// A frame.
    Frame(Bytes),
}

/// `push` could not store the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueueFull {
    pub(crate) frames: usize,
    pub(crate) bytes: usize,
}

/// Outcome of a hand-off pass.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HandedOff {
    pub(crate) frames: u64,
    pub(crate) resent: u64,
}

/// Result of an `Outgoing::Publish(pkid)` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outgoing {
    /// A frame was written; with QoS 0 it is also complete (`done`).
    Frame { done: bool },
    /// A control publish was written.
    Control,
    /// Nothing was waiting for this event (should not happen; logged).
    Unexpected,
}

#[derive(Debug)]
pub(crate) struct FrameQueue {
    config: QueueConfig,
    window: usize,
    /// Frames by id, starting at `front_id`; `None` once acked or dropped.
    /// The front entry is always `Some` (or the deque is empty).
    entries: VecDeque<Option<Bytes>>,
    front_id: u64,
    live: usize,
    bytes: usize,
    /// The first id never handed off.
    cursor: u64,
    /// Ids to hand off again, before `cursor`'s.
    resend: BTreeSet<u64>,
    control: VecDeque<Control>,
    /// Handed off, awaiting `Outgoing::Publish`, in channel order.
    fifo: VecDeque<Handoff>,
    /// Written with a packet id, awaiting PUBACK.
    inflight: HashMap<u16, Handoff>,
    /// With a spool: each entry's record id (aligned with `entries`), and
    /// the records of frames finished since the last `take_released`.
    journal: Option<Journal>,
}

#[derive(Debug, Default)]
struct Journal {
    tags: VecDeque<u64>,
    released: Vec<u64>,
}

impl FrameQueue {
    pub(crate) fn new(config: QueueConfig, window: usize) -> Self {
        Self {
            config,
            window: window.max(1),
            entries: VecDeque::new(),
            front_id: 0,
            live: 0,
            bytes: 0,
            cursor: 0,
            resend: BTreeSet::new(),
            control: VecDeque::new(),
            fifo: VecDeque::new(),
            inflight: HashMap::new(),
            journal: None,
        }
    }

    /// Makes every frame carry a tag (its spool record), from the next
    /// `push_tagged` on; see [`take_released`](Self::take_released). Called
    /// on an empty queue.
    #[cfg_attr(not(feature = "spool"), allow(dead_code))]
    pub(crate) fn enable_journal(&mut self) {
        debug_assert!(self.entries.is_empty(), "tags would not line up");
        self.journal = Some(Journal::default());
    }

    /// [`enable_journal`](Self::enable_journal), by value.
    #[cfg(test)]
    fn with_journal(mut self) -> Self {
        self.enable_journal();
        self
    }

    /// The tags of frames that finished since the last call: acknowledged
    /// (or, QoS 0, written), or dropped to make room.
    #[cfg_attr(not(feature = "spool"), allow(dead_code))]
    pub(crate) fn take_released(&mut self) -> Vec<u64> {
        self.journal
            .as_mut()
            .map(|j| std::mem::take(&mut j.released))
            .unwrap_or_default()
    }

    /// Frames queued (not yet acknowledged).
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Payload bytes queued.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The configured overflow policy.
    pub(crate) fn policy(&self) -> OverflowPolicy {
        self.config.policy
    }

    /// The frame and byte limits.
    pub(crate) fn limits(&self) -> (usize, usize) {
        (self.config.max_frames, self.config.max_bytes)
    }

    /// Whether control publishes wait for a hand-off place.
    pub(crate) fn has_control(&self) -> bool {
        !self.control.is_empty()
    }

    /// Publishes handed to rumqttc and not yet acknowledged or reset.
    pub(crate) fn outstanding(&self) -> usize {
        self.fifo.len() + self.inflight.len()
    }

    fn next_id(&self) -> u64 {
        self.front_id + self.entries.len() as u64
    }

    fn get(&self, id: u64) -> Option<&Bytes> {
        let idx = id.checked_sub(self.front_id)?;
        self.entries.get(usize::try_from(idx).ok()?)?.as_ref()
    }

    /// Stores a frame. Returns its id and how many old frames were dropped
    /// to make room (drop-oldest), or `QueueFull` (reject-new). The caller
    /// has checked `payload.len() <= max_bytes`.
    #[cfg(test)]
    pub(crate) fn push(&mut self, payload: Bytes) -> Result<(u64, usize), QueueFull> {
        self.push_with(payload, self.config.policy)
    }

    /// Like `push`, with `policy` instead of the configured one.
    #[cfg(test)]
    pub(crate) fn push_with(
        &mut self,
        payload: Bytes,
        policy: OverflowPolicy,
    ) -> Result<(u64, usize), QueueFull> {
        self.push_tagged(payload, policy, 0)
    }

    /// Like `push_with`, for a frame whose spool record is `tag`.
    pub(crate) fn push_tagged(
        &mut self,
        payload: Bytes,
        policy: OverflowPolicy,
        tag: u64,
    ) -> Result<(u64, usize), QueueFull> {
        let len = payload.len();
        let over =
            |q: &Self| q.live + 1 > q.config.max_frames || q.bytes + len > q.config.max_bytes;
        let mut dropped = 0;
        if over(self) {
            if policy == OverflowPolicy::RejectNew {
                return Err(QueueFull {
                    frames: self.live,
                    bytes: self.bytes,
                });
            }
            while over(self) && self.live > 0 {
                self.drop_oldest();
                dropped += 1;
            }
        }
        let id = self.next_id();
        self.entries.push_back(Some(payload));
        if let Some(j) = &mut self.journal {
            j.tags.push_back(tag);
        }
        self.live += 1;
        self.bytes += len;
        Ok((id, dropped))
    }

    /// Gives up the oldest frame that is not waiting in rumqttc's request
    /// channel. Those are written whatever the queue does (the channel
    /// outlives a connection), so dropping one would count as lost a frame
    /// that is sent. Only when every queued frame is in the channel does
    /// the front go (counted, though rumqttc may still send it).
    fn drop_oldest(&mut self) {
        let in_channel = |q: &Self, id: u64| q.fifo.iter().any(|h| *h == Handoff::Frame(id));
        let oldest = (self.front_id..self.next_id())
            .find(|&id| self.get(id).is_some() && !in_channel(self, id));
        match oldest {
            Some(id) if id != self.front_id => {
                // Finished like an acknowledged frame (its spool record is
                // released), but the caller counts it as dropped.
                self.complete(id);
            }
            _ => self.drop_front(),
        }
    }

    fn drop_front(&mut self) {
        let tag = self.journal.as_mut().and_then(|j| j.tags.pop_front());
        if let Some(Some(b)) = self.entries.pop_front() {
            self.live -= 1;
            self.bytes -= b.len();
            if let (Some(j), Some(tag)) = (&mut self.journal, tag) {
                j.released.push(tag);
            }
        }
        self.front_id += 1;
        self.trim();
    }

    /// Pops finished entries off the front.
    fn trim(&mut self) {
        while matches!(self.entries.front(), Some(None)) {
            self.entries.pop_front();
            if let Some(j) = &mut self.journal {
                j.tags.pop_front();
            }
            self.front_id += 1;
        }
        self.cursor = self.cursor.max(self.front_id);
    }

    /// Marks a frame finished. Returns whether it was still queued.
    fn complete(&mut self, id: u64) -> bool {
        let Some(idx) = id
            .checked_sub(self.front_id)
            .and_then(|i| usize::try_from(i).ok())
        else {
            return false;
        };
        let Some(slot) = self.entries.get_mut(idx) else {
            return false;
        };
        match slot.take() {
            Some(b) => {
                self.live -= 1;
                self.bytes -= b.len();
                if let Some(j) = &mut self.journal {
                    if let Some(&tag) = j.tags.get(idx) {
                        j.released.push(tag);
                    }
                }
                self.trim();
                true
            }
            None => false,
        }
    }

    /// Queues a control publish; it goes before any frame.
    pub(crate) fn push_control(&mut self, control: Control) {
        self.control.push_back(control);
    }

    /// Hands publishes to `send` (control first, then frames to resend,
    /// then new frames) while fewer than `window` are outstanding and
    /// `send` accepts them.
    pub(crate) fn handoff(&mut self, mut send: impl FnMut(Item<'_>) -> bool) -> HandedOff {
        let mut done = HandedOff::default();
        while self.outstanding() < self.window {
            if let Some(c) = self.control.front() {
                if !send(Item::Control(c)) {
                    break;
                }
                self.control.pop_front();
                self.fifo.push_back(Handoff::Control);
                continue;
            }
            // Frames dropped since they were marked for resending are skipped.
            while let Some(&id) = self.resend.first() {
                if self.get(id).is_some() {
                    break;
                }
                self.resend.pop_first();
            }
            if let Some(&id) = self.resend.first() {
                let payload = self.get(id).cloned().unwrap_or_default();
                if !send(Item::Frame(payload)) {
                    break;
                }
                self.resend.pop_first();
                self.fifo.push_back(Handoff::Frame(id));
                done.frames += 1;
                done.resent += 1;
                continue;
            }
            while self.cursor < self.next_id() && self.get(self.cursor).is_none() {
                self.cursor += 1;
            }
            let id = self.cursor;
            let Some(payload) = self.get(id).cloned() else {
                break;
            };
            if !send(Item::Frame(payload)) {
                break;
            }
            self.cursor += 1;
            self.fifo.push_back(Handoff::Frame(id));
            done.frames += 1;
        }
        done
    }

    /// Whether `handoff` would offer a publish now.
    pub(crate) fn has_ready(&self) -> bool {
        self.outstanding() < self.window
            && (!self.control.is_empty()
                || self.resend.iter().any(|&id| self.get(id).is_some())
                || (self.cursor..self.next_id()).any(|id| self.get(id).is_some()))
    }

    /// rumqttc wrote a publish (`Outgoing::Publish(pkid)`; 0 for QoS 0).
    pub(crate) fn on_outgoing_publish(&mut self, pkid: u16) -> Outgoing {
        if pkid != 0 && self.inflight.contains_key(&pkid) {
            // A packet id is reused only after its PUBACK, so this would be
            // a retransmission by rumqttc, which `reset` rules out.
            return Outgoing::Unexpected;
        }
        let Some(h) = self.fifo.pop_front() else {
            return Outgoing::Unexpected;
        };
        match (h, pkid) {
            (Handoff::Frame(id), 0) => Outgoing::Frame {
                done: self.complete(id),
            },
            (h, 0) => {
                // A QoS 1 control publish cannot be written with id 0.
                self.fifo.push_front(h);
                Outgoing::Unexpected
            }
            (h, pkid) => {
                self.inflight.insert(pkid, h);
                match h {
                    Handoff::Frame(_) => Outgoing::Frame { done: false },
                    Handoff::Control => Outgoing::Control,
                }
            }
        }
    }

    /// The broker acknowledged `pkid`. Returns whether a queued frame
    /// finished.
    pub(crate) fn on_puback(&mut self, pkid: u16) -> bool {
        match self.inflight.remove(&pkid) {
            Some(Handoff::Frame(id)) => self.complete(id),
            _ => false,
        }
    }

    /// The connection broke. rumqttc held the mapped publishes and the
    /// first `drained` FIFO places (which it moved to its `pending` list,
    /// now discarded); they are sent again. FIFO places after them are
    /// still in rumqttc's channel and keep their places. Pending control
    /// publishes are discarded: they are queued again on connect.
    pub(crate) fn reset(&mut self, drained: usize) -> usize {
        let mut moved = 0;
        let lost = self.fifo.len().min(drained);
        let handoffs = self
            .inflight
            .drain()
            .map(|(_, h)| h)
            .chain(self.fifo.drain(..lost));
        for h in handoffs {
            if let Handoff::Frame(id) = h {
                self.resend.insert(id);
                moved += 1;
            }
        }
        self.control.clear();
        moved
    }

    /// Drops everything (at close); returns how many frames were queued.
    pub(crate) fn clear(&mut self) -> usize {
        let n = self.live;
        self.front_id = self.next_id();
        self.entries.clear();
        if let Some(j) = &mut self.journal {
            // Not released: the spool keeps them for the next start.
            j.tags.clear();
        }
        self.live = 0;
        self.bytes = 0;
        self.cursor = self.front_id;
        self.resend.clear();
        self.control.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(max_frames: usize, max_bytes: usize, policy: OverflowPolicy, window: usize) -> FrameQueue {
        FrameQueue::new(
            QueueConfig {
                max_frames,
                max_bytes,
                policy,
            },
            window,
        )
    }

    fn frame(n: u8) -> Bytes {
        Bytes::from(vec![n; 4])
    }

    /// Hands off everything possible; returns the first bytes of the frames.
    fn pump(q: &mut FrameQueue) -> Vec<u8> {
        let mut out = Vec::new();
        q.handoff(|item| {
            match item {
                Item::Frame(b) => out.push(b[0]),
                Item::Control(_) => out.push(255),
            }
            true
        });
        out
    }

    #[test]
    fn ack_flow_in_order() {
        let mut q = q(10, 1000, OverflowPolicy::DropOldest, 3);
        for i in 0..5 {
            q.push(frame(i)).unwrap();
        }
        assert_eq!(pump(&mut q), [0, 1, 2], "window of 3");
        for pkid in 1..=3 {
            assert_eq!(q.on_outgoing_publish(pkid), Outgoing::Frame { done: false });
        }
        assert!(q.on_puback(1));
        assert_eq!(pump(&mut q), [3]);
        assert_eq!(q.on_outgoing_publish(4), Outgoing::Frame { done: false });
        assert!(q.on_puback(3), "out-of-order ack");
        assert!(q.on_puback(2));
        assert!(!q.on_puback(2), "second ack is ignored");
        assert_eq!(q.len(), 2);
        assert_eq!(pump(&mut q), [4]);
        q.on_outgoing_publish(5);
        assert!(q.on_puback(4));
        assert!(q.on_puback(5));
        assert_eq!((q.len(), q.bytes(), q.outstanding()), (0, 0, 0));
    }

    /// `has_ready` says whether `handoff` would offer something: the
    /// publisher wakes its connection task on it, so a `false` where a
    /// publish is ready would leave it waiting for the next event.
    #[test]
    fn has_ready_matches_handoff() {
        let mut q = q(10, 1000, OverflowPolicy::DropOldest, 2);
        assert!(!q.has_ready(), "empty");
        q.push(frame(0)).unwrap();
        q.push(frame(1)).unwrap();
        q.push(frame(2)).unwrap();
        assert!(q.has_ready());
        assert_eq!(pump(&mut q), [0, 1]);
        assert!(!q.has_ready(), "window full");
        q.on_outgoing_publish(1);
        q.on_outgoing_publish(2);
        assert!(q.on_puback(1));
        assert!(q.has_ready(), "room again, frame 2 waits");
        assert_eq!(pump(&mut q), [2]);
        assert!(q.on_puback(2));
        assert!(!q.has_ready(), "nothing left to hand off");
        q.push_control(Control {
            topic: "t".into(),
            payload: Bytes::from_static(b"online"),
        });
        assert!(q.has_ready(), "a control publish");
        assert_eq!(pump(&mut q), [255]);
        q.on_outgoing_publish(3);
        assert_eq!(q.reset(0), 1, "frame 2 to resend");
        assert!(q.has_ready(), "a frame to resend");
        assert_eq!(pump(&mut q), [2]);
        assert!(!q.has_ready());
    }

    #[test]
    fn qos0_completes_when_written() {
        let mut q = q(10, 1000, OverflowPolicy::DropOldest, 10);
        q.push(frame(0)).unwrap();
        q.push_control(Control {
            topic: "t".into(),
            payload: Bytes::from_static(b"online"),
        });
        assert_eq!(pump(&mut q), [255, 0], "control first");
        assert_eq!(q.on_outgoing_publish(1), Outgoing::Control);
        assert_eq!(q.on_outgoing_publish(0), Outgoing::Frame { done: true });
        assert_eq!(q.len(), 0);
        assert!(!q.on_puback(1), "control acks finish no frame");
        assert_eq!(q.outstanding(), 0);
    }

    /// A failed run of QoS 0 frames (after a control publish): the writer
    /// takes their `Outgoing::Publish(0)` events out and has `reset` send
    /// them again, so none completes without having been written.
    #[test]
    fn qos0_frames_of_a_failed_run_are_sent_again() {
        let mut q = q(10, 1000, OverflowPolicy::DropOldest, 10);
        for i in 0..3 {
            q.push(frame(i)).unwrap();
        }
        q.push_control(Control {
            topic: "t".into(),
            payload: Bytes::from_static(b"online"),
        });
        assert_eq!(pump(&mut q), [255, 0, 1, 2]);
        // Only the control's event is left after the failed write.
        assert_eq!(q.on_outgoing_publish(1), Outgoing::Control);
        assert_eq!(q.reset(3), 3, "the three frames");
        assert_eq!(q.len(), 3, "none completed");
        assert_eq!(pump(&mut q), [0, 1, 2], "sent again, in order");
        for _ in 0..3 {
            assert_eq!(q.on_outgoing_publish(0), Outgoing::Frame { done: true });
        }
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn reset_resends_inflight_and_drained_in_order() {
        let mut q = q(100, 10_000, OverflowPolicy::DropOldest, 10);
        for i in 0..8 {
            q.push(frame(i)).unwrap();
        }
        assert_eq!(pump(&mut q), [0, 1, 2, 3, 4, 5, 6, 7]);
        // 0..3 written (pkids 1..3), 0 acked; 3..5 drained into rumqttc's
        // pending list; 5..8 handed off after the drain (still in channel).
        for pkid in 1..=3 {
            q.on_outgoing_publish(pkid);
        }
        assert!(q.on_puback(1));
        assert_eq!(q.reset(2), 4, "frames 1, 2 (in flight) and 3, 4 (drained)");
        assert_eq!(q.outstanding(), 3, "5, 6, 7 keep their FIFO places");
        q.push(frame(8)).unwrap();
        assert_eq!(pump(&mut q), [1, 2, 3, 4, 8], "resends first, then new");
        // Events come in channel order: 5, 6, 7 first, then 1, 2, 3, 4, 8.
        for pkid in 1..=8 {
            q.on_outgoing_publish(pkid);
        }
        for pkid in 1..=8 {
            assert!(q.on_puback(pkid), "pkid {pkid}");
        }
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn reset_twice_and_control_discarded() {
        let mut q = q(100, 10_000, OverflowPolicy::DropOldest, 10);
        q.push(frame(0)).unwrap();
        q.push_control(Control {
            topic: "b".into(),
            payload: Bytes::new(),
        });
        assert_eq!(pump(&mut q), [255, 0]);
        assert_eq!(q.reset(2), 1);
        assert_eq!(q.reset(0), 0, "idempotent");
        assert_eq!(pump(&mut q), [0]);
        assert_eq!(q.on_outgoing_publish(7), Outgoing::Frame { done: false });
        assert!(q.on_puback(7));
    }

    #[test]
    fn drop_oldest_bounds_frames_and_bytes() {
        let mut q = q(2, 10, OverflowPolicy::DropOldest, 10);
        assert_eq!(q.push(frame(0)).unwrap(), (0, 0));
        assert_eq!(q.push(frame(1)).unwrap(), (1, 0));
        assert_eq!(q.push(frame(2)).unwrap(), (2, 1), "3 frames > 2");
        assert_eq!((q.len(), q.bytes()), (2, 8));
        let big = Bytes::from(vec![b'x'; 9]);
        assert_eq!(q.push(big).unwrap(), (3, 2), "needs both slots' bytes");
        assert_eq!((q.len(), q.bytes()), (1, 9));
        assert_eq!(pump(&mut q), [b'x']);
    }

    #[test]
    fn dropped_frames_in_flight_are_not_resent() {
        let mut q = q(2, 100, OverflowPolicy::DropOldest, 10);
        q.push(frame(0)).unwrap();
        q.push(frame(1)).unwrap();
        assert_eq!(pump(&mut q), [0, 1]);
        q.on_outgoing_publish(1);
        q.push(frame(2)).unwrap(); // drops 0 (in flight)
        assert_eq!(q.reset(1), 2);
        assert_eq!(pump(&mut q), [1, 2], "0 was dropped");
        assert!(!q.on_puback(9));
    }

    #[test]
    fn reject_new_keeps_old() {
        let mut q = q(2, 100, OverflowPolicy::RejectNew, 10);
        q.push(frame(0)).unwrap();
        q.push(frame(1)).unwrap();
        assert_eq!(
            q.push(frame(2)),
            Err(QueueFull {
                frames: 2,
                bytes: 8
            })
        );
        assert_eq!(pump(&mut q), [0, 1]);
    }

    #[test]
    fn policy_override_rejects_without_dropping() {
        let mut q = q(2, 100, OverflowPolicy::DropOldest, 10);
        q.push(frame(0)).unwrap();
        q.push(frame(1)).unwrap();
        assert_eq!(
            q.push_with(frame(2), OverflowPolicy::RejectNew),
            Err(QueueFull {
                frames: 2,
                bytes: 8
            })
        );
        assert_eq!(pump(&mut q), [0, 1], "nothing dropped");
    }

    #[test]
    fn refused_send_keeps_the_frame() {
        let mut q = q(10, 100, OverflowPolicy::DropOldest, 10);
        q.push(frame(0)).unwrap();
        assert_eq!(q.handoff(|_| false), HandedOff::default());
        assert_eq!(pump(&mut q), [0]);
    }

    #[test]
    fn unexpected_events_are_harmless() {
        let mut q = q(10, 100, OverflowPolicy::DropOldest, 10);
        assert_eq!(q.on_outgoing_publish(3), Outgoing::Unexpected);
        q.push_control(Control {
            topic: "s".into(),
            payload: Bytes::new(),
        });
        pump(&mut q);
        assert_eq!(q.on_outgoing_publish(0), Outgoing::Unexpected);
        assert_eq!(q.on_outgoing_publish(4), Outgoing::Control);
        assert_eq!(q.on_outgoing_publish(4), Outgoing::Unexpected);
    }

    #[test]
    fn clear_counts_frames() {
        let mut q = q(10, 100, OverflowPolicy::DropOldest, 10);
        q.push(frame(0)).unwrap();
        q.push(frame(1)).unwrap();
        assert_eq!(q.clear(), 2);
        assert_eq!(q.push(frame(2)).unwrap().0, 2, "ids keep increasing");
    }

    #[test]
    fn journal_releases_acked_and_dropped_frames_not_cleared_ones() {
        let mut q = q(3, 1000, OverflowPolicy::DropOldest, 2).with_journal();
        for (i, tag) in [(0u8, 100u64), (1, 101), (2, 102)] {
            q.push_tagged(frame(i), OverflowPolicy::DropOldest, tag)
                .unwrap();
        }
        assert_eq!(pump(&mut q), [0, 1]);
        assert_eq!(q.on_outgoing_publish(1), Outgoing::Frame { done: false });
        assert_eq!(q.on_outgoing_publish(2), Outgoing::Frame { done: false });
        assert!(q.on_puback(2), "out of order");
        assert_eq!(q.take_released(), [101]);
        assert!(q.take_released().is_empty(), "taken once");
        // Two more frames fill the queue and push the oldest (tag 100,
        // still unacknowledged) out: given up, so released too.
        q.push_tagged(frame(3), OverflowPolicy::DropOldest, 103)
            .unwrap();
        assert!(q.take_released().is_empty());
        q.push_tagged(frame(4), OverflowPolicy::DropOldest, 104)
            .unwrap();
        assert_eq!(q.take_released(), [100]);
        assert!(
            !q.on_puback(1),
            "the dropped frame's late ack changes nothing"
        );
        // Queued at close: kept for the next start, not released.
        assert_eq!(q.clear(), 3);
        assert!(q.take_released().is_empty());
        // Tags stay aligned after clearing.
        q.push_tagged(frame(5), OverflowPolicy::DropOldest, 105)
            .unwrap();
        assert_eq!(pump(&mut q), [5]);
        assert_eq!(q.on_outgoing_publish(3), Outgoing::Frame { done: false });
        assert!(q.on_puback(3));
        assert_eq!(q.take_released(), [105]);
    }

    #[test]
    fn frames_in_rumqttcs_channel_are_not_dropped() {
        let mut q = q(4, 1000, OverflowPolicy::DropOldest, 2);
        for i in 0..4 {
            q.push(frame(i)).unwrap();
        }
        // 0 and 1 are handed off: they sit in rumqttc's channel.
        assert_eq!(pump(&mut q), [0, 1]);
        // The connection breaks before rumqttc took them: they stay in its
        // channel (nothing drained) and will be written on reconnect.
        assert_eq!(q.reset(0), 0);
        // Two new frames make room by dropping 2 and 3, not 0 and 1.
        assert_eq!(q.push(frame(4)).unwrap().1, 1);
        assert_eq!(q.push(frame(5)).unwrap().1, 1);
        assert_eq!(q.len(), 4);
        assert_eq!(q.on_outgoing_publish(1), Outgoing::Frame { done: false });
        assert_eq!(q.on_outgoing_publish(2), Outgoing::Frame { done: false });
        assert!(q.on_puback(1) && q.on_puback(2), "0 and 1 still tracked");
        assert_eq!(pump(&mut q), [4, 5]);
        // With every frame in the channel, the front goes after all.
        let mut q = q2();
        fn q2() -> FrameQueue {
            FrameQueue::new(
                QueueConfig {
                    max_frames: 2,
                    max_bytes: 1000,
                    policy: OverflowPolicy::DropOldest,
                },
                4,
            )
        }
        q.push(frame(0)).unwrap();
        q.push(frame(1)).unwrap();
        assert_eq!(pump(&mut q), [0, 1]);
        assert_eq!(q.push(frame(2)).unwrap().1, 1);
        assert_eq!(q.len(), 2);
    }
}
