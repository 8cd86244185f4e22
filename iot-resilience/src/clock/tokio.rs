//! The default clock: tokio's time, read as cheaply as the build allows.

use std::time::Instant;

use super::{Clock, Epoch};

/// tokio's clock, the default of every layer.
///
/// What it reads is fixed when the crate is compiled
/// ([`TokioClock::FOLLOWS_PAUSED_TIME`]):
///
/// * **In builds where tokio's `test-util` feature is compiled in** (test
///   builds that pause time), it reads `tokio::time::Instant::now()`, so
///   `#[tokio::test(start_paused = true)]`, `tokio::time::pause` and
///   `tokio::time::advance` move it and such tests are deterministic.
/// * **In other builds** tokio's clock cannot be paused and *is* the OS
///   monotonic clock (`std::time::Instant`, a `clock_gettime` on Linux: 23
///   to 45 ns on the virtual machines these crates are benchmarked on). With
///   the `quanta` feature (on by default) `TokioClock` then reads that time
///   through the CPU's time-stamp counter, as [`QuantaClock`] does and
///   governor does: about 10 ns, anchored to `Instant` at its first use and
///   scaled by quanta's calibration against the OS clock (quanta falls back
///   to the OS clock on CPUs without an invariant counter). Without the
///   feature it calls `Instant::now()`.
///
/// Instants it returns may therefore differ from `Instant::now()` by the
/// counter's calibration error (parts per million): pass a limiter's
/// `check_at` instants read from this clock when they must agree with
/// `check`'s to the nanosecond.
///
/// [`QuantaClock`]: crate::QuantaClock
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl TokioClock {
    /// True when tokio's `test-util` feature is compiled into this build, so
    /// tokio's time can be paused and `TokioClock` reads tokio's clock;
    /// false when it reads the monotonic time directly.
    pub const FOLLOWS_PAUSED_TIME: bool = pause_probe::TOKIO_CAN_PAUSE;
}

impl Clock for TokioClock {
    #[inline]
    fn now(&self) -> Instant {
        if Self::FOLLOWS_PAUSED_TIME {
            ::tokio::time::Instant::now().into_std()
        } else {
            fast::now()
        }
    }

    #[inline]
    fn epoch(&self) -> Epoch {
        if Self::FOLLOWS_PAUSED_TIME {
            Epoch::new(self.now())
        } else {
            fast::epoch()
        }
    }

    #[inline]
    fn nanos_since(&self, epoch: &Epoch) -> u64 {
        if Self::FOLLOWS_PAUSED_TIME {
            epoch.nanos(self.now())
        } else {
            fast::nanos_since(epoch)
        }
    }
}

/// A moment on [`TokioClock`], cheap to take and to add a duration to: the
/// counter's nanoseconds since a process-wide epoch where tokio's time
/// cannot be paused, tokio's `Instant` where it can. Converted to an
/// `Instant` only when a timer needs one (the timeout layer's deadline).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stamp {
    /// Nanoseconds since [`process_epoch`].
    Nanos(u64),
    /// tokio's clock, which paused time moves.
    Tokio(::tokio::time::Instant),
}

impl Stamp {
    /// Now.
    #[inline]
    pub(crate) fn now() -> Self {
        if TokioClock::FOLLOWS_PAUSED_TIME {
            Stamp::Tokio(::tokio::time::Instant::now())
        } else {
            Stamp::Nanos(fast::nanos_since(process_epoch()))
        }
    }

    /// The instant `after` this one, for tokio's timer; about 30 years from
    /// now past the clock's range, as `tokio::time::sleep` does.
    pub(crate) fn instant_after(self, after: std::time::Duration) -> ::tokio::time::Instant {
        let at = match self {
            Stamp::Nanos(nanos) => ::tokio::time::Instant::from_std(process_epoch().instant(nanos)),
            Stamp::Tokio(at) => at,
        };
        at.checked_add(after).unwrap_or_else(|| {
            ::tokio::time::Instant::now() + std::time::Duration::from_secs(86_400 * 365 * 30)
        })
    }
}

