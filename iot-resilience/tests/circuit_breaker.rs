//! Deterministic tests of the breaker state machine (manual clock, permit
//! API), configuration and errors.

use std::time::Duration;

use iot_resilience::circuit_breaker::{
    CircuitBreakerConfig, CircuitBreakerError, CircuitBreakerHandle, EVENT_CAPACITY,
    KeyedCircuitBreakerConfig, Outcome, Rejected, SlidingWindow, State, StateTransition,
    TransitionReason,
};
use iot_resilience::{Hint, ManualClock, RetryHint};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

const SEC: Duration = Duration::from_secs(1);

fn config(window: u32) -> CircuitBreakerConfig {
    CircuitBreakerConfig::default()
        .name("test")
        .sliding_window(SlidingWindow::count(window))
        .minimum_number_of_calls(window)
        .permitted_calls_in_half_open(3)
        .wait_duration_in_open(10 * SEC)
}

fn breaker(config: CircuitBreakerConfig) -> (CircuitBreakerHandle, ManualClock) {
    let clock = ManualClock::new();
    (
        CircuitBreakerHandle::with_clock(config, clock.clone()).unwrap(),
        clock,
    )
}

fn call(b: &CircuitBreakerHandle, outcome: Outcome) -> Result<(), Rejected> {
    b.try_acquire().map(|p| p.record(outcome))
}

fn timed(b: &CircuitBreakerHandle, outcome: Outcome, d: Duration) -> Result<(), Rejected> {
    b.try_acquire().map(|p| p.record_with_duration(outcome, d))
}

fn trip(b: &CircuitBreakerHandle) {
    while b.state() == State::Closed {
        call(b, Outcome::Failure).unwrap();
    }
    assert_eq!(b.state(), State::Open);
}

fn next(
    rx: &mut tokio::sync::broadcast::Receiver<StateTransition>,
) -> (State, State, TransitionReason) {
    let t = rx.try_recv().expect("a transition");
    (t.from, t.to, t.reason)
}

#[test]
fn opens_when_failure_rate_reaches_threshold() {
    let (b, _) = breaker(config(10));
    let mut rx = b.subscribe();
    for _ in 0..5 {
        call(&b, Outcome::Success).unwrap();
    }
    for _ in 0..4 {
        call(&b, Outcome::Failure).unwrap();
    }
    let s = b.stats();
    assert_eq!(
        (s.state, s.buffered_calls, s.failed_calls),
        (State::Closed, 9, 4)
    );
    assert_eq!(s.failure_rate, None, "below the minimum number of calls");
    // 10th call: 5 of 10 failed = 50% >= 50%.
    call(&b, Outcome::Failure).unwrap();
    assert_eq!(b.state(), State::Open);
    assert_eq!(
        next(&mut rx),
        (
            State::Closed,
            State::Open,
            TransitionReason::FailureRateExceeded
        )
    );
    let s = b.stats();
    assert_eq!(
        (s.buffered_calls, s.failed_calls, s.successful_calls),
        (10, 5, 5)
    );
    assert_eq!(s.failure_rate, Some(50.0));
}

#[test]
fn stays_closed_under_threshold_and_window_slides() {
    let (b, _) = breaker(config(4).failure_rate_threshold(75.0));
    for o in [
        Outcome::Failure,
        Outcome::Failure,
        Outcome::Success,
        Outcome::Failure,
    ] {
        call(&b, o).unwrap();
    }
    // 3 of 4 = 75%: opens. Same pattern shifted by one success stays closed.
    assert_eq!(b.state(), State::Open);
    let (b, _) = breaker(config(4).failure_rate_threshold(75.0));
    for o in [
        Outcome::Failure,
        Outcome::Success,
        Outcome::Failure,
        Outcome::Success,
    ] {
        call(&b, o).unwrap();
    }
    // The oldest failure slides out: F S F S -> S F S F (50%).
    call(&b, Outcome::Failure).unwrap();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.stats().failure_rate, Some(50.0));
}

#[test]
fn minimum_number_of_calls_gates_evaluation() {
    let (b, _) = breaker(config(10).minimum_number_of_calls(5));
    for _ in 0..4 {
        call(&b, Outcome::Failure).unwrap();
    }
    assert_eq!(b.state(), State::Closed);
    call(&b, Outcome::Failure).unwrap();
    assert_eq!(b.state(), State::Open);
    // A minimum above a count window's size acts as the size.
    let (b, _) = breaker(config(3).minimum_number_of_calls(100));
    for _ in 0..3 {
        call(&b, Outcome::Failure).unwrap();
    }
    assert_eq!(b.state(), State::Open);
}

