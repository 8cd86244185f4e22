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
/// Durations it measures are the OS clock's to the counter's calibration
/// error (parts per million). Instants it returns are not the OS clock's:
/// the OS slews its clock for NTP and the counter runs on, so the two drift
/// apart by the accumulated correction since the first use (up to 500 ppm
/// of the uptime). Pass a limiter's `check_at` instants read from this
/// clock, and wait with OS timers for durations (`retry_after`), not for
/// its instants; the layers' own timers do so.
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

/// A moment on [`TokioClock`], cheap to take: the counter's reading where
/// tokio's time cannot be paused (feature `quanta`), tokio's `Instant`
/// otherwise. Converted to nanoseconds since an epoch of `TokioClock`
/// ([`TokioClock::nanos_at`]) or to an `Instant` for a timer
/// ([`instant_after`](Self::instant_after)) only when needed.
///
/// Within [`during`](Self::during), [`Stamp::now`] is the stamp given
/// there instead of a new reading: the retry layer reads the time once per
/// call for its budget and the timeout layers below it, which `call`
/// reaches in the same instant.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stamp {
    /// The time-stamp counter.
    #[cfg(feature = "quanta")]
    Raw(u64),
    /// tokio's clock (which paused time moves), or the OS clock it is
    /// where it cannot be paused and the counter is not compiled in.
    Tokio(::tokio::time::Instant),
}

std::thread_local! {
    /// The stamp of the call in progress on this thread, if a layer set one.
    static IN_CALL: std::cell::Cell<Option<Stamp>> = const { std::cell::Cell::new(None) };
}

impl Stamp {
    /// Now: the stamp of the call in progress (see [`during`](Self::during)),
    /// or a new reading.
    #[inline]
    pub(crate) fn now() -> Self {
        IN_CALL
            .with(std::cell::Cell::get)
            .unwrap_or_else(Self::read)
    }

    /// A new reading of the clock.
    #[inline]
    fn read() -> Self {
        if TokioClock::FOLLOWS_PAUSED_TIME {
            Stamp::Tokio(::tokio::time::Instant::now())
        } else {
            fast::stamp()
        }
    }

    /// Runs `f`, in which [`Stamp::now`] on this thread is `self`.
    #[inline]
    pub(crate) fn during<R>(self, f: impl FnOnce() -> R) -> R {
        /// Puts the previous stamp back, also when `f` panics.
        struct Restore(Option<Stamp>);
        impl Drop for Restore {
            #[inline]
            fn drop(&mut self) {
                IN_CALL.with(|c| c.set(self.0));
            }
        }
        let _restore = Restore(IN_CALL.with(|c| c.replace(Some(self))));
        f()
    }

    /// The instant `after` this one, for tokio's timer; about 30 years from
    /// now past the clock's range, as `tokio::time::sleep` does.
    ///
    /// A counter stamp is turned into "the OS clock now, minus the time
    /// elapsed on the counter since the stamp": tokio's timer runs on the OS
    /// clock, which NTP slews and the counter does not, so an instant
    /// derived from the counter alone would drift from the timer's by the
    /// accumulated slew (seconds after days of uptime). Only the elapsed
    /// part, microseconds, is measured on the counter.
    // One variant without the `quanta` feature: still a `match`, for both.
    #[allow(clippy::infallible_destructuring_match)]
    pub(crate) fn instant_after(self, after: std::time::Duration) -> ::tokio::time::Instant {
        let (at, after) = match self {
            #[cfg(feature = "quanta")]
            Stamp::Raw(raw) => (
                ::tokio::time::Instant::now(),
                after.saturating_sub(std::time::Duration::from_nanos(fast::nanos_from(raw))),
            ),
            Stamp::Tokio(at) => (at, after),
        };
        at.checked_add(after).unwrap_or_else(|| {
            ::tokio::time::Instant::now() + std::time::Duration::from_secs(86_400 * 365 * 30)
        })
    }
}

