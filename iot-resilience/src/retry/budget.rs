//! The retry budget: retries capped at a share of recent calls.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use super::config::RetryBudgetConfig;
use crate::clock::{Epoch, Stamp};
use crate::{Clock, ConfigError, TokioClock, Validated};

/// The sliding window is split into this many buckets; a deposit expires
/// between `ttl - ttl/BUCKETS` and `ttl` after it was made.
const BUCKETS: usize = 10;

/// A retry budget (Finagle's `RetryBudget`, tower's `TpsBudget`): retries
/// are allowed while they stay under `ratio` of the calls of the last `ttl`,
/// plus a reserve of `min_retries_per_second * ttl`.
///
/// Each call [`deposit`](Self::deposit)s `ratio` of a retry; each retry
/// [`withdraw`](Self::withdraw)s one. Both are remembered in a ring of ten
/// time buckets covering `ttl` and forgotten when their bucket expires, so
/// an old burst of traffic does not fund retries forever, and the reserve
/// refills at `min_retries_per_second`.
///
/// Share one budget (`Arc<RetryBudget>`) between every client that talks to
/// the same backend: then a sick backend sees at most `1 + ratio` times its
/// normal load instead of `max_attempts` times. Unlike Envoy's budget
/// (20% of *active* requests, minimum 3 concurrent retries) this one counts
/// requests over time, so it also bounds retries of short requests.
///
/// # Implementation
///
/// Lock-free. Each bucket is one `AtomicU64` holding its bucket number (32
/// bits) and its balance in fixed-point units (32 bits): a retry costs `w`
/// units and a call deposits `d`, where `d / w` is `ratio` reduced to lowest
/// terms (`0.1` is 1/10). A separate `AtomicI64` holds the reserve plus the
/// sum of all buckets, kept equal to it by applying every bucket change to
/// it too, so a withdrawal is a single compare-and-swap on that sum and
/// concurrent withdrawals never overdraw it. Buckets that fell out of the
/// window are zeroed (and subtracted) before each withdrawal. A withdrawal
/// racing the rotation of a bucket may be allowed against the expiring
/// bucket; the sum stays exact afterwards.
pub struct RetryBudget {
    config: RetryBudgetConfig,
    clock: BudgetClock,
    epoch: Epoch,
    /// The bucket length in nanoseconds, as a reciprocal: see
    /// [`BucketDivisor`].
    bucket: BucketDivisor,
    /// Per bucket: `bucket number << 32 | balance as u32`.
    buckets: [AtomicU64; BUCKETS],
    /// `reserve + sum(bucket balances)`, in units.
    balance: AtomicI64,
    deposit_units: i32,
    withdraw_units: i32,
}

impl RetryBudget {
    /// A budget on tokio's clock. Fails if `config` is invalid.
    pub fn new(config: RetryBudgetConfig) -> Result<Self, ConfigError> {
        Self::with_clock(config, TokioClock)
    }

    /// A budget on `clock`.
    pub fn with_clock(config: RetryBudgetConfig, clock: impl Clock) -> Result<Self, ConfigError> {
        config
            .build()
            .map(|config| Self::from_validated_with_clock(config, clock))
    }

    /// A budget on tokio's clock for a configuration validated by
    /// [`RetryBudgetConfig::build`]; cannot fail.
    pub fn from_validated(config: Validated<RetryBudgetConfig>) -> Self {
        Self::from_validated_with_clock(config, TokioClock)
    }