#[test]
fn ignored_calls_are_not_recorded() {
    let (b, _) = breaker(config(2).failure_rate_threshold(100.0));
    for _ in 0..10 {
        call(&b, Outcome::Ignored).unwrap();
    }
    assert_eq!(b.stats().buffered_calls, 0);
    call(&b, Outcome::Success).unwrap();
    call(&b, Outcome::Ignored).unwrap();
    call(&b, Outcome::Failure).unwrap();
    let s = b.stats();
    assert_eq!(
        (s.state, s.buffered_calls, s.failed_calls),
        (State::Closed, 2, 1)
    );
}

#[test]
fn open_rejects_then_half_opens_lazily_after_the_wait() {
    let (b, clock) = breaker(config(2));
    let mut rx = b.subscribe();
    trip(&b);
    next(&mut rx);
    assert_eq!(
        b.try_acquire().unwrap_err(),
        Rejected {
            state: State::Open,
            retry_after: Some(10 * SEC)
        }
    );
    clock.advance(9 * SEC);
    assert_eq!(b.try_acquire().unwrap_err().retry_after, Some(SEC));
    clock.advance(SEC);
    // No background task: still open until a call arrives.
    assert_eq!(b.state(), State::Open);
    let probe = b.try_acquire().unwrap();
    assert_eq!(probe.state(), State::HalfOpen);
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(
        next(&mut rx),
        (
            State::Open,
            State::HalfOpen,
            TransitionReason::OpenDurationElapsed
        )
    );
    assert_eq!(b.stats().not_permitted_calls, 2);
    drop(probe);
}

#[test]
fn half_open_admits_exactly_the_permitted_probes() {
    let (b, _) = breaker(config(2));
    b.transition_to_half_open();
    let probes: Vec<_> = (0..3).map(|_| b.try_acquire().unwrap()).collect();
    for _ in 0..5 {
        assert_eq!(
            b.try_acquire().unwrap_err(),
            Rejected {
                state: State::HalfOpen,
                retry_after: None
            }
        );
    }
    let mut rx = b.subscribe();
    let mut probes = probes.into_iter();
    probes.next().unwrap().success();
    probes.next().unwrap().success();
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(b.stats().buffered_calls, 2);
    assert!(
        b.try_acquire().is_err(),
        "completed probes do not free permits"
    );
    probes.next().unwrap().failure();
    // 1 of 3 failed = 33% < 50%: closed, with an empty window.
    assert_eq!(
        next(&mut rx),
        (
            State::HalfOpen,
            State::Closed,
            TransitionReason::ProbesSucceeded
        )
    );
    assert_eq!(b.stats().buffered_calls, 0);
    assert_eq!(b.stats().not_permitted_calls, 6);
}

#[test]
fn failing_probes_reopen() {
    let (b, _) = breaker(config(2));
    b.transition_to_half_open();
    let mut rx = b.subscribe();
    let p: Vec<_> = (0..3).map(|_| b.try_acquire().unwrap()).collect();
    let mut p = p.into_iter();
    p.next().unwrap().failure();
    p.next().unwrap().success();
    assert_eq!(b.state(), State::HalfOpen);
    p.next().unwrap().failure();
    assert_eq!(
        next(&mut rx),
        (
            State::HalfOpen,
            State::Open,
            TransitionReason::FailureRateExceeded
        )
    );
    let s = b.stats();
    assert_eq!(
        (s.state, s.buffered_calls, s.failed_calls),
        (State::Open, 3, 2)
    );
}