/// One epoch for the process, for [`Stamp`]s.
#[inline]
fn process_epoch() -> &'static Epoch {
    static EPOCH: std::sync::OnceLock<Epoch> = std::sync::OnceLock::new();
    EPOCH.get_or_init(fast::epoch)
}

/// The monotonic time when tokio's cannot be paused.
#[cfg(feature = "quanta")]
mod fast {
    use std::sync::OnceLock;
    use std::time::Instant;

    use crate::clock::{Clock, Epoch, QuantaClock};

    /// One counter for the process: quanta calibrates once (a few
    /// milliseconds at the first use), and every epoch shares one origin.
    /// Inlined: after the first use this is one load and a branch.
    #[inline]
    fn counter() -> &'static QuantaClock {
        static COUNTER: OnceLock<QuantaClock> = OnceLock::new();
        COUNTER.get_or_init(QuantaClock::new)
    }

    #[inline]
    pub(super) fn now() -> Instant {
        counter().now()
    }

    #[inline]
    pub(super) fn epoch() -> Epoch {
        counter().epoch()
    }

    #[inline]
    pub(super) fn nanos_since(epoch: &Epoch) -> u64 {
        counter().nanos_since(epoch)
    }
}

/// The monotonic time when tokio's cannot be paused.
#[cfg(not(feature = "quanta"))]
mod fast {
    use std::time::Instant;

    use crate::clock::Epoch;

    #[inline]
    pub(super) fn now() -> Instant {
        Instant::now()
    }

    #[inline]
    pub(super) fn epoch() -> Epoch {
        Epoch::new(Instant::now())
    }

    #[inline]
    pub(super) fn nanos_since(epoch: &Epoch) -> u64 {
        epoch.nanos(Instant::now())
    }
}

/// Whether tokio's `test-util` feature is compiled in, found at compile
/// time from whether `tokio::time::pause` exists.
///
/// Cargo does not tell a crate its dependencies' features, so this asks the
/// name resolver: inside the block below, the glob import of `tokio::time`
/// brings `pause` (which returns `()`) when `test-util` is on, and it
/// shadows this module's own `pause` (which returns [`NoPause`]); without
/// the feature only ours is in scope. The return type then selects the
/// constant. No code runs: neither `pause` is called.
mod pause_probe {
    /// What this module's stand-in for `tokio::time::pause` returns.
    pub(super) struct NoPause;

    /// The stand-in, found only when tokio has no `pause`.
    #[allow(dead_code)]
    pub(super) fn pause() -> NoPause {
        NoPause
    }

    /// Maps the return type of whichever `pause` was found to a constant.
    pub(super) trait Probe {
        const CAN_PAUSE: bool;
    }

    impl Probe for () {
        const CAN_PAUSE: bool = true;
    }

    impl Probe for NoPause {
        const CAN_PAUSE: bool = false;
    }

    const fn can_pause<R: Probe>(_: fn() -> R) -> bool {
        R::CAN_PAUSE
    }

    pub(super) const TOKIO_CAN_PAUSE: bool = {
        #[allow(unused_imports)]
        use ::tokio::time::*;
        can_pause(pause)
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This crate's tests compile tokio with `test-util`, so the default
    /// clock must follow paused time here (the benchmarks, built without
    /// it, check the other side).
    #[test]
    fn test_builds_follow_paused_time() {
        // Through `black_box`: a constant in an assertion is a clippy lint.
        assert!(std::hint::black_box(TokioClock::FOLLOWS_PAUSED_TIME));
    }

    #[tokio::test(start_paused = true)]
    async fn paused_time_moves_it() {
        let clock = TokioClock;
        let epoch = clock.epoch();
        let before = clock.now();
        ::tokio::time::advance(std::time::Duration::from_secs(3)).await;
        assert_eq!(clock.now() - before, std::time::Duration::from_secs(3));
        assert_eq!(clock.nanos_since(&epoch), 3_000_000_000);
    }
}
