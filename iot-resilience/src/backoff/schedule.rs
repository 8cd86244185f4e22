//! The stateful schedule: hands out one delay per retry.

use std::time::Duration;

use fastrand::Rng;

use super::config::{BackoffConfig, BackoffStrategy};
use crate::clock::nanos;

/// A backoff schedule in progress: [`next_delay`](Self::next_delay) returns
/// the delay before the next retry, [`reset`](Self::reset) starts over
/// (e.g. after an MQTT reconnect succeeded).
///
/// Randomness comes from a [`fastrand::Rng`]; pass a seeded one
/// ([`with_seed`](Self::with_seed)) for reproducible delays. Nothing here
/// allocates, overflows or panics, whatever the configuration or the number
/// of retries: delays saturate at `cap`.
///
/// ```
/// use std::time::Duration;
/// use iot_resilience::backoff::{Backoff, BackoffConfig};
///
/// let config = BackoffConfig::exponential(Duration::from_millis(100), Duration::from_secs(1));
/// let mut backoff = Backoff::new(config);
/// let delays: Vec<_> = backoff.by_ref().take(6).map(|d| d.as_millis()).collect();
/// assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
///
/// backoff.reset();
/// assert_eq!(backoff.next_delay(), Some(Duration::from_millis(100)));
/// ```
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    rng: Rng,
    /// Delays handed out since the last reset: the `n` of the next delay.
    attempt: u32,
    /// The previous delay (decorrelated jitter), in nanoseconds.
    prev: u64,
}

impl Backoff {
    /// A schedule with a randomly seeded generator.
    ///
    /// The configuration is used as given; call
    /// [`BackoffConfig::validate`] first if it comes from a user. Invalid
    /// values still never panic (e.g. `cap < base` yields `cap`).
    pub fn new(config: BackoffConfig) -> Self {
        Self::with_rng(config, Rng::new())
    }

    /// A schedule drawing from `rng`.
    pub fn with_rng(config: BackoffConfig, rng: Rng) -> Self {
        Self {
            config,
            rng,
            attempt: 0,
            prev: nanos(config.base),
        }
    }

    /// A schedule drawing from `Rng::with_seed(seed)`: the same seed gives
    /// the same delays.
    pub fn with_seed(config: BackoffConfig, seed: u64) -> Self {
        Self::with_rng(config, Rng::with_seed(seed))
    }

    /// The configuration.
    pub fn config(&self) -> &BackoffConfig {
        &self.config
    }

    /// How many delays were handed out since creation or the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Continues the schedule as if `attempt` delays had been handed out
    /// (e.g. a reconnect loop that persisted its attempt count). The
    /// decorrelated shape restarts from `base`.
    pub fn set_attempt(&mut self, attempt: u32) {
        self.attempt = attempt;
        self.prev = nanos(self.config.base);
    }

    /// The delay before the next retry, or `None` once
    /// [`max_retries`](BackoffConfig::max_retries) delays were handed out.
    pub fn next_delay(&mut self) -> Option<Duration> {
        if self
            .config
            .max_retries
            .is_some_and(|max| self.attempt >= max)
        {
            return None;
        }
        let delay = self.delay_for(self.attempt);
        // Saturating: a schedule that ran u32::MAX times keeps returning
        // the capped delay instead of wrapping to `base`.
        self.attempt = self.attempt.saturating_add(1);
        Some(delay)
    }

    /// Starts over: the next delay is the first one again.
    pub fn reset(&mut self) {
        self.set_attempt(0);
    }

    fn delay_for(&mut self, n: u32) -> Duration {
        let ceiling = nanos(self.config.ceiling(n));
        let delay = match self.config.strategy {
            BackoffStrategy::Constant | BackoffStrategy::Exponential => ceiling,
            BackoffStrategy::FullJitter => self.rng.u64(0..=ceiling),
            BackoffStrategy::EqualJitter => {
                let half = ceiling / 2;
                // `ceiling - half` rather than `half` keeps odd ceilings
                // reachable: the range is [ceil(t/2), t].
                (ceiling - half) + self.rng.u64(0..=half)
            }
            BackoffStrategy::DecorrelatedJitter => {
                let cap = nanos(self.config.cap);
                let base = nanos(self.config.base).min(cap);
                let high = self.prev.saturating_mul(3).max(base);
                let delay = self.rng.u64(base..=high).min(cap);
                self.prev = delay;
                delay
            }
        };
        Duration::from_nanos(delay)
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.next_delay()
    }
}
