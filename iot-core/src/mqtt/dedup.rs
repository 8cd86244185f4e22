//! Duplicate suppression by `(device, sequence number)`.
//!
//! QoS 1 delivers at least once: a publisher re-sends frames whose PUBACK
//! it did not see, and a broker re-delivers messages whose PUBACK it did not
//! see. Each device gets a sliding window over its sequence numbers: the
//! highest seen (`max`), its frame timestamp, and one bit for each of the
//! `window` numbers up to `max`.
//!
//! | incoming `seq` | verdict |
//! | --- | --- |
//! | first frame of the device, or `seq > max` | fresh (window slides) |
//! | `seq <= max`, timestamp newer than `max`'s | restart: the device began counting again; the window restarts at `seq` |
//! | within the window, bit set | duplicate |
//! | within the window, bit clear | fresh (late or reordered) |
//! | behind the window | stale: cannot be judged, delivered |
//!
//! The restart rule needs frame timestamps that grow with sequence numbers
//! (a re-sent frame carries its original timestamp, a rebooted device's
//! new frames carry newer ones). The number of devices is bounded; the
//! least recently seen is forgotten (see `lru`).

use super::lru::ClockMap;

/// What the window says about a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not seen before: deliver.
    Fresh,
    /// Seen before: suppress.
    Duplicate,
    /// Sequence restarted (device reboot): deliver; window reset.
    Restart,
    /// Behind the window: deliver, possibly a duplicate.
    Stale,
}

#[derive(Debug)]
struct Window {
    max: u64,
    max_ts: u64,
    bits: Box<[u64]>,
}

impl Window {
    fn new(words: usize, seq: u64, ts: u64) -> Self {
        let mut w = Window {
            max: seq,
            max_ts: ts,
            bits: vec![0; words].into_boxed_slice(),
        };
        w.set(seq);
        w
    }

    fn size(&self) -> u64 {
        self.bits.len() as u64 * 64
    }

    fn slot(&self, seq: u64) -> (usize, u64) {
        let i = seq % self.size();
        ((i / 64) as usize, 1 << (i % 64))
    }

    fn set(&mut self, seq: u64) {
        let (w, b) = self.slot(seq);
        self.bits[w] |= b;
    }

    fn clear(&mut self, seq: u64) {
        let (w, b) = self.slot(seq);
        self.bits[w] &= !b;
    }

    fn is_set(&self, seq: u64) -> bool {
        let (w, b) = self.slot(seq);
        self.bits[w] & b != 0
    }

    fn check(&mut self, seq: u64, ts: u64) -> Verdict {
        if seq > self.max {
            let gap = seq - self.max;
            if gap >= self.size() {
                self.bits.fill(0);
            } else {
                for s in self.max + 1..seq {
                    self.clear(s);
                }
            }
            self.max = seq;
            self.max_ts = ts;
            self.set(seq);
            return Verdict::Fresh;
        }
        if ts > self.max_ts {
            self.bits.fill(0);
            self.max = seq;
            self.max_ts = ts;
            self.set(seq);
            return Verdict::Restart;
        }
        if self.max - seq >= self.size() {
            return Verdict::Stale;
        }
        if self.is_set(seq) {
            return Verdict::Duplicate;
        }
        self.set(seq);
        Verdict::Fresh
    }
}

/// A device's window and what else the caller keeps per device (the
/// consumer: the device's alias table), so one lookup serves both.
#[derive(Debug)]
struct Entry<X> {
    window: Window,
    extra: X,
}

/// Per-device windows, bounded in number of devices.
#[derive(Debug)]
pub(crate) struct Dedup<X = ()> {
    words: usize,
    devices: ClockMap<Entry<X>>,
}

impl<X> Dedup<X> {
    /// `window` sequence numbers per device (rounded up to 64), at most
    /// `max_devices` devices.
    pub(crate) fn new(window: u64, max_devices: usize) -> Self {
        Self {
            words: window.div_ceil(64).max(1) as usize,
            devices: ClockMap::new(max_devices),
        }
    }

