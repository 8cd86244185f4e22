//! The bare, lock-free limiter: one `AtomicU64` shared by every clone.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::config::{RateLimitConfig, RateLimitMode};
use super::gcra::{Gcra, GcraCell};
use super::metrics::DecisionMetrics;
use crate::clock::{Epoch, nanos};
use crate::{Clock, ConfigError, TokioClock, Validated};

/// The request does not conform yet: it would after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotUntil {
    earliest: Instant,
    retry_after: Duration,
}

impl NotUntil {
    pub(crate) fn new(earliest: Instant, retry_after: Duration) -> Self {
        Self {
            earliest,
            retry_after,
        }
    }

    /// How long from the check until the request would conform (assuming
    /// nobody else takes permits meanwhile).
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }

    /// The instant, on the limiter's clock, at which it would conform. With
    /// the default clock this is the time-stamp counter's timeline, which
    /// drifts from the OS clock over a long uptime (see
    /// [`TokioClock`](crate::TokioClock)): to wait with a timer, use
    /// [`retry_after`](Self::retry_after).
    pub fn earliest_possible(&self) -> Instant {
        self.earliest
    }
}

impl fmt::Display for NotUntil {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rate limited, retry after {:?}", self.retry_after)
    }
}

impl std::error::Error for NotUntil {}

/// A unit permit taken by a service's `poll_ready` and not used yet: the
/// TAT its take produced, which [`RateLimiter::refund`] needs to give it
/// back without over-admitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reservation {
    tat: u64,
}

/// Why [`RateLimiter::check`] refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// Not enough permits now; retrying after
    /// [`NotUntil::retry_after`] would succeed.
    #[error(transparent)]
    NotUntil(NotUntil),
    /// The cost exceeds the burst: the request can never be admitted.
    #[error("a cost of {cost} permits exceeds the burst of {burst}: it can never be admitted")]
    InsufficientCapacity {
        /// The request's cost.
        cost: u32,
        /// The limiter's burst.
        burst: u32,
    },
}

impl CheckError {
    /// The wait until the request conforms; `None` if it never will.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::NotUntil(n) => Some(n.retry_after()),
            Self::InsufficientCapacity { .. } => None,
        }
    }
}

/// A GCRA rate limiter in one `AtomicU64`, shared by its clones.
///
/// Usable on its own (no tower involved) or through
/// [`RateLimitLayer`](super::RateLimitLayer). A check is one clock read,
/// one atomic load and, when admitted, one compare-exchange (retried only
/// when another thread won the race); no locks, no allocation. Checks made
/// directly on the limiter are not counted in metrics (the layer counts
/// its decisions).
///
/// ```
/// use std::time::Duration;
/// use iot_resilience::ManualClock;
/// use iot_resilience::rate_limit::{RateLimitConfig, RateLimiter};
///
/// let clock = ManualClock::new();
/// let config = RateLimitConfig::per(10, Duration::from_secs(1)).burst(2);
/// let limiter = RateLimiter::with_clock(config, clock.clone()).unwrap();
/// assert!(limiter.check(1).is_ok());
/// assert!(limiter.check(1).is_ok());
/// let denied = limiter.check(1).unwrap_err();
/// assert_eq!(denied.retry_after(), Some(Duration::from_millis(100)));
/// clock.advance(Duration::from_millis(100));
/// assert!(limiter.check(1).is_ok());
/// ```
pub struct RateLimiter<C = TokioClock> {
    inner: Arc<Inner<C>>,
}

struct Inner<C> {
    /// Theoretical arrival time, nanoseconds since `epoch`.
    tat: AtomicU64,
    /// The quota in effect (replaced by `update`).
    gcra: GcraCell,
    epoch: Epoch,
    clock: C,
    /// `mode == Wait`.
    wait: AtomicBool,
    /// `max_wait` in nanoseconds.
    max_wait: AtomicU64,
    name: Cow<'static, str>,
    /// The settings in effect, for `config()`; also serialises updates.
    config: Mutex<RateLimitConfig>,
    metrics: DecisionMetrics,
}

impl RateLimiter<TokioClock> {
    /// A limiter on tokio's clock (pausable in tests).
    pub fn new(config: RateLimitConfig) -> Result<Self, ConfigError> {
        Self::with_clock(config, TokioClock)
    }

