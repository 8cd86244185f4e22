//! Adapter for schedules of the `backoff` 0.4 crate.

use std::time::Duration;

use super::make::BackoffSchedule;

/// Uses any [`backoff::backoff::Backoff`](::backoff::backoff::Backoff) (the `backoff` 0.4 crate) as a
/// [`BackoffSchedule`].
///
/// For users who already configure `backoff` schedules. `backoff` is
/// unmaintained (RUSTSEC-2025-0012); prefer [`Backoff`](super::Backoff).
/// Note that `backoff`'s `ExponentialBackoff` ends after its own
/// `max_elapsed_time` (15 minutes by default), measured on the wall clock,
/// not on tokio's pausable clock.
///
/// ```
/// use std::time::Duration;
/// use iot_resilience::backoff::{BackoffCompat, BackoffSchedule};
///
/// let mut schedule = BackoffCompat::new(backoff::backoff::Constant::new(Duration::from_millis(5)));
/// assert_eq!(schedule.next_delay(), Some(Duration::from_millis(5)));
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "backoff")))]
#[derive(Debug, Clone, Default)]
pub struct BackoffCompat<B>(pub B);

impl<B> BackoffCompat<B> {
    /// Wraps `backoff`.
    pub fn new(backoff: B) -> Self {
        Self(backoff)
    }

    /// The wrapped schedule.
    pub fn into_inner(self) -> B {
        self.0
    }
}

impl<B: ::backoff::backoff::Backoff> BackoffSchedule for BackoffCompat<B> {
    fn next_delay(&mut self) -> Option<Duration> {
        self.0.next_backoff()
    }

    fn reset(&mut self) {
        self.0.reset()
    }
}
