//! Times kept as nanoseconds from a fixed origin.

use std::time::{Duration, Instant};

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
