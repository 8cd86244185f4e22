//! Backoff schedules: exact sequences, bounds, determinism, validation and
//! serde.

use std::time::Duration;

use iot_resilience::backoff::{
    Backoff, BackoffConfig, BackoffSchedule, BackoffStrategy, MakeBackoff,
};

const MS: Duration = Duration::from_millis(1);

fn millis(delays: impl Iterator<Item = Duration>) -> Vec<u128> {
    delays.map(|d| d.as_millis()).collect()
}

#[test]
fn exponential_doubles_then_saturates_at_cap() {
    let config = BackoffConfig::exponential(100 * MS, 1000 * MS);
    let mut backoff = Backoff::new(config);
    assert_eq!(
        millis(backoff.by_ref().take(7)),
        [100, 200, 400, 800, 1000, 1000, 1000]
    );
    assert_eq!(backoff.attempt(), 7);
}

#[test]
fn exponential_uses_the_factor() {
    let config = BackoffConfig::exponential(10 * MS, 10_000 * MS).factor(3.0);
    assert_eq!(millis(Backoff::new(config).take(5)), [10, 30, 90, 270, 810]);
    let flat = BackoffConfig::exponential(10 * MS, 10_000 * MS).factor(1.0);
    assert_eq!(millis(Backoff::new(flat).take(3)), [10, 10, 10]);
}

#[test]
fn constant_is_constant_whatever_the_factor() {
    let config = BackoffConfig::constant(250 * MS)
        .factor(5.0)
        .cap(10_000 * MS);
    assert_eq!(millis(Backoff::new(config).take(4)), [250, 250, 250, 250]);
}

#[test]
fn reset_starts_over() {
    let mut backoff = Backoff::new(BackoffConfig::exponential(100 * MS, 10_000 * MS));
    backoff.next_delay();
    backoff.next_delay();
    assert_eq!(backoff.next_delay(), Some(400 * MS));
    backoff.reset();
    assert_eq!(backoff.attempt(), 0);
    assert_eq!(backoff.next_delay(), Some(100 * MS));
}

#[test]
fn max_retries_ends_the_schedule_until_reset() {
    let config = BackoffConfig::constant(5 * MS).max_retries(Some(2));
    let mut backoff = Backoff::new(config);
    assert_eq!(backoff.next_delay(), Some(5 * MS));
    assert_eq!(backoff.next_delay(), Some(5 * MS));
    assert_eq!(backoff.next_delay(), None);
    assert_eq!(backoff.next_delay(), None);
    backoff.reset();
    assert_eq!(backoff.next_delay(), Some(5 * MS));
}

#[test]
fn huge_attempt_numbers_saturate_at_cap() {
    for strategy in [
        BackoffStrategy::Exponential,
        BackoffStrategy::FullJitter,
        BackoffStrategy::EqualJitter,
        BackoffStrategy::DecorrelatedJitter,
    ] {
        let config = BackoffConfig::default()
            .strategy(strategy)
            .base(Duration::from_nanos(1))
            .cap(Duration::MAX);
        let mut backoff = Backoff::with_seed(config, 1);
        backoff.set_attempt(u32::MAX);
        for _ in 0..3 {
            let d = backoff.next_delay().unwrap();
            assert!(d <= Duration::from_nanos(u64::MAX), "{strategy:?}: {d:?}");
        }
        assert_eq!(backoff.attempt(), u32::MAX, "saturates, does not wrap");
    }
    let exp = BackoffConfig::exponential(100 * MS, 30_000 * MS);
    assert_eq!(exp.ceiling(u32::MAX), 30_000 * MS);
    assert_eq!(exp.ceiling(64), 30_000 * MS);
    assert_eq!(exp.ceiling(0), 100 * MS);
}

#[test]
fn equal_jitter_stays_in_the_upper_half() {
    let config = BackoffConfig::equal_jitter(100 * MS, 800 * MS);
    let mut backoff = Backoff::with_seed(config, 9);
    for n in 0..20u32 {
        let t = config.ceiling(n);
        let d = backoff.next_delay().unwrap();
        assert!(
            d >= t / 2 && d <= t,
            "n={n}: {d:?} not in [{:?}, {t:?}]",
            t / 2
        );
    }
}

#[test]
fn jitter_actually_varies() {
    let config = BackoffConfig::full_jitter(100 * MS, 100 * MS);
    let delays: Vec<_> = Backoff::with_seed(config, 3).take(50).collect();
    let distinct: std::collections::HashSet<_> = delays.iter().collect();
    assert!(
        distinct.len() > 40,
        "full jitter produced {} distinct delays",
        distinct.len()
    );
}

