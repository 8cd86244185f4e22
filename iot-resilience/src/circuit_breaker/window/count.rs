//! Count-based window: a ring of the last N outcomes.

use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};

use super::{Counts, Padded, Sample, Totals};

// The memory budgets of per-key breakers count this size.
const _: () =
    assert!(std::mem::size_of::<AtomicU8>() == crate::circuit_breaker::config::COUNT_SLOT_BYTES);

/// The last `N` outcomes in a ring of one-byte atomic slots, plus totals.
#[derive(Debug)]
pub(crate) struct CountWindow {
    totals: Padded<Totals>,
    head: AtomicU32,
    /// `u64::MAX / N + 1`, for Lemire's fast modulo (no division per call).
    magic: u64,
    slots: Box<[AtomicU8]>,
}

impl CountWindow {
    pub(crate) fn new(size: u32) -> Self {
        let size = size.max(1);
        Self {
            totals: Padded::default(),
            head: AtomicU32::new(0),
            magic: (u64::MAX / u64::from(size)).wrapping_add(1),
            slots: (0..size).map(|_| AtomicU8::new(0)).collect(),
        }
    }

    /// `x % N` without a division (Lemire, "Faster remainder by direct
    /// computation", 2019; exact for 32-bit `x` and `N`).
    #[inline]
    fn index(&self, x: u32) -> usize {
        let low = self.magic.wrapping_mul(u64::from(x));
        ((u128::from(low) * self.slots.len() as u128) >> 64) as usize
    }

    #[inline]
    pub(crate) fn record(&self, sample: Sample) -> Counts {
        // `head` wraps at 2^32; unless N divides 2^32 the ring then skips
        // once, which only reorders which old call is evicted next.
        let i = self.index(self.head.fetch_add(1, Ordering::Relaxed));
        let slot = &self.slots[i];
        let v = sample as u8;
        // Steady state: the evicted call had the same outcome, so the totals
        // do not change and the slot need not be written. If a concurrent
        // writer replaces the slot meanwhile, it holds a later call of the
        // same ring position, which evicts ours anyway.
        if slot.load(Ordering::Acquire) != v {
            self.totals.0.add(v);
            let old = slot.swap(v, Ordering::AcqRel);
            self.totals.0.sub(old);
        }
        self.totals.0.load()
    }

    pub(crate) fn counts(&self) -> Counts {
        self.totals.0.load()
    }

    pub(crate) fn reset(&self) {
        for slot in self.slots.iter() {
            let old = slot.swap(0, Ordering::AcqRel);
            self.totals.0.sub(old);
        }
    }

    #[cfg(test)]
    fn recount(&self) -> Counts {
        let mut c = Counts::default();
        for slot in self.slots.iter() {
            let v = slot.load(Ordering::Acquire);
            let sample = match v {
                1 => Sample::Success,
                2 => Sample::Failure,
                3 => Sample::SlowSuccess,
                4 => Sample::SlowFailure,
                _ => continue,
            };
            c.add(sample);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn fast_modulo_matches_remainder() {
        for n in [1u32, 2, 3, 7, 10, 100, 997, 1_000_000] {
            let w = CountWindow::new(n);
            for x in [0u32, 1, 2, n - 1, n, n + 1, 12345, u32::MAX - 1, u32::MAX] {
                assert_eq!(w.index(x), (x % n) as usize, "x={x} n={n}");
            }
        }
    }

    #[test]
    fn keeps_last_n() {
        let w = CountWindow::new(3);
        w.record(Sample::Failure);
        w.record(Sample::Failure);
        w.record(Sample::SlowSuccess);
        let c = w.record(Sample::Success);
        assert_eq!(
            c,
            Counts {
                calls: 3,
                failures: 1,
                slow: 1,
                slow_failures: 0
            }
        );
        w.reset();
        assert_eq!(w.counts(), Counts::default());
        assert_eq!(w.record(Sample::SlowFailure).slow_failures, 1);
    }

    #[test]
    fn totals_match_slots_after_concurrent_writes() {
        let w = Arc::new(CountWindow::new(997));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let w = Arc::clone(&w);
                std::thread::spawn(move || {
                    for i in 0..20_000u32 {
                        let s = match (i + t) % 5 {
                            0 => Sample::Failure,
                            1 => Sample::SlowSuccess,
                            2 => Sample::SlowFailure,
                            _ => Sample::Success,
                        };
                        w.record(s);
                        if t == 0 && i % 5000 == 0 {
                            w.reset();
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(w.counts(), w.recount());
        assert_eq!(w.counts().calls, 997);
    }
}
