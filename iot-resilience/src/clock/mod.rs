//! Time sources. Layers read time through [`Clock`] so tests can control it.
//!
//! One file per clock: [`TokioClock`] (the default), [`ManualClock`] (moved
//! by hand) and, with the `quanta` feature, [`QuantaClock`]; [`Epoch`] is
//! how hot paths keep times in atomics.

use std::sync::Arc;
use std::time::Instant;

mod epoch;
mod manual;
#[cfg(feature = "quanta")]
mod quanta;
mod tokio;

pub use self::epoch::Epoch;
pub use self::manual::ManualClock;
#[cfg(feature = "quanta")]
pub use self::quanta::QuantaClock;
pub(crate) use self::tokio::Stamp;
pub use self::tokio::TokioClock;

/// `d` in nanoseconds, saturating at `u64::MAX` (584 years): how the layers
/// keep durations in atomics.
#[inline]
pub(crate) fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A monotonic time source.
///
/// The default, [`TokioClock`], follows tokio's clock: in builds that can
/// pause tokio's time (tokio's `test-util` feature, as tests have) it reads
/// that clock, so tests with `#[tokio::test(start_paused = true)]` and
/// `tokio::time::advance` are deterministic; in other builds it reads the
/// same monotonic time through a cheaper counter. [`ManualClock`] is moved
/// by hand.
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
