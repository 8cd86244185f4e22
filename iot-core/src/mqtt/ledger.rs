//! The consumer's per-device ledger: which sequence numbers of each
//! device's session epoch arrived, which are missing, and which are
//! duplicates.
//!
//! QoS 1 delivers at least once (publishers re-send frames whose PUBACK
//! they did not see, brokers re-deliver messages whose PUBACK they did not
//! see), and a broker that crashes without persistence loses frames it
//! had acknowledged. One structure answers both questions, per device and
//! epoch: the highest sequence number seen (`max`) and the ranges below it
//! that never arrived (`gaps`). Every number in `floor..=max` outside a gap
//! was delivered, so:
//!
//! | incoming frame | verdict |
//! | --- | --- |
//! | first frame of the device, or of a newer epoch | fresh, the epoch starts here |
//! | `seq > max` | fresh; `max + 1 .. seq - 1`, if any, is a new gap (reported missing) |
//! | `floor <= seq <= max`, inside a gap | late: it fills the gap (counted recovered) |
//! | `floor <= seq <= max`, outside every gap | duplicate: suppressed |
//! | `seq < floor` | stale: cannot be judged, delivered |
//! | the previous epoch | judged against that epoch's ledger (kept for late re-sends) |
//! | an older epoch | stale |
//! | epoch 0 (sender without epochs), `seq <= max` with a newer timestamp | restart: a new implicit epoch |
//!
//! The ledger judges an epoch from the first frame of it that this
//! consumer sees; frames before that one are not its business (the
//! consumer started later, or the device's state was evicted).
//!
//! Bounds: `window` numbers behind `max` are judged exactly (older gaps are
//! given up: they stay counted missing, their frames become stale), at most
//! `max_gaps` gaps per epoch (the lowest is given up first), and at most
//! `max_devices` devices (the least recently seen is forgotten, counted as
//! an eviction; see `lru`). A device costs no heap beyond its id while it
//! has no gaps and no previous epoch.

use super::lru::ClockMap;

/// What the ledger says about a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not seen before: deliver. `gap` is the range this frame revealed
    /// as missing, if it skipped numbers.
    Fresh { gap: Option<(u64, u64)> },
    /// Filled a gap reported earlier: deliver; counted recovered.
    Late,
    /// Seen before: suppress.
    Duplicate,
    /// The first frame of a newer epoch (or an epoch-0 restart): deliver.
    NewEpoch,
    /// Cannot be judged (behind the window, before the first frame seen, or
    /// an epoch older than the previous one): deliver.
    Stale,
}

/// One epoch of one device.
#[derive(Debug, Clone)]
struct Epoch {
    epoch: u64,
    /// Lowest number judged exactly.
    floor: u64,
    /// Highest number seen.
    max: u64,
    /// Timestamp of `max`'s frame (the epoch-0 restart rule).
    max_ts: u64,
    /// Missing ranges (inclusive) within `floor..max`, ascending.
    gaps: Vec<(u64, u64)>,
}

impl Epoch {
    fn new(epoch: u64, seq: u64, ts: u64) -> Self {
        Self {
            epoch,
            floor: seq,
            max: seq,
            max_ts: ts,
            gaps: Vec::new(),
        }
    }

    fn judge(&mut self, seq: u64, ts: u64, bounds: Bounds) -> Verdict {
        if seq > self.max {
            let gap = (seq > self.max + 1).then(|| (self.max + 1, seq - 1));
            if let Some(g) = gap {
                self.gaps.push(g);
            }
            self.max = seq;
            self.max_ts = ts;
            self.trim(bounds);
            return Verdict::Fresh { gap };
        }
        if seq < self.floor {
            return Verdict::Stale;
        }
        // Gaps are few (usually none): a binary search over them.
        let i = self.gaps.partition_point(|&(_, last)| last < seq);
        match self.gaps.get(i).copied() {
            Some((first, last)) if first <= seq => {
                match (first == seq, last == seq) {
                    (true, true) => {
                        self.gaps.remove(i);
                    }
                    (true, false) => self.gaps[i].0 = seq + 1,
                    (false, true) => self.gaps[i].1 = seq - 1,
                    (false, false) => {
                        self.gaps[i].1 = seq - 1;
                        self.gaps.insert(i + 1, (seq + 1, last));
                        self.trim(bounds);
                    }
                }
                Verdict::Late
            }
            _ => Verdict::Duplicate,
        }
    }