#[test]
fn dropped_or_ignored_probe_gives_its_permit_back() {
    let (b, _) = breaker(config(2).permitted_calls_in_half_open(1));
    b.transition_to_half_open();
    let probe = b.try_acquire().unwrap();
    assert!(b.try_acquire().is_err());
    drop(probe);
    assert_eq!(
        b.stats().buffered_calls,
        0,
        "a dropped probe is not an outcome"
    );
    assert_eq!(b.state(), State::HalfOpen);
    let probe = b.try_acquire().expect("permit returned");
    probe.record(Outcome::Ignored);
    assert_eq!(b.state(), State::HalfOpen);
    b.try_acquire().expect("permit returned").success();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn max_wait_in_half_open_reopens() {
    let (b, clock) = breaker(config(2).max_wait_in_half_open(5 * SEC));
    trip(&b);
    clock.advance(10 * SEC);
    let stuck: Vec<_> = (0..3).map(|_| b.try_acquire().unwrap()).collect();
    let mut rx = b.subscribe();
    clock.advance(4 * SEC);
    assert_eq!(b.try_acquire().unwrap_err().state, State::HalfOpen);
    clock.advance(SEC);
    let r = b.try_acquire().unwrap_err();
    assert_eq!(
        next(&mut rx),
        (
            State::HalfOpen,
            State::Open,
            TransitionReason::HalfOpenTimedOut
        )
    );
    assert_eq!(
        r,
        Rejected {
            state: State::Open,
            retry_after: Some(10 * SEC)
        }
    );
    // Stale probes completing later change nothing.
    for p in stuck {
        p.success();
    }
    assert_eq!(b.state(), State::Open);
}

#[test]
fn open_duration_grows_with_repeated_trips_and_resets_after_close() {
    let (b, clock) = breaker(
        config(2)
            .permitted_calls_in_half_open(1)
            .open_duration_multiplier(2.0)
            .max_wait_duration_in_open(35 * SEC),
    );
    trip(&b);
    let mut expected = [10, 20, 35, 35].into_iter();
    loop {
        let Err(r) = b.try_acquire() else {
            unreachable!()
        };
        let wait = r.retry_after.unwrap();
        assert_eq!(wait, expected.next().unwrap() * SEC);
        clock.advance(wait);
        b.try_acquire().unwrap().failure();
        if expected.len() == 0 {
            break;
        }
    }
    // A successful close resets the growth.
    clock.advance(35 * SEC);
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Closed);
    trip(&b);
    assert_eq!(b.try_acquire().unwrap_err().retry_after, Some(10 * SEC));
}

#[test]
fn open_duration_function() {
    let c = CircuitBreakerConfig::default()
        .wait_duration_in_open(SEC)
        .open_duration_multiplier(1.5)
        .max_wait_duration_in_open(3 * SEC);
    assert_eq!(c.open_duration(0), SEC);
    assert_eq!(c.open_duration(1), Duration::from_millis(1500));
    assert_eq!(c.open_duration(2), Duration::from_millis(2250));
    assert_eq!(c.open_duration(3), 3 * SEC);
    assert_eq!(c.open_duration(u32::MAX), 3 * SEC);
    let mut uncapped = c.clone();
    uncapped.max_wait_duration_in_open = None;
    assert_eq!(uncapped.open_duration(10_000), Duration::MAX);
}

#[test]
fn slow_calls_open_the_breaker() {
    let (b, _) = breaker(
        config(4)
            .failure_rate_threshold(100.0)
            .slow_call_rate_threshold(50.0)
            .slow_call_duration_threshold(SEC),
    );
    let mut rx = b.subscribe();
    timed(&b, Outcome::Success, 2 * SEC).unwrap();
    // Exactly the threshold is not slow ("slower than").
    timed(&b, Outcome::Success, SEC).unwrap();
    timed(&b, Outcome::Success, Duration::ZERO).unwrap();
    let s = b.stats();
    assert_eq!((s.slow_calls, s.slow_call_rate), (1, None));
    timed(&b, Outcome::Failure, 3 * SEC).unwrap();
    assert_eq!(
        next(&mut rx),
        (
            State::Closed,
            State::Open,
            TransitionReason::SlowCallRateExceeded
        )
    );
    let s = b.stats();
    assert_eq!(
        (
            s.buffered_calls,
            s.slow_calls,
            s.slow_failed_calls,
            s.failed_calls
        ),
        (4, 2, 1, 1)
    );
    assert_eq!(s.slow_call_rate, Some(50.0));
    assert_eq!(s.failure_rate, Some(25.0));
}

#[test]
fn slow_detection_off_by_default() {
    let (b, _) = breaker(config(2).slow_call_rate_threshold(1.0));
    timed(&b, Outcome::Success, 3600 * SEC).unwrap();
    timed(&b, Outcome::Success, 3600 * SEC).unwrap();
    let s = b.stats();
    assert_eq!(
        (s.state, s.slow_calls, s.slow_call_rate),
        (State::Closed, 0, None)
    );
}

#[test]
fn slow_calls_measured_from_acquisition() {
    let (b, clock) = breaker(
        config(1)
            .slow_call_duration_threshold(SEC)
            .failure_rate_threshold(100.0),
    );
    let p = b.try_acquire().unwrap();
    clock.advance(2 * SEC);
    p.success();
    assert_eq!(b.state(), State::Open, "one slow call of one = 100%");
}