    /// A limiter on tokio's clock for a configuration validated by
    /// [`RateLimitConfig::build`]; cannot fail.
    pub fn from_validated(config: Validated<RateLimitConfig>) -> Self {
        Self::from_validated_with_clock(config, TokioClock)
    }
}

impl<C: Clock> RateLimiter<C> {
    /// A limiter reading time from `clock`. It starts with a full bucket.
    pub fn with_clock(config: RateLimitConfig, clock: C) -> Result<Self, ConfigError> {
        config
            .build()
            .map(|config| Self::from_validated_with_clock(config, clock))
    }

    /// A limiter reading time from `clock`, for a configuration validated
    /// by [`RateLimitConfig::build`]; cannot fail.
    pub fn from_validated_with_clock(config: Validated<RateLimitConfig>, clock: C) -> Self {
        let config = config.into_inner();
        let epoch = clock.epoch();
        Self {
            inner: Arc::new(Inner {
                tat: AtomicU64::new(0),
                gcra: GcraCell::new(gcra(&config)),
                epoch,
                clock,
                wait: AtomicBool::new(config.mode == RateLimitMode::Wait),
                max_wait: AtomicU64::new(nanos(config.max_wait)),
                name: config.name.clone(),
                metrics: DecisionMetrics::new(&config.name),
                config: Mutex::new(config),
            }),
        }
    }

    /// Takes `cost` permits now, or says when they will be available.
    ///
    /// A cost of 0 always succeeds; a cost above the burst always fails
    /// with [`CheckError::InsufficientCapacity`].
    #[inline]
    pub fn check(&self, cost: u32) -> Result<(), CheckError> {
        let inner = &*self.inner;
        self.take(cost, inner.clock.nanos_since(&inner.epoch), 0)
            .map(|_| ())
    }

    /// [`check`](Self::check) at a given instant (for callers that already
    /// read the clock). Instants before the limiter's creation count as its
    /// creation.
    #[inline]
    pub fn check_at(&self, cost: u32, now: Instant) -> Result<(), CheckError> {
        self.take(cost, self.inner.epoch.nanos(now), 0).map(|_| ())
    }

    /// Takes one permit for a service's `poll_ready`, due within
    /// `max_wait` nanoseconds: the wait in nanoseconds until it is due
    /// (nanoseconds, so the hot path makes no `Duration` when it is 0),
    /// and the [`Reservation`] that gives it back if the service is
    /// dropped unused.
    ///
    /// Always inlined: returned from an out-of-line call, its result went
    /// through memory and reading it back stalled (store forwarding) on
    /// every `poll_ready`.
    #[inline(always)]
    pub(crate) fn reserve_unit(&self, max_wait: u64) -> Result<(u64, Reservation), CheckError> {
        let inner = &*self.inner;
        let now = inner.clock.nanos_since(&inner.epoch);
        let gcra = inner.gcra.load();
        let tat = self.take_tat(&gcra, 1, now, max_wait)?;
        Ok((gcra.wait(tat, now), Reservation { tat }))
    }

    /// Takes `cost` permits if they are available within `max_wait`, and
    /// returns how long the caller must wait before using them (zero if
    /// available now). The permits are reserved at once, so concurrent
    /// callers are served in reservation order.
    pub fn reserve(&self, cost: u32, max_wait: Duration) -> Result<Duration, CheckError> {
        let max_wait = nanos(max_wait);
        let inner = &*self.inner;
        let now = inner.clock.nanos_since(&inner.epoch);
        self.take(cost, now, max_wait).map(Duration::from_nanos)
    }

    /// How long until `cost` permits are available, without taking them.
    pub fn time_until(&self, cost: u32) -> Result<Duration, CheckError> {
        let inner = &*self.inner;
        let gcra = inner.gcra.load();
        if gcra.exceeds_burst(cost) {
            return Err(insufficient(&gcra, cost));
        }
        let now = inner.clock.nanos_since(&inner.epoch);
        let tat = inner.tat.load(Ordering::Relaxed);
        let at = gcra.conforming_at(tat, now, cost);
        Ok(Duration::from_nanos(at.saturating_sub(now)))
    }