    /// Judges frame `seq` of `device` with frame timestamp `ts`, records
    /// it, and returns the device's extra state (`init` makes it for a
    /// device not tracked now).
    pub(crate) fn check_with(
        &mut self,
        device: &str,
        seq: u64,
        ts: u64,
        init: impl FnOnce() -> X,
    ) -> (Verdict, &mut X) {
        let words = self.words;
        let (entry, new) = self.devices.get_or_insert_with(device, || Entry {
            window: Window::new(words, seq, ts),
            extra: init(),
        });
        let verdict = if new {
            Verdict::Fresh
        } else {
            entry.window.check(seq, ts)
        };
        (verdict, &mut entry.extra)
    }

    /// The extra state of `device`, if it is tracked.
    pub(crate) fn extra_mut(&mut self, device: &str) -> Option<&mut X> {
        self.devices.get_mut(device).map(|e| &mut e.extra)
    }
}

impl Dedup {
    /// [`check_with`](Self::check_with) without extra state.
    #[cfg(test)]
    pub(crate) fn check(&mut self, device: &str, seq: u64, ts: u64) -> Verdict {
        self.check_with(device, seq, ts, || ()).0
    }
}

#[cfg(test)]
mod tests {
    use super::Verdict::*;
    use super::*;

    #[test]
    fn in_order_then_duplicates() {
        let mut d = Dedup::new(64, 10);
        for s in 0..100 {
            assert_eq!(d.check("a", s, s), Fresh);
        }
        for s in 36..100 {
            assert_eq!(d.check("a", s, s), Duplicate, "{s}");
        }
        assert_eq!(d.check("a", 35, 35), Stale);
        assert_eq!(d.check("b", 5, 5), Fresh, "devices are independent");
    }

    #[test]
    fn reordered_and_gaps() {
        let mut d = Dedup::new(128, 10);
        assert_eq!(d.check("a", 10, 10), Fresh);
        assert_eq!(d.check("a", 12, 12), Fresh);
        assert_eq!(d.check("a", 11, 11), Fresh, "late, not seen");
        assert_eq!(d.check("a", 11, 11), Duplicate);
        // A big jump clears the whole window.
        assert_eq!(d.check("a", 10_000, 10_000), Fresh);
        assert_eq!(d.check("a", 9_999, 9_999), Fresh);
        assert_eq!(d.check("a", 12, 12), Stale);
    }

    #[test]
    fn bits_are_cleared_when_the_window_slides() {
        let mut d = Dedup::new(64, 1);
        assert_eq!(d.check("a", 0, 0), Fresh);
        assert_eq!(d.check("a", 64, 64), Fresh, "slot of 0 reused");
        // 0 is now behind the window; 63 lies inside and was never seen.
        assert_eq!(d.check("a", 63, 63), Fresh);
        assert_eq!(d.check("a", 64, 64), Duplicate);
    }

    #[test]
    fn restart_detected_by_timestamp() {
        let mut d = Dedup::new(1024, 10);
        for s in 0..50 {
            d.check("a", s, 1_000 + s);
        }
        // Device reboots: seq 0 again, newer timestamp.
        assert_eq!(d.check("a", 0, 5_000), Restart);
        assert_eq!(d.check("a", 1, 5_001), Fresh);
        // A re-sent frame of the old run is older than the new max.
        assert_eq!(d.check("a", 1, 5_001), Duplicate);
    }

    #[test]
    fn device_count_is_bounded() {
        let mut d = Dedup::new(64, 2);
        d.check("a", 1, 1);
        d.check("b", 1, 1);
        d.check("c", 1, 1); // evicts a
        assert_eq!(d.devices.len(), 2);
        assert_eq!(d.check("a", 1, 1), Fresh, "a was forgotten");
    }
}