#[test]
fn forced_states() {
    let (b, _) = breaker(config(2));
    let mut rx = b.subscribe();

    b.force_open();
    let r = b.try_acquire().unwrap_err();
    assert_eq!(
        r,
        Rejected {
            state: State::ForcedOpen,
            retry_after: None
        }
    );
    assert_eq!(r.retry_hint(), Hint::DoNotRetry);
    assert_eq!(
        next(&mut rx),
        (State::Closed, State::ForcedOpen, TransitionReason::Manual)
    );
    b.force_open();
    assert!(
        matches!(rx.try_recv(), Err(TryRecvError::Empty)),
        "no-op when already there"
    );

    b.disable();
    for _ in 0..10 {
        call(&b, Outcome::Failure).unwrap();
    }
    let s = b.stats();
    assert_eq!((s.state, s.buffered_calls), (State::Disabled, 0));

    b.metrics_only();
    for _ in 0..10 {
        call(&b, Outcome::Failure).unwrap();
    }
    let s = b.stats();
    assert_eq!(
        (s.state, s.buffered_calls, s.failure_rate),
        (State::MetricsOnly, 2, Some(100.0))
    );

    b.close();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(
        b.stats().buffered_calls,
        0,
        "closing starts an empty window"
    );
    b.transition_to_open();
    assert_eq!(b.try_acquire().unwrap_err().retry_after, Some(10 * SEC));
    assert!(b.stats().not_permitted_calls >= 2);
    b.reset();
    let s = b.stats();
    assert_eq!(
        (s.state, s.not_permitted_calls, s.buffered_calls),
        (State::Closed, 0, 0)
    );
    let got: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok())
        .map(|t| t.to)
        .collect();
    assert_eq!(
        got,
        [
            State::Disabled,
            State::MetricsOnly,
            State::Closed,
            State::Open,
            State::Closed
        ]
    );
}

#[test]
fn outcomes_of_calls_admitted_before_a_transition_are_discarded() {
    let (b, _) = breaker(config(2));
    let stale = b.try_acquire().unwrap();
    b.reset();
    stale.failure();
    assert_eq!(b.stats().buffered_calls, 0);
    // A closed permit held across open/half-open does not count as a probe.
    let stale = b.try_acquire().unwrap();
    b.transition_to_half_open();
    stale.success();
    assert_eq!(b.stats().buffered_calls, 0);
    assert_eq!(b.state(), State::HalfOpen);
}

#[test]
fn time_based_window_forgets_old_calls() {
    let (b, clock) = breaker(
        CircuitBreakerConfig::default()
            .sliding_window(SlidingWindow::time(10 * SEC))
            .minimum_number_of_calls(4),
    );
    for _ in 0..3 {
        call(&b, Outcome::Failure).unwrap();
    }
    clock.advance(10 * SEC);
    assert_eq!(b.stats().buffered_calls, 0, "the failures expired");
    call(&b, Outcome::Failure).unwrap();
    for _ in 0..3 {
        call(&b, Outcome::Success).unwrap();
    }
    assert_eq!(b.state(), State::Closed, "25% over the live window");
    clock.advance(5 * SEC);
    call(&b, Outcome::Failure).unwrap();
    assert_eq!(b.state(), State::Closed, "2 of 5 = 40%");
    call(&b, Outcome::Failure).unwrap();
    assert_eq!(b.state(), State::Open, "3 of 6 = 50%");
}

#[test]
fn subscribers_see_transitions_in_order_and_lag_is_reported() {
    let (b, _) = breaker(config(2));
    let mut rx = b.subscribe();
    let rounds = EVENT_CAPACITY + 6;
    for _ in 0..rounds / 2 {
        b.force_open();
        b.close();
    }
    match rx.try_recv() {
        Err(TryRecvError::Lagged(n)) => assert_eq!(n as usize, rounds - EVENT_CAPACITY),
        other => panic!("expected lag, got {other:?}"),
    }
    let t = rx.try_recv().unwrap();
    assert_eq!((t.from, t.to), (State::Closed, State::ForcedOpen));
    let mut rest = 1;
    while rx.try_recv().is_ok() {
        rest += 1;
    }
    assert_eq!(rest, EVENT_CAPACITY);
}

