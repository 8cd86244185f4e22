//! Property tests of the backoff schedules.

use std::time::Duration;

use iot_resilience::backoff::{Backoff, BackoffConfig, BackoffStrategy};
use proptest::prelude::*;

fn strategy() -> impl Strategy<Value = BackoffStrategy> {
    prop_oneof![
        Just(BackoffStrategy::Constant),
        Just(BackoffStrategy::Exponential),
        Just(BackoffStrategy::FullJitter),
        Just(BackoffStrategy::EqualJitter),
        Just(BackoffStrategy::DecorrelatedJitter),
    ]
}

/// Valid configurations over the whole range of durations, including caps
/// near `Duration::MAX`.
fn config() -> impl Strategy<Value = BackoffConfig> {
    (
        strategy(),
        1u64..=u64::MAX / 4,
        prop_oneof![0u64..1_000_000_000, Just(u64::MAX)],
        1.0f64..16.0,
    )
        .prop_map(|(strategy, base, extra, factor)| {
            BackoffConfig::default()
                .strategy(strategy)
                .base(Duration::from_nanos(base))
                .cap(Duration::from_nanos(base.saturating_add(extra)))
                .factor(factor)
        })
}

proptest! {
    #[test]
    fn every_delay_is_within_bounds(config in config(), seed: u64, start: u32) {
        prop_assert!(config.validate().is_ok());
        let mut backoff = Backoff::with_seed(config, seed);
        backoff.set_attempt(start);
        for _ in 0..64 {
            let d = backoff.next_delay().unwrap();
            prop_assert!(d <= config.cap, "{d:?} > cap {:?}", config.cap);
            let floored = !matches!(
                config.strategy,
                BackoffStrategy::FullJitter | BackoffStrategy::EqualJitter
            );
            if floored {
                prop_assert!(d >= config.base, "{d:?} < base {:?}", config.base);
            }
        }
    }

    #[test]
    fn exponential_is_monotonic_until_the_cap(config in config(), start in 0u32..200) {
        let config = config.strategy(BackoffStrategy::Exponential);
        let mut backoff = Backoff::new(config);
        backoff.set_attempt(start);
        let mut prev = backoff.next_delay().unwrap();
        for _ in 0..100 {
            let d = backoff.next_delay().unwrap();
            prop_assert!(d >= prev, "{d:?} < previous {prev:?}");
            if prev == config.cap {
                prop_assert_eq!(d, config.cap);
            }
            prev = d;
        }
    }

    #[test]
    fn full_jitter_is_bounded_per_attempt(config in config(), seed: u64, n in 0u32..100) {
        let config = config.strategy(BackoffStrategy::FullJitter);
        let mut backoff = Backoff::with_seed(config, seed);
        backoff.set_attempt(n);
        for k in n..n + 20 {
            let ceiling = config.ceiling(k);
            let expected = (config.base.as_secs_f64() * config.factor.powf(f64::from(k)))
                .min(config.cap.as_secs_f64());
            // `ceiling` is min(cap, base * factor^n), up to float rounding.
            prop_assert!((ceiling.as_secs_f64() - expected).abs() <= expected * 1e-9 + 1e-9);
            let d = backoff.next_delay().unwrap();
            prop_assert!(d <= ceiling, "attempt {k}: {d:?} > {ceiling:?}");
        }
    }

    #[test]
    fn equal_jitter_is_at_least_half(config in config(), seed: u64, n: u32) {
        let config = config.strategy(BackoffStrategy::EqualJitter);
        let mut backoff = Backoff::with_seed(config, seed);
        backoff.set_attempt(n);
        let ceiling = config.ceiling(n);
        let d = backoff.next_delay().unwrap();
        prop_assert!(d >= ceiling / 2 && d <= ceiling);
    }

    #[test]
    fn decorrelated_stays_below_three_times_the_previous(config in config(), seed: u64) {
        let config = config.strategy(BackoffStrategy::DecorrelatedJitter);
        let mut backoff = Backoff::with_seed(config, seed);
        let mut prev = config.base;
        for _ in 0..50 {
            let d = backoff.next_delay().unwrap();
            prop_assert!(d >= config.base && d <= config.cap);
            prop_assert!(d <= prev.saturating_mul(3).max(config.base));
            prev = d;
        }
    }

    #[test]
    fn deterministic_with_a_seed(config in config(), seed: u64, n: u32) {
        let mut a = Backoff::with_seed(config, seed);
        let mut b = Backoff::with_seed(config, seed);
        a.set_attempt(n);
        b.set_attempt(n);
        for _ in 0..20 {
            prop_assert_eq!(a.next_delay(), b.next_delay());
        }
    }

    #[test]
    fn never_panics_for_any_attempt_or_config(
        strategy in strategy(),
        base: u64,
        cap: u64,
        factor in prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::INFINITY), Just(0.0)],
        n: u32,
        seed: u64,
    ) {
        // Even unvalidated configurations must not panic.
        let config = BackoffConfig::default()
            .strategy(strategy)
            .base(Duration::from_nanos(base))
            .cap(Duration::from_nanos(cap))
            .factor(factor);
        let mut backoff = Backoff::with_seed(config, seed);
        backoff.set_attempt(n);
        for _ in 0..4 {
            let d = backoff.next_delay().unwrap();
            prop_assert!(d <= Duration::from_nanos(cap.max(base)));
        }
        let _ = config.ceiling(n);
        let _ = config.ceiling(u32::MAX);
    }
}