    /// Gives up the gaps that fall behind the window or over the count.
    fn trim(&mut self, bounds: Bounds) {
        let horizon = self.max.saturating_sub(bounds.window - 1);
        if horizon > self.floor {
            self.floor = horizon;
            let behind = self.gaps.partition_point(|&(_, last)| last < horizon);
            self.gaps.drain(..behind);
            if let Some(g) = self.gaps.first_mut() {
                g.0 = g.0.max(horizon);
            }
        }
        if self.gaps.len() > bounds.max_gaps {
            let over = self.gaps.len() - bounds.max_gaps;
            self.floor = self.gaps[over - 1].1 + 1;
            self.gaps.drain(..over);
        }
    }
}

/// A device's ledger and what else the caller keeps per device (the
/// consumer: the device's alias table), so one lookup serves both.
#[derive(Debug)]
struct Entry<X> {
    current: Epoch,
    /// The epoch before `current`, kept while a restarted sender may still
    /// re-send its frames (a publisher's spool after a crash).
    previous: Option<Box<Epoch>>,
    extra: X,
}

#[derive(Debug, Clone, Copy)]
struct Bounds {
    window: u64,
    max_gaps: usize,
}

/// Per-device ledgers, bounded in number of devices.
#[derive(Debug)]
pub(crate) struct Ledger<X = ()> {
    bounds: Bounds,
    devices: ClockMap<Entry<X>>,
}

impl<X> Ledger<X> {
    /// `window` numbers judged exactly behind the highest (at least 1), at
    /// most `max_gaps` gaps per epoch and `max_devices` devices.
    pub(crate) fn new(window: u64, max_gaps: usize, max_devices: usize) -> Self {
        Self {
            bounds: Bounds {
                window: window.max(1),
                max_gaps,
            },
            devices: ClockMap::new(max_devices),
        }
    }

    /// Judges frame `seq` of `device` in `epoch` with frame timestamp `ts`,
    /// records it, and returns the device's extra state (`init` makes it
    /// for a device not tracked now).
    pub(crate) fn check_with(
        &mut self,
        device: &str,
        epoch: u64,
        seq: u64,
        ts: u64,
        init: impl FnOnce() -> X,
    ) -> (Verdict, &mut X) {
        let bounds = self.bounds;
        let (entry, new) = self.devices.get_or_insert_with(device, || Entry {
            current: Epoch::new(epoch, seq, ts),
            previous: None,
            extra: init(),
        });
        let verdict = if new {
            Verdict::Fresh { gap: None }
        } else {
            judge(entry, epoch, seq, ts, bounds)
        };
        (verdict, &mut entry.extra)
    }

    /// The extra state of `device`, if it is tracked.
    pub(crate) fn extra_mut(&mut self, device: &str) -> Option<&mut X> {
        self.devices.get_mut(device).map(|e| &mut e.extra)
    }

    /// Devices forgotten so far to make room for another.
    pub(crate) fn evictions(&self) -> u64 {
        self.devices.evictions()
    }

    /// Devices tracked now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.devices.len()
    }
}

fn judge<X>(entry: &mut Entry<X>, epoch: u64, seq: u64, ts: u64, bounds: Bounds) -> Verdict {
    let current = &mut entry.current;
    if epoch == current.epoch {
        // A sender without epochs that counts again from a lower number
        // with a newer timestamp restarted (a re-sent frame keeps its old
        // timestamp).
        let restarted = epoch == 0 && seq <= current.max && ts > current.max_ts;
        if !restarted {
            return current.judge(seq, ts, bounds);
        }
    } else if epoch < current.epoch {
        return match entry.previous.as_deref_mut() {
            Some(previous) if previous.epoch == epoch => previous.judge(seq, ts, bounds),
            _ => Verdict::Stale,
        };
    }
    let old = std::mem::replace(current, Epoch::new(epoch, seq, ts));
    entry.previous = Some(Box::new(old));
    Verdict::NewEpoch
}

/// What [`SequenceLedger::observe`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Observation {
    /// A new frame, in order.
    Fresh,
    /// A new frame that skipped `first..=last`: those are now missing.
    Gap {
        /// The first missing sequence number.
        first: u64,
        /// The last missing sequence number.
        last: u64,
    },
    /// A frame reported missing before, arriving late.
    Recovered,
    /// Seen before.
    Duplicate,
    /// The first frame of a newer session epoch (a restart).
    NewEpoch,
    /// Cannot be judged: behind the window, before the first frame seen
    /// of its epoch, or of an epoch older than the previous one.
    Stale,
}