    /// Permits available right now.
    pub fn available(&self) -> u32 {
        let inner = &*self.inner;
        let now = inner.clock.nanos_since(&inner.epoch);
        inner
            .gcra
            .load()
            .available(inner.tat.load(Ordering::Relaxed), now)
    }

    /// [`take_tat`](Self::take_tat), returning the wait in nanoseconds.
    #[inline]
    fn take(&self, cost: u32, now: u64, max_wait: u64) -> Result<u64, CheckError> {
        if cost == 0 {
            return Ok(0);
        }
        let gcra = self.inner.gcra.load();
        let tat = self.take_tat(&gcra, cost, now, max_wait)?;
        Ok(gcra.wait(tat, now))
    }

    /// The hot path at `now` nanoseconds since the epoch: returns the TAT
    /// the take produced. `cost` is at least 1.
    #[inline]
    fn take_tat(&self, gcra: &Gcra, cost: u32, now: u64, max_wait: u64) -> Result<u64, CheckError> {
        let inner = &*self.inner;
        if gcra.exceeds_burst(cost) {
            return Err(insufficient(gcra, cost));
        }
        // Relaxed is enough: the limiter publishes no other memory through
        // this atomic, and read-modify-writes of one location are totally
        // ordered, so no two callers can both take the same permit.
        let mut tat = inner.tat.load(Ordering::Relaxed);
        loop {
            match gcra.test(tat, now, cost, max_wait) {
                Ok(new_tat) => {
                    match inner.tat.compare_exchange_weak(
                        tat,
                        new_tat,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => return Ok(new_tat),
                        Err(actual) => tat = actual,
                    }
                }
                Err(at) => {
                    return Err(CheckError::NotUntil(NotUntil::new(
                        inner.epoch.instant(at),
                        Duration::from_nanos(at.saturating_sub(now)),
                    )));
                }
            }
        }
    }

    /// Changes the limiter's settings while it runs, for every clone, layer
    /// and service sharing it.
    ///
    /// `config` is validated as [`RateLimitConfig::validate`] does (for a
    /// configuration file); an invalid one returns that [`ConfigError`]
    /// and changes nothing, and so does a different `name` (it labels the
    /// metrics).
    ///
    /// The permits in use are kept: a limiter that had handed out 3 of its
    /// burst still has 3 in use under the new quota (they replenish at the
    /// new rate, and a smaller burst may leave none available until they
    /// do); a full bucket stays full, up to the new burst. The quota is
    /// replaced as a whole (no check combines parts of two quotas); a check
    /// in the instant between its publication and the carry-over of the
    /// state is judged by the new quota against the state before it.
    /// `mode` and `max_wait` apply to `poll_ready` calls that start after
    /// the update.
    ///
    /// ```
    /// use std::time::Duration;
    /// use iot_resilience::ManualClock;
    /// use iot_resilience::rate_limit::{RateLimitConfig, RateLimiter};
    ///
    /// let config = RateLimitConfig::per(10, Duration::from_secs(1)).burst(5);
    /// let limiter = RateLimiter::with_clock(config.clone(), ManualClock::new()).unwrap();
    /// for _ in 0..3 {
    ///     limiter.check(1).unwrap();
    /// }
    /// limiter.update(config.clone().rate(100, Duration::from_secs(1)).burst(10)).unwrap();
    /// assert_eq!(limiter.available(), 7); // 3 still in use
    /// assert_eq!(limiter.interval(), Duration::from_millis(10));
    ///
    /// let bad = limiter.update(config.rate(0, Duration::from_secs(1))).unwrap_err();
    /// assert_eq!(bad.field, "rate_limit.permits");
    /// assert_eq!(limiter.burst(), 10);
    /// ```
    pub fn update(&self, config: RateLimitConfig) -> Result<(), ConfigError> {
        config.validate()?;
        let inner = &*self.inner;
        let mut current = inner.config.lock().unwrap_or_else(PoisonError::into_inner);
        crate::config::check_name_unchanged("rate_limit", &current.name, &config.name)?;
        let new = gcra(&config);
        let old = inner.gcra.load();
        inner.gcra.store(new);
        // Carry the permits in use over to the new quota.
        let mut tat = inner.tat.load(Ordering::Relaxed);
        loop {
            let now = inner.clock.nanos_since(&inner.epoch);
            let scaled = new.rescale(&old, tat, now);
            if scaled == tat {
                break;
            }
            match inner
                .tat
                .compare_exchange_weak(tat, scaled, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(actual) => tat = actual,
            }
        }
        inner
            .wait
            .store(config.mode == RateLimitMode::Wait, Ordering::Relaxed);
        inner
            .max_wait
            .store(nanos(config.max_wait), Ordering::Relaxed);
        *current = config;
        Ok(())
    }
}

