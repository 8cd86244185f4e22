//! Times kept as nanoseconds from a fixed origin.

use std::time::{Duration, Instant};

/// A fixed origin on a clock, so hot paths can keep times as `u64`
/// nanoseconds in atomics: an `Instant`, plus the reading of the clock's
/// own counter at that instant for clocks that have one.
#[derive(Debug, Clone, Copy)]
pub struct Epoch {
    origin: Instant,
    raw: u64,
    /// The process's counter, where [`TokioClock`](crate::TokioClock) made
    /// this epoch on it: readings then use it without first checking that
    /// it is initialised (a global's check on every call).
    #[cfg(feature = "quanta")]
    counter: Option<&'static super::QuantaClock>,
}

impl Epoch {
    /// An epoch at `origin`.
    pub fn new(origin: Instant) -> Self {
        Self::with_raw(origin, 0)
    }

    /// An epoch at `origin`, where the clock's own counter read `raw`.
    pub fn with_raw(origin: Instant, raw: u64) -> Self {
        Self {
            origin,
            raw,
            #[cfg(feature = "quanta")]
            counter: None,
        }
    }

    /// This epoch, made on the process's `counter`.
    #[cfg(feature = "quanta")]
    pub(crate) fn on_counter(self, counter: &'static super::QuantaClock) -> Self {
        Self {
            counter: Some(counter),
            ..self
        }
    }

    /// The counter this epoch was made on, if [`on_counter`](Self::on_counter) said.
    #[cfg(feature = "quanta")]
    #[inline]
    pub(crate) fn counter(&self) -> Option<&'static super::QuantaClock> {
        self.counter
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