/// Counts of a [`SequenceLedger`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LedgerTotals {
    /// Frames observed.
    pub observed: u64,
    /// Frames reported missing (gaps), including those recovered later.
    pub missing: u64,
    /// Frames that arrived after they had been reported missing.
    pub recovered: u64,
    /// Frames seen before.
    pub duplicates: u64,
    /// Frames that could not be judged.
    pub stale: u64,
    /// New session epochs.
    pub new_epochs: u64,
    /// Devices forgotten to make room for another.
    pub evictions: u64,
}

/// The [`Consumer`](super::Consumer)'s per-device accounting as a value of
/// its own: feed it `(device, epoch, seq)` from any stream.
///
/// Each member of a shared-subscription group sees only its share of a
/// device's frames, so a member's consumer cannot tell a gap from frames
/// that went to another member and reports none. Run one
/// `SequenceLedger` over the union of the members' frames (where they
/// meet: a database, a collector) to find what the group lost, e.g. the
/// frames a dead member's session kept at the broker.
///
/// ```
/// use iot_core::mqtt::{DedupConfig, Observation, SequenceLedger};
///
/// let mut ledger = SequenceLedger::new(DedupConfig::default());
/// assert_eq!(ledger.observe("pump-7", 1, 0, 1_000), Observation::Fresh);
/// assert_eq!(ledger.observe("pump-7", 1, 3, 1_003), Observation::Gap { first: 1, last: 2 });
/// assert_eq!(ledger.observe("pump-7", 1, 2, 1_002), Observation::Recovered);
/// assert_eq!(ledger.observe("pump-7", 1, 2, 1_002), Observation::Duplicate);
/// let totals = ledger.totals();
/// assert_eq!((totals.missing, totals.recovered), (2, 1));
/// ```
#[derive(Debug)]
pub struct SequenceLedger {
    ledger: Ledger,
    totals: LedgerTotals,
}

impl SequenceLedger {
    /// An empty ledger bounded by `config` (`window`, `max_gaps`,
    /// `max_devices`).
    pub fn new(config: super::DedupConfig) -> Self {
        Self {
            ledger: Ledger::new(config.window, config.max_gaps, config.max_devices),
            totals: LedgerTotals::default(),
        }
    }

    /// Records frame `seq` of `device`'s session `epoch` (`0` for none),
    /// whose header timestamp is `timestamp_ms`.
    pub fn observe(
        &mut self,
        device: &str,
        epoch: u64,
        seq: u64,
        timestamp_ms: u64,
    ) -> Observation {
        let (verdict, ()) = self
            .ledger
            .check_with(device, epoch, seq, timestamp_ms, || ());
        let t = &mut self.totals;
        t.observed += 1;
        let observation = match verdict {
            Verdict::Fresh { gap: None } => Observation::Fresh,
            Verdict::Fresh {
                gap: Some((first, last)),
            } => {
                t.missing += last - first + 1;
                Observation::Gap { first, last }
            }
            Verdict::Late => {
                t.recovered += 1;
                Observation::Recovered
            }
            Verdict::Duplicate => {
                t.duplicates += 1;
                Observation::Duplicate
            }
            Verdict::NewEpoch => {
                t.new_epochs += 1;
                Observation::NewEpoch
            }
            Verdict::Stale => {
                t.stale += 1;
                Observation::Stale
            }
        };
        t.evictions = self.ledger.evictions();
        observation
    }

    /// The counts so far.
    pub fn totals(&self) -> LedgerTotals {
        self.totals
    }
}

impl Ledger {
    /// [`check_with`](Self::check_with) without extra state.
    #[cfg(test)]
    pub(crate) fn check(&mut self, device: &str, epoch: u64, seq: u64, ts: u64) -> Verdict {
        self.check_with(device, epoch, seq, ts, || ()).0
    }
}

#[cfg(test)]
mod tests {
    use super::Verdict::*;
    use super::*;

    fn fresh() -> Verdict {
        Fresh { gap: None }
    }

    #[test]
    fn in_order_then_duplicates() {
        let mut d = Ledger::new(64, 16, 10);
        for s in 0..100 {
            assert_eq!(d.check("a", 1, s, s), fresh());
        }
        for s in 36..100 {
            assert_eq!(d.check("a", 1, s, s), Duplicate, "{s}");
        }
        assert_eq!(d.check("a", 1, 35, 35), Stale);
        assert_eq!(d.check("b", 1, 5, 5), fresh(), "devices are independent");
    }