#[test]
fn same_seed_same_delays_other_seed_other_delays() {
    let config = BackoffConfig::decorrelated_jitter(10 * MS, 10_000 * MS);
    let a: Vec<_> = Backoff::with_seed(config, 42).take(20).collect();
    let b: Vec<_> = Backoff::with_seed(config, 42).take(20).collect();
    let c: Vec<_> = Backoff::with_seed(config, 43).take(20).collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn make_backoff_from_config_and_closure() {
    let config = BackoffConfig::exponential(MS, 8 * MS);
    let mut made = config.make_backoff();
    assert_eq!(BackoffSchedule::next_delay(&mut made), Some(MS));
    let seeded = move || Backoff::with_seed(BackoffConfig::default(), 5);
    let x: Vec<_> = seeded.make_backoff().take(3).collect();
    let y: Vec<_> = seeded.make_backoff().take(3).collect();
    assert_eq!(x, y);
}

#[test]
fn validation_names_the_field_and_value() {
    let ok = BackoffConfig::default();
    assert_eq!(ok.validate(), Ok(()));

    let err = ok.base(Duration::ZERO).validate().unwrap_err();
    assert_eq!(err.field, "backoff.base");

    let err = ok.base(200 * MS).cap(100 * MS).validate().unwrap_err();
    assert_eq!(err.field, "backoff.cap");
    assert!(
        err.message.contains("100ms") && err.message.contains("200ms"),
        "{err}"
    );

    for factor in [0.5, f64::NAN, f64::INFINITY] {
        let err = ok.factor(factor).validate().unwrap_err();
        assert_eq!(err.field, "backoff.factor");
        assert!(err.message.contains(&factor.to_string()), "{err}");
    }
    assert!(ok.factor(1.0).validate().is_ok());
    assert!(err_display(ok.factor(0.5)).starts_with("invalid configuration: backoff.factor: 0.5"));
}

fn err_display(config: BackoffConfig) -> String {
    config.validate().unwrap_err().to_string()
}

#[cfg(feature = "serde")]
#[test]
fn serde_json_round_trip_with_exact_field_names() {
    let config = BackoffConfig::decorrelated_jitter(250 * MS, Duration::from_secs(30))
        .factor(3.0)
        .max_retries(Some(8));
    let json = serde_json::to_value(config).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "strategy": "decorrelated_jitter",
            "base": "250ms",
            "cap": "30s",
            "factor": 3.0,
            "max_retries": 8
        })
    );
    let back: BackoffConfig = serde_json::from_value(json).unwrap();
    assert_eq!(back, config);

    let partial: BackoffConfig = serde_json::from_str(r#"{"strategy": "equal_jitter"}"#).unwrap();
    assert_eq!(
        partial,
        BackoffConfig::default().strategy(BackoffStrategy::EqualJitter)
    );

    for name in [
        "constant",
        "exponential",
        "full_jitter",
        "equal_jitter",
        "decorrelated_jitter",
    ] {
        let s: BackoffStrategy = serde_json::from_value(serde_json::json!(name)).unwrap();
        assert_eq!(s.as_str(), name);
    }
    assert!(serde_json::from_str::<BackoffConfig>(r#"{"jitter": true}"#).is_err());
    assert!(serde_json::from_str::<BackoffConfig>(r#"{"strategy": "random"}"#).is_err());
}

#[cfg(feature = "backoff")]
#[test]
fn compat_adapts_the_backoff_crate() {
    use iot_resilience::backoff::BackoffCompat;

    let mut constant = BackoffCompat::new(backoff::backoff::Constant::new(7 * MS));
    assert_eq!(constant.next_delay(), Some(7 * MS));
    constant.reset();
    let mut stop = BackoffCompat::new(backoff::backoff::Stop {});
    assert_eq!(stop.next_delay(), None);

    let mut exp = BackoffCompat::new(
        backoff::ExponentialBackoffBuilder::new()
            .with_initial_interval(10 * MS)
            .with_randomization_factor(0.0)
            .with_multiplier(2.0)
            .build(),
    );
    assert_eq!(exp.next_delay(), Some(10 * MS));
    assert_eq!(exp.next_delay(), Some(20 * MS));
    exp.reset();
    assert_eq!(exp.next_delay(), Some(10 * MS));
}
