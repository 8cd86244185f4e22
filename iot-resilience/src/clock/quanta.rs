//! The CPU's time-stamp counter, through quanta.

use std::time::{Duration, Instant};

use super::{Clock, Epoch};

/// The CPU's time-stamp counter through [`quanta`](https://docs.rs/quanta),
/// the clock governor uses: on x86-64 a `rdtsc` and a multiply instead of a
/// `clock_gettime` call, which costs 20 ns or more on virtual machines whose
/// clock source is not the TSC. The default [`TokioClock`] already reads
/// it in builds where tokio's time cannot be paused; use `QuantaClock`
/// directly where the counter is wanted in every build:
/// `RateLimitLayer::with_clock(config, QuantaClock::new())`.
///
/// Its [`now`](Clock::now) is derived from the counter too (the `Instant`
/// at creation plus the counter's elapsed nanoseconds), so instants it
/// returns and [`nanos_since`](Clock::nanos_since) agree: pass a
/// limiter's `check_at` instants read from this clock, not from
/// `Instant::now()`, which the counter's calibration may drift from. It
/// does not follow tokio's paused time: tests that pause time keep the
/// default [`TokioClock`]. Clones share the origin.
///
/// [`TokioClock`]: super::TokioClock
#[cfg_attr(docsrs, doc(cfg(feature = "quanta")))]
#[derive(Debug, Clone)]
pub struct QuantaClock {
    clock: quanta::Clock,
    origin: Instant,
    origin_raw: u64,
}

impl QuantaClock {
    /// A clock on quanta's calibrated counter, starting at `Instant::now()`.
    pub fn new() -> Self {
        let clock = quanta::Clock::new();
        let origin_raw = clock.raw();
        Self {
            clock,
            origin: Instant::now(),
            origin_raw,
        }
    }

    /// The counter's reading now.
    #[inline]
    pub(crate) fn raw(&self) -> u64 {
        self.clock.raw()
    }

    /// Nanoseconds from reading `start` to reading `end` (0 if `end` is not
    /// after `start`).
    #[inline]
    pub(crate) fn nanos_between(&self, start: u64, end: u64) -> u64 {
        self.clock.delta_as_nanos(start, end)
    }
}

impl Default for QuantaClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for QuantaClock {
    #[inline]
    fn now(&self) -> Instant {
        let elapsed = self.clock.delta_as_nanos(self.origin_raw, self.clock.raw());
        self.origin + Duration::from_nanos(elapsed)
    }

    #[inline]
    fn epoch(&self) -> Epoch {
        let raw = self.clock.raw();
        let origin =
            self.origin + Duration::from_nanos(self.clock.delta_as_nanos(self.origin_raw, raw));
        Epoch::with_raw(origin, raw)
    }

    #[inline]
    fn nanos_since(&self, epoch: &Epoch) -> u64 {
        self.clock.delta_as_nanos(epoch.raw(), self.clock.raw())
    }
}

#[cfg(all(test, feature = "quanta"))]
mod quanta_tests {
    use super::*;

    /// Instants from `now` and nanoseconds from `nanos_since` measure the
    /// same time base, so `check_at(clock.now())` and `check()` agree.
    #[test]
    fn now_and_nanos_since_agree() {
        let clock = QuantaClock::new();
        let epoch = clock.epoch();
        std::thread::sleep(Duration::from_millis(20));
        let a = clock.nanos_since(&epoch);
        let via_instant = epoch.nanos(clock.now());
        let b = clock.nanos_since(&epoch);
        assert!(
            a <= via_instant + 1_000 && via_instant <= b + 1_000,
            "{a} {via_instant} {b}"
        );
    }
}