    #[test]
    fn gaps_are_reported_and_filled() {
        let mut d = Ledger::new(1024, 16, 10);
        assert_eq!(d.check("a", 1, 10, 10), fresh());
        assert_eq!(
            d.check("a", 1, 15, 15),
            Fresh {
                gap: Some((11, 14))
            }
        );
        assert_eq!(d.check("a", 1, 12, 12), Late, "fills the middle");
        assert_eq!(d.check("a", 1, 12, 12), Duplicate);
        assert_eq!(d.check("a", 1, 11, 11), Late);
        assert_eq!(d.check("a", 1, 14, 14), Late);
        assert_eq!(d.check("a", 1, 13, 13), Late);
        assert_eq!(d.check("a", 1, 13, 13), Duplicate);
        assert_eq!(d.check("a", 1, 9, 9), Stale, "before the first frame seen");
        assert_eq!(d.check("a", 1, 16, 16), fresh());
    }

    #[test]
    fn window_gives_up_old_gaps() {
        let mut d = Ledger::new(64, 16, 10);
        assert_eq!(d.check("a", 1, 0, 0), fresh());
        assert_eq!(d.check("a", 1, 5, 5), Fresh { gap: Some((1, 4)) });
        assert_eq!(d.check("a", 1, 100, 100), Fresh { gap: Some((6, 99)) });
        // The window covers 37..=100: older numbers are stale, the rest of
        // the second gap can still be filled.
        assert_eq!(d.check("a", 1, 2, 2), Stale);
        assert_eq!(d.check("a", 1, 36, 36), Stale);
        assert_eq!(d.check("a", 1, 37, 37), Late);
        assert_eq!(d.check("a", 1, 99, 99), Late);
    }

    #[test]
    fn gap_count_is_bounded() {
        let mut d = Ledger::new(1 << 20, 3, 10);
        d.check("a", 1, 0, 0);
        for s in (2..20).step_by(2) {
            assert!(matches!(d.check("a", 1, s, s), Fresh { gap: Some(_) }));
        }
        // Gaps 1, 3, ..., 17: only the three highest are kept.
        assert_eq!(d.check("a", 1, 11, 11), Stale);
        assert_eq!(d.check("a", 1, 13, 13), Late);
        assert_eq!(d.check("a", 1, 15, 15), Late);
        assert_eq!(d.check("a", 1, 17, 17), Late);
        // Splitting a gap can exceed the bound too.
        let mut d = Ledger::new(1 << 20, 1, 10);
        d.check("b", 1, 0, 0);
        d.check("b", 1, 10, 10);
        assert_eq!(
            d.check("b", 1, 5, 5),
            Late,
            "splits 1..=9 into 1..=4 and 6..=9"
        );
        assert_eq!(d.check("b", 1, 3, 3), Stale, "the lower half was given up");
        assert_eq!(d.check("b", 1, 7, 7), Late);
    }

    #[test]
    fn epochs_separate_restarts_from_loss() {
        let mut d = Ledger::new(1024, 16, 10);
        for s in 0..50 {
            d.check("a", 100, s, 1_000 + s);
        }
        assert_eq!(
            d.check("a", 200, 0, 10),
            NewEpoch,
            "even with an older clock"
        );
        assert_eq!(d.check("a", 200, 1, 11), fresh());
        // A late re-send of the previous epoch (a spool after a crash).
        assert_eq!(d.check("a", 100, 50, 1_050), fresh());
        assert_eq!(d.check("a", 100, 49, 1_049), Duplicate);
        assert_eq!(
            d.check("a", 100, 53, 1_053),
            Fresh {
                gap: Some((51, 52))
            }
        );
        assert_eq!(d.check("a", 300, 0, 20), NewEpoch);
        assert_eq!(d.check("a", 100, 51, 1_051), Stale, "two epochs back");
        assert_eq!(d.check("a", 200, 1, 11), Duplicate);
    }

    #[test]
    fn epoch_zero_restart_detected_by_timestamp() {
        let mut d = Ledger::new(1024, 16, 10);
        for s in 0..50 {
            d.check("a", 0, s, 1_000 + s);
        }
        assert_eq!(d.check("a", 0, 0, 5_000), NewEpoch);
        assert_eq!(d.check("a", 0, 1, 5_001), fresh());
        assert_eq!(d.check("a", 0, 1, 5_001), Duplicate);
    }

    #[test]
    fn device_count_is_bounded_and_evictions_counted() {
        let mut d = Ledger::new(64, 16, 2);
        d.check("a", 1, 1, 1);
        d.check("b", 1, 1, 1);
        assert_eq!(d.evictions(), 0);
        d.check("c", 1, 1, 1); // evicts a
        assert_eq!(d.len(), 2);
        assert_eq!(d.evictions(), 1);
        assert_eq!(d.check("a", 1, 1, 1), fresh(), "a was forgotten");
        assert_eq!(d.evictions(), 2);
    }
}
