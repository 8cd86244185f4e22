//! Time sources. Layers read time through [`Clock`] so tests can control it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A monotonic time source.
///
/// The default, [`TokioClock`], follows tokio's clock, so tests that pause
/// time (`#[tokio::test(start_paused = true)]`, `tokio::time::advance`) are
/// deterministic. [`ManualClock`] is moved by hand.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Instant;

    /// An origin for [`nanos_since`](Clock::nanos_since), at the current
    /// instant.
    #[inline]
    fn epoch(&self) -> Epoch {
        Epoch::new(self.now())
    }

    /// Nanoseconds from `epoch` (made by this clock's
    /// [`epoch`](Clock::epoch)) to now; 0 if now is before it.
    ///
    /// The rate limiter and the circuit breaker keep time as such
    /// nanoseconds in atomics and call this on every request. A clock with a
    /// counter cheaper than `Instant` overrides this method and
    /// [`epoch`](Clock::epoch) (see `QuantaClock`, feature `quanta`).
    #[inline]
    fn nanos_since(&self, epoch: &Epoch) -> u64 {
        epoch.nanos(self.now())
    }
}

/// tokio's clock (`tokio::time::Instant::now()`), which honours paused time.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    #[inline]
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// A clock that only moves when told to. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    origin: Instant,
    offset_nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at the moment of creation.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            offset_nanos: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.offset_nanos.fetch_add(nanos, Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.origin + Duration::from_nanos(self.offset_nanos.load(Ordering::SeqCst))
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    #[inline]
    fn now(&self) -> Instant {
        (**self).now()
    }

    #[inline]
    fn epoch(&self) -> Epoch {
        (**self).epoch()
    }

    #[inline]
    fn nanos_since(&self, epoch: &Epoch) -> u64 {
        (**self).nanos_since(epoch)
    }
}

/// A fixed origin on a clock, so hot paths can keep times as `u64`
/// nanoseconds in atomics: an `Instant`, plus the reading of the clock's
/// own counter at that instant for clocks that have one.
#[derive(Debug, Clone, Copy)]
pub struct Epoch {
    origin: Instant,
    raw: u64,
}

impl Epoch {
    /// An epoch at `origin`.
    pub fn new(origin: Instant) -> Self {
        Self { origin, raw: 0 }
    }

    /// An epoch at `origin`, where the clock's own counter read `raw`.
    pub fn with_raw(origin: Instant, raw: u64) -> Self {
        Self { origin, raw }
    }

    /// The clock's counter at the origin (0 for clocks without one).
    pub fn raw(&self) -> u64 {
        self.raw
    }

    /// Nanoseconds from the origin to `t` (0 for instants before it).
    #[inline]
    pub fn nanos(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }

    /// The instant `nanos` after the origin.
    #[inline]
    pub fn instant(&self, nanos: u64) -> Instant {
        self.origin + Duration::from_nanos(nanos)
    }
}

/// The CPU's time-stamp counter through [`quanta`](https://docs.rs/quanta),
/// the clock governor uses: on x86-64 a `rdtsc` and a multiply instead of a
/// `clock_gettime` call, which costs 20 ns or more on virtual machines whose
/// clock source is not the TSC. Use it for rate limiters and breakers on hot
/// paths: `RateLimitLayer::with_clock(config, QuantaClock::new())`.
///
/// Its [`now`](Clock::now) is derived from the counter too (the `Instant`
/// at creation plus the counter's elapsed nanoseconds), so instants it
/// returns and [`nanos_since`](Clock::nanos_since) agree: pass a
/// limiter's `check_at` instants read from this clock, not from
/// `Instant::now()`, which the counter's calibration may drift from. It
/// does not follow tokio's paused time: tests that pause time keep the
/// default [`TokioClock`]. Clones share the origin.
#[cfg(feature = "quanta")]
#[cfg_attr(docsrs, doc(cfg(feature = "quanta")))]
#[derive(Debug, Clone)]
pub struct QuantaClock {
    clock: quanta::Clock,
    origin: Instant,
    origin_raw: u64,
}

#[cfg(feature = "quanta")]
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
}

#[cfg(feature = "quanta")]
impl Default for QuantaClock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "quanta")]
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