#[tokio::test]
async fn subscribe_async_receives_transition() {
    let (b, _) = breaker(config(2));
    let mut rx = b.subscribe();
    let task = tokio::spawn(async move { rx.recv().await });
    tokio::task::yield_now().await;
    trip(&b);
    let t = task.await.unwrap().unwrap();
    assert_eq!((t.from, t.to), (State::Closed, State::Open));
    drop(b);
    let mut rx2 = {
        let (b, _) = breaker(config(2));
        b.subscribe()
    };
    assert!(
        matches!(rx2.recv().await, Err(RecvError::Closed)),
        "breaker dropped"
    );
}

#[test]
fn config_validation_names_field_and_value() {
    let e = CircuitBreakerConfig::default()
        .failure_rate_threshold(150.0)
        .validate()
        .unwrap_err();
    assert_eq!(e.field, "circuit_breaker.failure_rate_threshold");
    assert_eq!(
        e.to_string(),
        "invalid configuration: circuit_breaker.failure_rate_threshold: 150% is not within (0, 100]"
    );
    let d = CircuitBreakerConfig::default;
    let cases: Vec<(CircuitBreakerConfig, &str, &str)> = vec![
        (
            d().failure_rate_threshold(0.0),
            "failure_rate_threshold",
            "0%",
        ),
        (
            d().failure_rate_threshold(f32::NAN),
            "failure_rate_threshold",
            "NaN%",
        ),
        (
            d().slow_call_rate_threshold(100.5),
            "slow_call_rate_threshold",
            "100.5%",
        ),
        (
            d().slow_call_duration_threshold(Duration::ZERO),
            "slow_call_duration_threshold",
            "greater than zero",
        ),
        (
            d().sliding_window(SlidingWindow::count(0)),
            "sliding_window.size",
            "0 is not within",
        ),
        (
            d().sliding_window(SlidingWindow::count(2_000_000)),
            "sliding_window.size",
            "2000000",
        ),
        (
            d().sliding_window(SlidingWindow::time_with_bucket(
                10 * SEC,
                Duration::from_millis(300),
            )),
            "sliding_window.duration",
            "not a multiple",
        ),
        (
            d().sliding_window(SlidingWindow::time_with_bucket(
                3600 * SEC,
                Duration::from_millis(1),
            )),
            "sliding_window.bucket",
            "3600000 buckets",
        ),
        (
            d().sliding_window(SlidingWindow::time(Duration::ZERO)),
            "sliding_window.duration",
            "zero",
        ),
        (
            d().minimum_number_of_calls(0),
            "minimum_number_of_calls",
            "at least 1",
        ),
        (
            d().permitted_calls_in_half_open(0),
            "permitted_calls_in_half_open",
            "0 is not",
        ),
        (
            d().max_wait_in_half_open(Duration::ZERO),
            "max_wait_in_half_open",
            "zero",
        ),
        (
            d().wait_duration_in_open(Duration::ZERO),
            "wait_duration_in_open",
            "zero",
        ),
        (
            d().open_duration_multiplier(0.5),
            "open_duration_multiplier",
            "0.5",
        ),
        (
            d().open_duration_multiplier(f64::INFINITY),
            "open_duration_multiplier",
            "inf",
        ),
        (
            d().max_wait_duration_in_open(SEC),
            "max_wait_duration_in_open",
            "shorter than",
        ),
        (d().name(""), "name", "empty"),
    ];
    for (config, field, fragment) in cases {
        let e = config.validate().unwrap_err();
        assert_eq!(e.field, format!("circuit_breaker.{field}"), "{e}");
        assert!(
            e.message.contains(fragment),
            "{e} should mention {fragment}"
        );
        assert!(CircuitBreakerHandle::new(config).is_err());
    }
    assert!(CircuitBreakerConfig::default().validate().is_ok());
    let keyed = KeyedCircuitBreakerConfig::default()
        .capacity(0)
        .validate()
        .unwrap_err();
    assert_eq!(keyed.field, "keyed_circuit_breaker.capacity");
    let keyed = KeyedCircuitBreakerConfig::new(d().failure_rate_threshold(101.0))
        .validate()
        .unwrap_err();
    assert_eq!(keyed.field, "circuit_breaker.failure_rate_threshold");
}

