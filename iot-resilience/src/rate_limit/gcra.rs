//! The generic cell rate algorithm, as pure arithmetic on nanoseconds.
//!
//! State is one number per limiter (or key): the theoretical arrival time
//! `tat`, the instant at which the bucket would be full again. With the
//! emission interval `t = period / permits` and the tolerance
//! `tau = t * burst`, a request of cost `n` at `now` would move it to
//! `tat' = max(tat, now) + n * t`, and conforms iff `tat' - tau <= now`.
//! A fresh state (`tat = 0`, or any `tat <= now`) is a full bucket.

use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::time::Duration;

/// The quota in nanoseconds.
///
/// The burst is not kept: validated quotas have `tau = t * burst` exactly
/// (`tau` within half the u64 range), so it is `tau / t`. Two words are
/// returned in registers, three through memory, and the check reads a
/// quota on every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gcra {
    /// Emission interval: nanoseconds per permit.
    t: u64,
    /// Tolerance: `t * burst`.
    tau: u64,
}

impl Gcra {
    /// `permits` per `period` with `burst`; the inputs are validated by the
    /// configs (interval at least 1 ns, `tau` within half the u64 range),
    /// the arithmetic below saturates regardless.
    pub(crate) fn new(permits: u32, period: Duration, burst: u32) -> Self {
        let t = period.as_nanos() / u128::from(permits.max(1));
        let t = u64::try_from(t).unwrap_or(u64::MAX).max(1);
        Self {
            t,
            tau: t.saturating_mul(u64::from(burst)),
        }
    }

    /// The most permits available at once.
    pub(crate) fn burst(&self) -> u32 {
        u32::try_from(self.tau / self.t).unwrap_or(u32::MAX)
    }

    /// Whether `cost` exceeds the burst (so can never be admitted): without
    /// the division `burst` makes. A burst is at least 1, so a cost of 1
    /// never does (and a check of the constant cost 1 compiles to nothing).
    #[inline]
    pub(crate) fn exceeds_burst(&self, cost: u32) -> bool {
        cost > 1 && u64::from(cost).saturating_mul(self.t) > self.tau
    }

    pub(crate) fn interval(&self) -> Duration {
        Duration::from_nanos(self.t)
    }

    /// Tests a request of `cost` at `now` that may be admitted up to
    /// `max_wait` nanoseconds in the future: `Ok(new_tat)` when it conforms
    /// at `now + max_wait` (the caller then waits `conforming_at - now`),
    /// `Err(conforming_at)` (the earliest time it would conform without
    /// waiting) otherwise.
    #[inline]
    pub(crate) fn test(&self, tat: u64, now: u64, cost: u32, max_wait: u64) -> Result<u64, u64> {
        let new_tat = tat
            .max(now)
            .saturating_add(self.t.saturating_mul(u64::from(cost)));
        let conforming_at = new_tat.saturating_sub(self.tau);
        if conforming_at <= now.saturating_add(max_wait) {
            Ok(new_tat)
        } else {
            Err(conforming_at)
        }
    }

    /// How long a request that moved the state to `new_tat` at `now` must
    /// wait before it conforms.
    #[inline]
    pub(crate) fn wait(&self, new_tat: u64, now: u64) -> u64 {
        new_tat.saturating_sub(self.tau).saturating_sub(now)
    }

    /// The earliest time a request of `cost` conforms given `tat`.
    #[inline]
    pub(crate) fn conforming_at(&self, tat: u64, now: u64, cost: u32) -> u64 {
        match self.test(tat, now, cost, 0) {
            Ok(new_tat) => new_tat.saturating_sub(self.tau).min(now),
            Err(at) => at,
        }
    }

    /// The state after giving back `cost` permits taken earlier.
    #[inline]
    pub(crate) fn refund(&self, tat: u64, cost: u32) -> u64 {
        tat.saturating_sub(self.t.saturating_mul(u64::from(cost)))
    }

    /// Permits available at `now` (how many cost-1 requests would conform).
    #[inline]
    pub(crate) fn available(&self, tat: u64, now: u64) -> u32 {
        let used = tat.saturating_sub(now);
        let free = self.tau.saturating_sub(used) / self.t;
        // At most `tau / t`, the burst.
        u32::try_from(free).unwrap_or(u32::MAX)
    }
}