    /// A budget on `clock` for a validated configuration; cannot fail.
    pub fn from_validated_with_clock(
        config: Validated<RetryBudgetConfig>,
        clock: impl Clock,
    ) -> Self {
        let config = config.into_inner();
        let clock = BudgetClock::new(clock);
        let (deposit_units, withdraw_units) = units(config.ratio);
        // The reserve lasts one ttl; it refills as its withdrawals expire.
        let reserve_retries =
            (f64::from(config.min_retries_per_second) * config.ttl.as_secs_f64()).round();
        let reserve = (reserve_retries as i64).saturating_mul(i64::from(withdraw_units));
        let bucket_nanos = u64::try_from(config.ttl.as_nanos() / BUCKETS as u128)
            .unwrap_or(u64::MAX)
            .max(1);
        Self {
            epoch: clock.epoch(),
            clock,
            config,
            bucket: BucketDivisor::new(bucket_nanos),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            balance: AtomicI64::new(reserve),
            deposit_units,
            withdraw_units,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RetryBudgetConfig {
        &self.config
    }

    /// Records a call: adds `ratio` of a retry to the budget.
    #[inline]
    pub fn deposit(&self) {
        if self.deposit_units == 0 {
            return;
        }
        self.deposit_in(self.current_bucket());
    }

    /// [`deposit`](Self::deposit) for a call made at `stamp` (read by the
    /// retry layer, which shares it with the layers below): no second clock
    /// read when the budget is on the default clock.
    #[inline]
    pub(crate) fn deposit_at(&self, stamp: Stamp) {
        if self.deposit_units == 0 {
            return;
        }
        let nanos = match &self.clock {
            BudgetClock::Tokio(clock) => clock.nanos_at(&self.epoch, stamp),
            BudgetClock::Other(clock) => clock.nanos_since(&self.epoch),
        };
        self.deposit_in(self.bucket.quotient(nanos) as u32);
    }

    #[inline]
    fn deposit_in(&self, bucket: u32) {
        let change = self.add_to_bucket(bucket, self.deposit_units);
        self.balance.fetch_add(change, Ordering::AcqRel);
    }

    /// Takes one retry from the budget; `false` if none is left.
    pub fn withdraw(&self) -> bool {
        let bucket = self.current_bucket();
        self.expire(bucket);
        let cost = i64::from(self.withdraw_units);
        let mut balance = self.balance.load(Ordering::Acquire);
        loop {
            if balance < cost {
                return false;
            }
            match self.balance.compare_exchange_weak(
                balance,
                balance - cost,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => balance = actual,
            }
        }
        // Remember the withdrawal so it expires; the sum already has it, so
        // only correct for what the bucket change did beyond `-cost` (an
        // expired balance dropped on rotation, or saturation).
        let change = self.add_to_bucket(bucket, -self.withdraw_units);
        let correction = change + cost;
        if correction != 0 {
            self.balance.fetch_add(correction, Ordering::AcqRel);
        }
        true
    }

    /// How many retries [`withdraw`](Self::withdraw) would allow now.
    pub fn available(&self) -> u64 {
        self.expire(self.current_bucket());
        let balance = self.balance.load(Ordering::Acquire).max(0);
        (balance / i64::from(self.withdraw_units)) as u64
    }

    #[inline]
    fn current_bucket(&self) -> u32 {
        // Truncation is intended: bucket numbers wrap after 2^32 buckets
        // (13 years at the smallest bucket, 100 ms); ages are compared with
        // wrapping arithmetic.
        self.bucket.quotient(self.clock.nanos_since(&self.epoch)) as u32
    }

    /// Adds `delta` to the bucket for `bucket`, first dropping what the
    /// slot held for an older bucket. Returns the change of the slot's
    /// balance, to mirror into `self.balance`.
    #[inline]
    fn add_to_bucket(&self, bucket: u32, delta: i32) -> i64 {
        let slot = &self.buckets[bucket as usize % BUCKETS];
        let mut current = slot.load(Ordering::Acquire);
        loop {
            let (number, value) = unpack(current);
            let (number, new_value) = if age(bucket, number) > 0 {
                // The slot still holds an expired bucket: start it afresh.
                (bucket, delta)
            } else {
                // Our bucket, or a newer one (a racing thread read the
                // clock later): add to it.
                (number, value.saturating_add(delta))
            };
            match slot.compare_exchange_weak(
                current,
                pack(number, new_value),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return i64::from(new_value) - i64::from(value),
                Err(actual) => current = actual,
            }
        }
    }

    /// Zeroes the buckets that fell out of the window and subtracts them.
    fn expire(&self, bucket: u32) {
        for slot in &self.buckets {
            let mut current = slot.load(Ordering::Acquire);
            loop {
                let (number, value) = unpack(current);
                if value == 0 || age(bucket, number) < BUCKETS as i32 {
                    break;
                }
                match slot.compare_exchange_weak(
                    current,
                    pack(number, 0),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        self.balance.fetch_sub(i64::from(value), Ordering::AcqRel);
                        break;
                    }
                    Err(actual) => current = actual,
                }
            }
        }
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("config", &self.config)
            .field("available", &self.available())
            .finish_non_exhaustive()
    }
}

/// The budget's clock: the default one known as such (so a call's shared
/// [`Stamp`] can stand for a reading), any other through a trait object.
enum BudgetClock {
    Tokio(TokioClock),
    Other(Arc<dyn Clock>),
}

impl BudgetClock {
    fn new<C: Clock>(clock: C) -> Self {
        let any: &dyn std::any::Any = &clock;
        match any.downcast_ref::<TokioClock>() {
            Some(tokio) => BudgetClock::Tokio(*tokio),
            None => BudgetClock::Other(Arc::new(clock)),
        }
    }