#[cfg(feature = "serde")]
#[test]
fn serde_json_round_trip_with_exact_field_names() {
    use serde_json::{Value, json};

    let config = CircuitBreakerConfig::default()
        .name("ingest")
        .slow_call_duration_threshold(Duration::from_millis(2500))
        .sliding_window(SlidingWindow::time_with_bucket(
            30 * SEC,
            Duration::from_millis(500),
        ))
        .max_wait_in_half_open(30 * SEC)
        .open_duration_multiplier(2.0)
        .max_wait_duration_in_open(Duration::from_secs(600));
    let v = serde_json::to_value(&config).unwrap();
    assert_eq!(
        v,
        json!({
            "name": "ingest",
            "failure_rate_threshold": 50.0,
            "slow_call_rate_threshold": 100.0,
            "slow_call_duration_threshold": "2s500ms",
            "sliding_window": { "type": "time_based", "duration": "30s", "bucket": "500ms" },
            "minimum_number_of_calls": 100,
            "permitted_calls_in_half_open": 10,
            "max_wait_in_half_open": "30s",
            "wait_duration_in_open": "1m",
            "open_duration_multiplier": 2.0,
            "max_wait_duration_in_open": "10m"
        })
    );
    let back: CircuitBreakerConfig = serde_json::from_value(v).unwrap();
    assert_eq!(back, config);

    let default = serde_json::to_value(CircuitBreakerConfig::default()).unwrap();
    assert_eq!(
        default["sliding_window"],
        json!({ "type": "count_based", "size": 100 })
    );
    assert_eq!(default["slow_call_duration_threshold"], Value::Null);

    // Partial documents take defaults; the bucket defaults to one second.
    let partial: CircuitBreakerConfig = serde_json::from_str(
        r#"{ "failure_rate_threshold": 20, "sliding_window": { "type": "time_based", "duration": 60000 } }"#,
    )
    .unwrap();
    assert_eq!(partial.failure_rate_threshold, 20.0);
    assert_eq!(partial.sliding_window, SlidingWindow::time(60 * SEC));
    assert_eq!(partial.minimum_number_of_calls, 100);

    for bad in [
        r#"{ "failure_rate": 20 }"#,
        r#"{ "sliding_window": { "type": "count_based", "size": 5, "extra": 1 } }"#,
        r#"{ "sliding_window": { "type": "sideways" } }"#,
        r#"{ "wait_duration_in_open": "5 parsecs" }"#,
    ] {
        assert!(
            serde_json::from_str::<CircuitBreakerConfig>(bad).is_err(),
            "{bad}"
        );
    }

    let keyed = KeyedCircuitBreakerConfig::new(config)
        .capacity(50)
        .idle_timeout(90 * SEC);
    let v = serde_json::to_value(&keyed).unwrap();
    assert_eq!(v["capacity"], 50);
    assert_eq!(v["idle_timeout"], "1m30s");
    assert_eq!(v["breaker"]["name"], "ingest");
    let back: KeyedCircuitBreakerConfig = serde_json::from_value(v).unwrap();
    assert_eq!(back, keyed);

    let stats = serde_json::to_value(
        CircuitBreakerHandle::new(CircuitBreakerConfig::default())
            .unwrap()
            .stats(),
    )
    .unwrap();
    assert_eq!(stats["state"], "closed");
    assert_eq!(serde_json::to_value(State::HalfOpen).unwrap(), "half_open");
}

#[test]
fn errors_display_and_hints() {
    let open: CircuitBreakerError<std::io::Error> = Rejected {
        state: State::Open,
        retry_after: Some(SEC),
    }
    .into();
    assert_eq!(
        open.to_string(),
        "circuit breaker is open, call not permitted (retry after 1s)"
    );
    assert_eq!(open.retry_hint(), Hint::RetryAfter(SEC));
    assert!(open.is_rejected());
    let half: CircuitBreakerError<String> = Rejected {
        state: State::HalfOpen,
        retry_after: None,
    }
    .into();
    assert_eq!(
        half.to_string(),
        "circuit breaker is half_open, call not permitted"
    );
    assert_eq!(half.retry_hint(), Hint::None);

    struct Throttled;
    impl RetryHint for Throttled {
        fn retry_hint(&self) -> Hint {
            Hint::RetryAfter(5 * SEC)
        }
    }
    assert_eq!(
        CircuitBreakerError::Inner(Throttled).retry_hint(),
        Hint::RetryAfter(5 * SEC)
    );
    assert_eq!(
        CircuitBreakerError::<()>::NotReady.retry_hint(),
        Hint::DoNotRetry
    );
    let inner = CircuitBreakerError::Inner(std::io::Error::other("boom"));
    assert_eq!(inner.to_string(), "boom");
    assert_eq!(inner.into_inner().unwrap().to_string(), "boom");
}