/// The quota of a validated configuration.
fn gcra(config: &RateLimitConfig) -> Gcra {
    Gcra::new(config.permits, config.period, config.effective_burst())
}

#[cold]
fn insufficient(gcra: &Gcra, cost: u32) -> CheckError {
    CheckError::InsufficientCapacity {
        cost,
        burst: gcra.burst(),
    }
}

impl<C> RateLimiter<C> {
    /// The most permits available at once.
    pub fn burst(&self) -> u32 {
        self.inner.gcra.load().burst()
    }

    /// The settings in effect: the configuration the limiter was made
    /// with, or the last one applied by [`update`](Self::update).
    pub fn config(&self) -> RateLimitConfig {
        self.inner
            .config
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The time to replenish one permit (`period / permits`, rounded down
    /// to whole nanoseconds).
    pub fn interval(&self) -> Duration {
        self.inner.gcra.load().interval()
    }

    /// The configured name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    #[inline]
    pub(crate) fn mode(&self) -> (RateLimitMode, Duration) {
        let inner = &*self.inner;
        if inner.wait.load(Ordering::Relaxed) {
            let max_wait = Duration::from_nanos(inner.max_wait.load(Ordering::Relaxed));
            (RateLimitMode::Wait, max_wait)
        } else {
            (RateLimitMode::Reject, Duration::ZERO)
        }
    }

    pub(crate) fn metrics(&self) -> &DecisionMetrics {
        &self.inner.metrics
    }

    /// Gives back the permit of `reservation`, taken but never used (a
    /// ready service dropped before `call`), if that cannot admit more
    /// than the GCRA bound; otherwise the permit stays spent.
    ///
    /// The rule: the refund happens only while the TAT still equals the
    /// value the reservation's take produced, with one compare-and-swap
    /// (no retry loop). Why that is exact, and why subtracting one
    /// interval from whatever the TAT is now was not:
    ///
    /// * A take at `r` moves the TAT from `old` to `max(old, r) + T`.
    ///   Setting it back to `max(old, r)` gives the state the limiter
    ///   would have had without the take (for every instant from `r` on,
    ///   `max(old, r)` and `old` admit the same requests), so the admitted
    ///   calls are those of a GCRA history without it: within the bound.
    /// * Every take adds at least `T` to the TAT (its arithmetic saturates
    ///   only some 290 years of nanoseconds after the limiter's creation),
    ///   and an exact refund restores a value at least as large as the
    ///   one before its take, so while any take made after ours is still
    ///   in effect the TAT is above our value. Equality therefore means that every later take
    ///   was itself refunded: no ABA, and `value - T` is exactly
    ///   "without our take".
    /// * Otherwise later takes were computed on top of ours, and if the
    ///   bucket had refilled meanwhile (`max` picked `now`, not the TAT),
    ///   our interval is no longer part of the TAT at all: subtracting it
    ///   would hand out a permit twice (burst 2 admitted 3 within 4 us,
    ///   issue #17). The permit is then lost instead; the limiter admits
    ///   at most one fewer call per such drop, never one more.
    ///
    /// Ready services dropped in reverse order of their takes (the last one
    /// first) all get their permits back; any other order gives back the
    /// ones that are still on top.
    pub(crate) fn refund(&self, reservation: Reservation) {
        let inner = &*self.inner;
        let _ = inner.tat.compare_exchange(
            reservation.tat,
            inner.gcra.load().refund(reservation.tat, 1),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }
}

impl<C> Clone for RateLimiter<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C> fmt::Debug for RateLimiter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("name", &self.inner.name)
            .field("gcra", &self.inner.gcra.load())
            .field("mode", &self.mode().0)
            .finish_non_exhaustive()
    }
}