    fn epoch(&self) -> Epoch {
        match self {
            BudgetClock::Tokio(clock) => clock.epoch(),
            BudgetClock::Other(clock) => clock.epoch(),
        }
    }

    #[inline]
    fn nanos_since(&self, epoch: &Epoch) -> u64 {
        match self {
            BudgetClock::Tokio(clock) => clock.nanos_since(epoch),
            BudgetClock::Other(clock) => clock.nanos_since(epoch),
        }
    }
}

/// Division by the bucket length as a multiplication: every call deposits,
/// and a 64-bit `div` (what `nanos / d` compiles to once the budget is
/// 4.3 s old and its nanoseconds exceed 32 bits) costs tens of cycles.
/// `quotient(n)` is `floor(n * ceil(2^64 / d) / 2^64)`: exactly `n / d` on
/// every multiple of `d` and whenever `n * d < 2^64` (184 s of 100 ms
/// buckets); beyond, `n / d + 1` in a window before each bucket boundary
/// that grows with the budget's age (under 0.2 ms a year for 100 ms
/// buckets). It is monotonic in `n`, which is all the buckets need: a
/// deposit in that window expires one bucket later.
#[derive(Debug, Clone, Copy)]
struct BucketDivisor {
    magic: u128,
}

impl BucketDivisor {
    fn new(d: u64) -> Self {
        // ceil(2^64 / d) (2^64 itself for d = 1).
        let magic = (1u128 << 64).div_ceil(u128::from(d.max(1)));
        Self { magic }
    }

    #[inline]
    fn quotient(&self, n: u64) -> u64 {
        ((u128::from(n) * self.magic) >> 64) as u64
    }
}

/// `ratio` as `deposit / withdraw` in lowest terms, with `withdraw <= 1000`.
fn units(ratio: f64) -> (i32, i32) {
    let num = (ratio * 1000.0).round().clamp(0.0, 1_000_000.0) as i32;
    if num == 0 {
        // Deposits gain nothing: only the reserve funds retries.
        return (0, 1);
    }
    let g = gcd(num, 1000);
    (num / g, 1000 / g)
}

fn gcd(mut a: i32, mut b: i32) -> i32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// How many buckets `number` lies before `bucket` (negative: after it).
fn age(bucket: u32, number: u32) -> i32 {
    bucket.wrapping_sub(number) as i32
}

fn pack(number: u32, value: i32) -> u64 {
    (u64::from(number) << 32) | u64::from(value as u32)
}

fn unpack(word: u64) -> (u32, i32) {
    ((word >> 32) as u32, word as u32 as i32)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// Over 100 years of nanoseconds for bucket lengths from 1 µs to
        /// 100 s: monotonic, exact on multiples of `d` and while
        /// `n * d < 2^64`, and never more than one above `n / d`.
        #[test]
        fn bucket_divisor_is_floor_division_or_one_more(
            n in 0u64..3_155_760_000_000_000_000,
            d in 1_000u64..100_000_000_000,
        ) {
            let div = BucketDivisor::new(d);
            let q = div.quotient(n);
            prop_assert!(q == n / d || q == n / d + 1, "{} / {} gave {}", n, d, q);
            if u128::from(n) * u128::from(d) < 1u128 << 64 {
                prop_assert_eq!(q, n / d);
            }
            prop_assert!(q <= div.quotient(n + 1));
            let k = n / d;
            prop_assert_eq!(div.quotient(k * d), k);
        }
    }

