//! The traits that let the retry layer use any schedule.

use std::time::Duration;

use super::config::BackoffConfig;
use super::schedule::Backoff;

/// A schedule of delays between retries, for one retried call.
///
/// Implemented by [`Backoff`], by `&mut` and boxed schedules, and (feature
/// `backoff`) by [`BackoffCompat`](super::BackoffCompat) around any
/// `backoff::backoff::Backoff`.
pub trait BackoffSchedule {
    /// The delay before the next retry; `None` ends the retries.
    fn next_delay(&mut self) -> Option<Duration>;

    /// Starts over from the first delay.
    fn reset(&mut self);
}

impl BackoffSchedule for Backoff {
    #[inline]
    fn next_delay(&mut self) -> Option<Duration> {
        Backoff::next_delay(self)
    }

    #[inline]
    fn reset(&mut self) {
        Backoff::reset(self)
    }
}

impl<B: BackoffSchedule + ?Sized> BackoffSchedule for &mut B {
    fn next_delay(&mut self) -> Option<Duration> {
        (**self).next_delay()
    }

    fn reset(&mut self) {
        (**self).reset()
    }
}

impl<B: BackoffSchedule + ?Sized> BackoffSchedule for Box<B> {
    fn next_delay(&mut self) -> Option<Duration> {
        (**self).next_delay()
    }

    fn reset(&mut self) {
        (**self).reset()
    }
}

/// Makes a fresh schedule for each retried call.
///
/// The retry layer calls it only when a call is about to be retried, so
/// calls that succeed at once never build a schedule. Implemented by
/// [`BackoffConfig`] (a randomly seeded [`Backoff`] each time) and by
/// closures returning a [`BackoffSchedule`], which is how to inject a
/// seeded generator:
///
/// ```
/// use std::time::Duration;
/// use iot_resilience::backoff::{Backoff, BackoffConfig, MakeBackoff};
///
/// let config = BackoffConfig::full_jitter(Duration::from_millis(10), Duration::from_secs(1));
/// let make = move || Backoff::with_seed(config, 42);
/// let a: Vec<_> = make.make_backoff().take(5).collect();
/// let b: Vec<_> = make.make_backoff().take(5).collect();
/// assert_eq!(a, b);
/// ```
pub trait MakeBackoff {
    /// The schedule made.
    type Backoff: BackoffSchedule;

    /// A schedule at its first delay.
    fn make_backoff(&self) -> Self::Backoff;

    /// A schedule at its first delay, given the retry layer's `backoff`
    /// setting in effect (as configured, or as last changed through
    /// [`RetryHandle::update`](crate::retry::RetryHandle::update)). The
    /// retry layer calls this one. By default it ignores `current` and
    /// calls [`make_backoff`](Self::make_backoff) (a custom schedule
    /// replaces the configured one); [`BackoffConfig`] follows `current`,
    /// so the layer made from a configuration picks up changes.
    fn make_backoff_for(&self, current: &BackoffConfig) -> Self::Backoff {
        let _ = current;
        self.make_backoff()
    }
}

impl MakeBackoff for BackoffConfig {
    type Backoff = Backoff;

    fn make_backoff(&self) -> Backoff {
        Backoff::new(*self)
    }

    fn make_backoff_for(&self, current: &BackoffConfig) -> Backoff {
        Backoff::new(*current)
    }
}

impl<F, B> MakeBackoff for F
where
    F: Fn() -> B,
    B: BackoffSchedule,
{
    type Backoff = B;

    fn make_backoff(&self) -> B {
        self()
    }
}