/// A [`Gcra`] that can be replaced while limiters read it: a sequence
/// lock over plain atomics, so a reader never mixes the interval of one
/// quota with the tolerance of another. Reading is four loads and one
/// branch (no read-modify-write); writers must be serialised by the
/// caller.
///
/// Two words, not three: the burst is derived ([`Gcra::burst`]). Packing
/// the quotas that fit into one word (interval and burst, the tolerance
/// recomputed with a multiplication) measured slower than this.
#[derive(Debug)]
pub(crate) struct GcraCell {
    /// Odd while a write is in progress.
    version: AtomicU64,
    t: AtomicU64,
    tau: AtomicU64,
}

impl GcraCell {
    pub(crate) fn new(g: Gcra) -> Self {
        Self {
            version: AtomicU64::new(0),
            t: AtomicU64::new(g.t),
            tau: AtomicU64::new(g.tau),
        }
    }

    /// The quota in effect.
    #[inline]
    pub(crate) fn load(&self) -> Gcra {
        self.try_load().unwrap_or_else(|| self.load_contended())
    }

    /// One read, `None` if a write overlapped it.
    #[inline]
    fn try_load(&self) -> Option<Gcra> {
        let before = self.version.load(Ordering::Acquire);
        let g = Gcra {
            t: self.t.load(Ordering::Relaxed),
            tau: self.tau.load(Ordering::Relaxed),
        };
        fence(Ordering::Acquire);
        let after = self.version.load(Ordering::Relaxed);
        // Unchanged and even, in one branch.
        ((before ^ after) | (before & 1) == 0).then_some(g)
    }