    use super::*;
    use crate::ManualClock;
    use std::time::Duration;

    fn budget(ratio: f64, min: u32, ttl_secs: u64) -> (RetryBudget, ManualClock) {
        let clock = ManualClock::new();
        let config = RetryBudgetConfig::default()
            .ratio(ratio)
            .min_retries_per_second(min)
            .ttl(Duration::from_secs(ttl_secs));
        (
            RetryBudget::with_clock(config, clock.clone()).unwrap(),
            clock,
        )
    }

    #[test]
    fn units_are_reduced_fractions() {
        assert_eq!(units(0.1), (1, 10));
        assert_eq!(units(0.2), (1, 5));
        assert_eq!(units(0.15), (3, 20));
        assert_eq!(units(1.0), (1, 1));
        assert_eq!(units(2.5), (5, 2));
        assert_eq!(units(0.0), (0, 1));
        assert_eq!(units(0.0001), (0, 1));
    }

    #[test]
    fn pack_round_trips_negative_values() {
        for (n, v) in [(0, 0), (7, -5), (u32::MAX, i32::MIN), (1, i32::MAX)] {
            assert_eq!(unpack(pack(n, v)), (n, v));
        }
    }

    #[test]
    fn empty_budget_refuses() {
        let (b, _) = budget(0.5, 0, 1);
        assert!(!b.withdraw());
        assert_eq!(b.available(), 0);
    }

    #[test]
    fn ratio_funds_one_retry_per_ten_calls() {
        let (b, _) = budget(0.1, 0, 10);
        for _ in 0..9 {
            b.deposit();
        }
        assert!(!b.withdraw());
        b.deposit();
        assert_eq!(b.available(), 1);
        assert!(b.withdraw());
        assert!(!b.withdraw());
    }

    #[test]
    fn reserve_is_min_per_second_times_ttl() {
        let (b, _) = budget(0.0, 3, 2);
        assert_eq!(b.available(), 6);
        for _ in 0..6 {
            assert!(b.withdraw());
        }
        assert!(!b.withdraw());
    }

    #[test]
    fn deposits_expire_after_ttl() {
        let (b, clock) = budget(1.0, 0, 1);
        b.deposit();
        b.deposit();
        clock.advance(Duration::from_millis(850));
        assert_eq!(b.available(), 2, "still inside the window");
        clock.advance(Duration::from_millis(200));
        assert_eq!(b.available(), 0, "expired after ttl");
        assert!(!b.withdraw());
    }

    #[test]
    fn withdrawals_expire_so_the_reserve_refills() {
        let (b, clock) = budget(0.0, 2, 1);
        assert!(b.withdraw());
        assert!(b.withdraw());
        assert!(!b.withdraw());
        clock.advance(Duration::from_millis(1100));
        assert_eq!(b.available(), 2);
    }

    #[test]
    fn sliding_window_keeps_recent_buckets() {
        let (b, clock) = budget(0.5, 0, 1);
        b.deposit();
        clock.advance(Duration::from_millis(500));
        b.deposit();
        clock.advance(Duration::from_millis(550));
        // The first deposit expired, the second is still there: 0.5 retry.
        assert_eq!(b.available(), 0);
        b.deposit();
        assert!(b.withdraw());
        assert!(!b.withdraw());
    }

    #[test]
    fn wraps_without_losing_the_sum() {
        let (b, clock) = budget(1.0, 0, 1);
        // Many rotations of the ring: nothing accumulates.
        for _ in 0..1000 {
            b.deposit();
            assert!(b.withdraw());
            clock.advance(Duration::from_millis(37));
        }
        clock.advance(Duration::from_secs(2));
        assert_eq!(b.balance.load(Ordering::SeqCst), 0);
        assert_eq!(b.available(), 0);
    }
}
