//! When devices go offline: per-device deadlines and the sweep's lower bound.

use std::time::{Duration, Instant};

/// When silence turns a device offline, or the earliest such moment over a
/// set of devices.
///
/// The registry keeps the minimum over all devices that silence can affect
/// as a lower bound; a sweep whose `now` is not past it returns without
/// scanning. Heartbeats only push deadlines later, so they never need to
/// touch the bound, and the steady state of a healthy fleet is O(1) sweeps
/// until the earliest deadline passes.
///
/// Variant order matters: the derived `Ord` makes `min` pick the earliest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Expiry {
    /// Already due, whatever `now` is: the device was never heard from.
    Now,
    /// Due once `now` is strictly later than this deadline.
    After(Instant),
    /// Never due (the deadline overflows `Instant`, or nothing can expire).
    Never,
}

impl Expiry {
    /// The deadline of a device last heard from at `last_seen`.
    pub(crate) fn of(last_seen: Option<Instant>, offline_after: Duration) -> Self {
        match last_seen {
            None => Expiry::Now,
            Some(t) => t
                .checked_add(offline_after)
                .map_or(Expiry::Never, Expiry::After),
        }
    }

    /// Whether silence has lasted strictly longer than allowed at `now`.
    pub(crate) fn is_due(self, now: Instant) -> bool {
        match self {
            Expiry::Now => true,
            Expiry::After(deadline) => now > deadline,
            Expiry::Never => false,
        }
    }
}

impl Default for Expiry {
    /// An empty registry has nothing to expire.
    fn default() -> Self {
        Expiry::Never
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_strictly_after_the_deadline() {
        let t0 = Instant::now();
        let d = Duration::from_secs(10);
        let expiry = Expiry::of(Some(t0), d);
        assert!(!expiry.is_due(t0 + d));
        assert!(expiry.is_due(t0 + d + Duration::from_nanos(1)));
        assert!(Expiry::of(None, d).is_due(t0));
        assert!(!Expiry::Never.is_due(t0 + d * 1000));
    }

    #[test]
    fn min_is_the_earliest() {
        let t0 = Instant::now();
        let early = Expiry::After(t0);
        let late = Expiry::After(t0 + Duration::from_secs(1));
        assert_eq!(late.min(early), early);
        assert_eq!(early.min(Expiry::Now), Expiry::Now);
        assert_eq!(Expiry::Never.min(late), late);
    }
}