    /// Reads until no write overlaps, out of line: only a writer preempted
    /// in the middle of its two stores keeps a reader here.
    #[cold]
    #[inline(never)]
    fn load_contended(&self) -> Gcra {
        let mut spins = 0u32;
        loop {
            if let Some(g) = self.try_load() {
                return g;
            }
            spins += 1;
            if spins % 64 == 0 {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }

    /// Replaces the quota. Callers serialise writes (a mutex).
    pub(crate) fn store(&self, g: Gcra) {
        let v = self.version.load(Ordering::Relaxed);
        self.version.store(v.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        self.t.store(g.t, Ordering::Relaxed);
        self.tau.store(g.tau, Ordering::Relaxed);
        self.version.store(v.wrapping_add(2), Ordering::Release);
    }
}

impl Gcra {
    /// The state under `self` that keeps the permits in use of `tat`
    /// under `old`: the time still to replenish, `tat - now`, is that many
    /// of `old`'s intervals, and becomes as many of `self`'s (rounded up,
    /// so a change never hands out a permit that was in use).
    pub(crate) fn rescale(&self, old: &Gcra, tat: u64, now: u64) -> u64 {
        if tat <= now || old.t == self.t {
            return tat;
        }
        let used = u128::from(tat - now);
        let scaled = (used * u128::from(self.t)).div_ceil(u128::from(old.t));
        now.saturating_add(u64::try_from(scaled).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn ten_per_second_burst_3() -> Gcra {
        Gcra::new(10, Duration::from_secs(1), 3)
    }

    #[test]
    fn burst_then_one_per_interval() {
        let g = ten_per_second_burst_3();
        assert_eq!(g.interval(), Duration::from_millis(100));
        let mut tat = 0;
        for _ in 0..3 {
            tat = g.test(tat, 0, 1, 0).unwrap();
        }
        assert_eq!(tat, 300 * MS);
        assert_eq!(g.test(tat, 0, 1, 0), Err(100 * MS));
        assert_eq!(g.test(tat, 100 * MS - 1, 1, 0), Err(100 * MS));
        tat = g.test(tat, 100 * MS, 1, 0).unwrap();
        assert_eq!(g.test(tat, 100 * MS, 1, 0), Err(200 * MS));
    }

    #[test]
    fn rescale_keeps_the_permits_in_use() {
        let old = ten_per_second_burst_3();
        let tat = old.test(old.test(0, 0, 1, 0).unwrap(), 0, 1, 0).unwrap();
        assert_eq!(old.available(tat, 0), 1);
        // Twice the rate, a larger burst: the two permits stay in use.
        let new = Gcra::new(20, Duration::from_secs(1), 5);
        let scaled = new.rescale(&old, tat, 0);
        assert_eq!(scaled, 100 * MS);
        assert_eq!(new.available(scaled, 0), 3);
        // A full bucket stays full.
        assert_eq!(new.rescale(&old, 0, 50 * MS), 0);
        let cell = GcraCell::new(old);
        cell.store(new);
        assert_eq!(cell.load(), new);
    }

    /// Small and large quotas (up to u32::MAX permits with the tolerance
    /// at half the clock's range) read back whole, burst included.
    #[test]
    fn quotas_read_back_whole() {
        let quotas = [
            ten_per_second_burst_3(),
            Gcra::new(1, Duration::from_secs(3600), 1),
            Gcra::new(1_000_000, Duration::from_secs(1), 1 << 23),
            Gcra::new(
                1,
                Duration::from_nanos(u64::MAX / 2 / u64::from(u32::MAX)),
                u32::MAX,
            ),
        ];
        assert_eq!(quotas.map(|g| g.burst()), [3, 1, 1 << 23, u32::MAX]);
        let cell = GcraCell::new(quotas[1]);
        assert_eq!(cell.load(), quotas[1]);
        for g in quotas.iter().chain(quotas.iter().rev()) {
            cell.store(*g);
            assert_eq!(cell.load(), *g);
        }
    }

    /// `exceeds_burst` is `cost > burst`, without the division, also where
    /// `cost * t` overflows.
    #[test]
    fn exceeds_burst_is_cost_above_burst() {
        let large = Gcra::new(1, Duration::from_nanos(u64::MAX / 2 / 1000), 1000);
        for g in [ten_per_second_burst_3(), large] {
            let burst = g.burst();
            for cost in [0, 1, burst - 1, burst, burst + 1, u32::MAX] {
                assert_eq!(g.exceeds_burst(cost), cost > burst, "{g:?} cost {cost}");
            }
        }
    }

    /// Readers racing a writer that alternates between two quotas only
    /// ever see one of the two, whole.
    #[test]
    fn concurrent_readers_never_mix_two_quotas() {
        use std::sync::atomic::AtomicBool;
        let a = ten_per_second_burst_3();
        let b = Gcra::new(1, Duration::from_secs(3600), 1000);
        let cell = GcraCell::new(a);
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            let readers: Vec<_> = (0..3)
                .map(|_| {
                    s.spawn(|| {
                        let mut seen = [0u64; 2];
                        while !done.load(Ordering::Relaxed) {
                            let g = cell.load();
                            assert!(g == a || g == b, "mixed quota {g:?}");
                            seen[usize::from(g == b)] += 1;
                        }
                        seen
                    })
                })
                .collect();
            for i in 0..200_000 {
                cell.store(if i % 2 == 0 { b } else { a });
            }
            done.store(true, Ordering::Relaxed);
            for r in readers {
                let seen = r.join().expect("reader");
                assert!(seen[0] + seen[1] > 0);
            }
        });
    }

    #[test]
    fn weighted_and_reservations() {
        let g = ten_per_second_burst_3();
        let tat = g.test(0, 0, 3, 0).unwrap();
        assert_eq!(g.available(tat, 0), 0);
        assert_eq!(g.available(tat, 150 * MS), 1);
        // Cost 2 needs 200 ms more; a 250 ms wait allowance admits it.
        assert_eq!(g.test(tat, 0, 2, 0), Err(200 * MS));
        let reserved = g.test(tat, 0, 2, 250 * MS).unwrap();
        assert_eq!(g.wait(reserved, 0), 200 * MS);
        assert_eq!(g.conforming_at(tat, 0, 2), 200 * MS);
        assert_eq!(g.refund(reserved, 2), tat);
        // A cost above the burst never conforms without waiting.
        assert!(g.test(0, 0, 4, 0).is_err());
        // Idle long enough, the bucket is full again but not more.
        assert_eq!(g.available(tat, 10_000 * MS), 3);
    }
}