impl TokioClock {
    /// Does now what the first reading needs (quanta's calibration, where
    /// the counter is read), so a layer that reads the clock only per call
    /// (the timeout) does not make its first call wait for it. Layers that
    /// make an epoch when they are made (limiters, breakers, budgets)
    /// already do.
    pub(crate) fn warm_up() {
        if !Self::FOLLOWS_PAUSED_TIME {
            let _ = fast::epoch();
        }
    }

    /// Nanoseconds from `epoch` (made by this clock) to `stamp`; 0 if the
    /// stamp is before it.
    #[inline]
    pub(crate) fn nanos_at(&self, epoch: &Epoch, stamp: Stamp) -> u64 {
        match stamp {
            #[cfg(feature = "quanta")]
            Stamp::Raw(raw) => fast::nanos_at(epoch, raw),
            Stamp::Tokio(at) => epoch.nanos(at.into_std()),
        }
    }
}

/// The monotonic time when tokio's cannot be paused.
#[cfg(feature = "quanta")]
mod fast {
    use std::sync::OnceLock;
    use std::time::Instant;

    use crate::clock::{Clock, Epoch, QuantaClock};

    /// One counter for the process: quanta calibrates once, at the first
    /// use (up to 200 ms; [`warm_up`] does it when a layer is made), and
    /// every epoch shares one origin.
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
        let counter = counter();
        counter.epoch().on_counter(counter)
    }

    /// Through the epoch's reference to the counter where it has one (every
    /// epoch [`epoch`] made): no check of the `OnceLock` per reading.
    #[inline]
    pub(super) fn nanos_since(epoch: &Epoch) -> u64 {
        epoch.counter().unwrap_or_else(counter).nanos_since(epoch)
    }

    #[inline]
    pub(super) fn stamp() -> super::Stamp {
        super::Stamp::Raw(counter().raw())
    }

    #[inline]
    pub(super) fn nanos_at(epoch: &Epoch, raw: u64) -> u64 {
        counter().nanos_between(epoch.raw(), raw)
    }

    /// Nanoseconds from counter reading `raw` to now.
    pub(super) fn nanos_from(raw: u64) -> u64 {
        let counter = counter();
        counter.nanos_between(raw, counter.raw())
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

    #[inline]
    pub(super) fn stamp() -> super::Stamp {
        super::Stamp::Tokio(::tokio::time::Instant::from_std(Instant::now()))
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
    /// clock must follow paused time here (`clock-check/`, built without
    /// it, checks the other side).
    #[test]
    fn test_builds_follow_paused_time() {
        // Through `black_box`: a constant in an assertion is a clippy lint.
        assert!(std::hint::black_box(TokioClock::FOLLOWS_PAUSED_TIME));
    }

    /// Inside `during`, `Stamp::now` is the given stamp (nested scopes
    /// too); outside, and after a panic inside, it reads the clock again.
    #[tokio::test(start_paused = true)]
    async fn a_call_scope_shares_one_stamp_and_ends_with_it() {
        let clock = TokioClock;
        let epoch = clock.epoch();
        let nanos = |stamp: Stamp| clock.nanos_at(&epoch, stamp);
        let first = Stamp::now();
        ::tokio::time::advance(std::time::Duration::from_secs(1)).await;
        first.during(|| {
            assert_eq!(
                nanos(Stamp::now()),
                0,
                "the scope's stamp, not a new reading"
            );
            let inner = Stamp::read();
            inner.during(|| assert_eq!(nanos(Stamp::now()), 1_000_000_000));
            assert_eq!(nanos(Stamp::now()), 0, "the outer scope again");
        });
        assert_eq!(nanos(Stamp::now()), 1_000_000_000);
        let panicked = std::panic::catch_unwind(|| first.during(|| panic!("in a call")));
        assert!(panicked.is_err());
        assert_eq!(
            nanos(Stamp::now()),
            1_000_000_000,
            "restored after the panic"
        );
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
