//! The retry layer: attempts, delays, deadline, predicate, hints,
//! readiness and configuration. Time is paused, so every delay is exact.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_util::future::{Ready, ready};
use iot_resilience::backoff::{Backoff, BackoffConfig};
use iot_resilience::retry::{
    GiveUpReason, HintFromResponse, MAX_ATTEMPTS_WITHOUT_DEADLINE, RetryBudgetConfig, RetryConfig,
    RetryError, RetryLayer,
};
use iot_resilience::{Hint, RetryHint};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};

const MS: Duration = Duration::from_millis(1);

#[derive(Debug, Clone, PartialEq)]
enum TestError {
    Transient,
    Fatal,
    Throttled(Duration),
    Unready,
}

impl RetryHint for TestError {
    fn retry_hint(&self) -> Hint {
        match self {
            TestError::Fatal => Hint::DoNotRetry,
            TestError::Throttled(d) => Hint::RetryAfter(*d),
            _ => Hint::None,
        }
    }
}

type Outcome = Result<u16, TestError>;

/// Plays scripted outcomes (then `fallback` forever), records when each
/// call happened and how often readiness was polled. Its readiness can be
/// switched off (a closed gate) to stand for an inner limiter.
#[derive(Clone)]
struct Script {
    outcomes: Arc<Mutex<VecDeque<Outcome>>>,
    fallback: Outcome,
    calls: Arc<Mutex<Vec<(Instant, u32)>>>,
    ready_polls: Arc<AtomicUsize>,
    open: Arc<AtomicBool>,
    close_after_call: bool,
    waker: Arc<Mutex<Option<Waker>>>,
    ready_error: Arc<AtomicBool>,
}

impl Script {
    fn new(outcomes: impl IntoIterator<Item = Outcome>, fallback: Outcome) -> Self {
        Self {
            outcomes: Arc::new(Mutex::new(outcomes.into_iter().collect())),
            fallback,
            calls: Arc::default(),
            ready_polls: Arc::default(),
            open: Arc::new(AtomicBool::new(true)),
            close_after_call: false,
            waker: Arc::default(),
            ready_error: Arc::default(),
        }
    }

    fn failing() -> Self {
        Self::new([], Err(TestError::Transient))
    }

    fn call_count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    /// Offsets of the calls from `start`.
    fn call_offsets(&self, start: Instant) -> Vec<Duration> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _)| *t - start)
            .collect()
    }

    fn open_gate(&self) {
        self.open.store(true, Ordering::SeqCst);
        if let Some(w) = self.waker.lock().unwrap().take() {
            w.wake();
        }
    }
}

impl Service<u32> for Script {
    type Response = u16;
    type Error = TestError;
    type Future = Ready<Outcome>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), TestError>> {
        self.ready_polls.fetch_add(1, Ordering::SeqCst);
        if self.ready_error.load(Ordering::SeqCst) {
            return Poll::Ready(Err(TestError::Unready));
        }
        if self.open.load(Ordering::SeqCst) {
            Poll::Ready(Ok(()))
        } else {
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    fn call(&mut self, request: u32) -> Self::Future {
        self.calls.lock().unwrap().push((Instant::now(), request));
        if self.close_after_call {
            self.open.store(false, Ordering::SeqCst);
        }
        let next = self.outcomes.lock().unwrap().pop_front();
        ready(next.unwrap_or_else(|| self.fallback.clone()))
    }
}

fn exponential(max_attempts: u32) -> RetryConfig {
    RetryConfig::default()
        .max_attempts(max_attempts)
        .backoff(BackoffConfig::exponential(100 * MS, 10_000 * MS))
        .budget(None)
}

fn failed(err: RetryError<TestError>) -> (TestError, u32, GiveUpReason) {
    match err {
        RetryError::Failed {
            error,
            attempts,
            reason,
        } => (error, attempts, reason),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn first_success_is_returned_without_retrying() {
    let script = Script::new([Ok(200)], Err(TestError::Transient));
    let service = RetryLayer::new(exponential(3))
        .unwrap()
        .layer(script.clone());
    let start = Instant::now();
    assert_eq!(service.oneshot(1).await, Ok(200));
    assert_eq!(script.call_count(), 1);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn max_attempts_counts_the_first_attempt() {
    for max in [1, 2, 4] {
        let script = Script::failing();
        let service = RetryLayer::new(exponential(max))
            .unwrap()
            .layer(script.clone());
        let (error, attempts, reason) = failed(service.oneshot(7).await.unwrap_err());
        assert_eq!(error, TestError::Transient);
        assert_eq!(attempts, max);
        assert_eq!(reason, GiveUpReason::MaxAttempts);
        assert_eq!(script.call_count(), max as usize);
        // Every attempt carried the same request.
        assert!(script.calls.lock().unwrap().iter().all(|(_, r)| *r == 7));
    }
}

#[tokio::test(start_paused = true)]
async fn waits_exactly_the_backoff_delays() {
    let script = Script::failing();
    let service = RetryLayer::new(exponential(4))
        .unwrap()
        .layer(script.clone());
    let start = Instant::now();
    let _ = service.oneshot(1).await;
    assert_eq!(
        script.call_offsets(start),
        [Duration::ZERO, 100 * MS, 300 * MS, 700 * MS]
    );
    assert_eq!(start.elapsed(), 700 * MS);
}

#[tokio::test(start_paused = true)]
async fn waits_the_seeded_jittered_delays() {
    let backoff = BackoffConfig::full_jitter(100 * MS, 2_000 * MS);
    let expected: Vec<Duration> = Backoff::with_seed(backoff, 11).take(4).collect();
    let made = Arc::new(AtomicUsize::new(0));
    let counter = made.clone();
    let layer = RetryLayer::new(exponential(5))
        .unwrap()
        .with_backoff(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Backoff::with_seed(backoff, 11)
        });

    let script = Script::failing();
    let start = Instant::now();
    let _ = layer.layer(script.clone()).oneshot(1).await;
    assert_eq!(script.call_count(), 5);
    // tokio's timer ticks in whole milliseconds, so each sleep ends within
    // 1 ms after the (nanosecond) jittered delay.
    let offsets = script.call_offsets(start);
    for (i, delay) in expected.iter().enumerate() {
        let waited = offsets[i + 1] - offsets[i];
        assert!(
            waited >= *delay && waited < *delay + MS,
            "retry {i}: waited {waited:?} for a delay of {delay:?}"
        );
    }
    assert!(expected.windows(2).any(|w| w[0] != w[1]), "jitter varies");
    assert_eq!(
        made.load(Ordering::SeqCst),
        1,
        "one schedule per retried call"
    );

    // A call that succeeds at once builds no schedule.
    let ok = Script::new([], Ok(200));
    assert_eq!(layer.layer(ok).oneshot(1).await, Ok(200));
    assert_eq!(made.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn success_after_retries_is_ok() {
    let script = Script::new(
        [Err(TestError::Transient), Err(TestError::Transient)],
        Ok(201),
    );
    let service = RetryLayer::new(exponential(3))
        .unwrap()
        .layer(script.clone());
    assert_eq!(service.oneshot(1).await, Ok(201));
    assert_eq!(script.call_count(), 3);
}

#[tokio::test(start_paused = true)]
async fn deadline_stops_retries_before_they_would_pass_it() {
    // Attempts at 0 and 100 ms; the next delay (200 ms) would end at
    // 300 ms, past the 250 ms deadline.
    let script = Script::failing();
    let config = exponential(10).deadline(250 * MS);
    let service = RetryLayer::new(config).unwrap().layer(script.clone());
    let start = Instant::now();
    let (_, attempts, reason) = failed(service.oneshot(1).await.unwrap_err());
    assert_eq!((attempts, reason), (2, GiveUpReason::Deadline));
    assert_eq!(script.call_offsets(start), [Duration::ZERO, 100 * MS]);
    assert_eq!(start.elapsed(), 100 * MS, "gave up without sleeping");
}

/// Issue #17: a delay planned to end before the deadline, whose timer
/// fires at it (tokio's wheel rounds a sleep up to its millisecond tick),
/// must not start an attempt; the call ends with the deadline reason and
/// the last error.
#[tokio::test(start_paused = true)]
async fn a_retry_whose_timer_fires_at_the_deadline_does_not_start() {
    let script = Script::failing();
    // 29.5 ms is less than the 30 ms left after the first attempt, so the
    // retry is planned; the timer fires on the 30 ms tick.
    let config = exponential(5)
        .backoff(BackoffConfig::constant(Duration::from_micros(29_500)))
        .deadline(30 * MS);
    let service = RetryLayer::new(config).unwrap().layer(script.clone());
    let start = Instant::now();
    let (error, attempts, reason) = failed(service.oneshot(1).await.unwrap_err());
    assert_eq!(
        (error, attempts, reason),
        (TestError::Transient, 1, GiveUpReason::Deadline)
    );
    assert_eq!(script.call_offsets(start), [Duration::ZERO]);
    assert!(
        start.elapsed() >= 30 * MS,
        "the premise: the timer fired at the deadline, not before ({:?})",
        start.elapsed()
    );
}

/// Readiness that only comes after the deadline does not start an attempt
/// either.
#[tokio::test(start_paused = true)]
async fn a_retry_whose_service_is_ready_only_after_the_deadline_does_not_start() {
    let mut script = Script::failing();
    script.close_after_call = true;
    // The retry is due at 100 ms, within the 250 ms deadline, but the
    // service is not ready again until 400 ms.
    let config = exponential(5).deadline(250 * MS);
    let service = RetryLayer::new(config).unwrap().layer(script.clone());
    let call = tokio::spawn(service.oneshot(1));
    tokio::time::sleep(400 * MS).await;
    script.open_gate();
    let (_, attempts, reason) = failed(call.await.unwrap().unwrap_err());
    assert_eq!((attempts, reason), (1, GiveUpReason::Deadline));
    assert_eq!(script.call_count(), 1);
}

/// With a deadline, `max_attempts` may be huge: the deadline ends the call.
#[tokio::test(start_paused = true)]
async fn endless_attempts_with_a_deadline_end_at_the_deadline() {
    let script = Script::failing();
    let config = exponential(u32::MAX)
        .backoff(BackoffConfig::constant(10 * MS))
        .deadline(Duration::from_secs(1));
    let service = RetryLayer::new(config).unwrap().layer(script.clone());
    let start = Instant::now();
    let (_, attempts, reason) = failed(service.oneshot(1).await.unwrap_err());
    assert_eq!(reason, GiveUpReason::Deadline);
    // Attempts at 0, 10, ..., 990 ms; the one at 1,000 ms would not start
    // before the deadline.
    assert_eq!(attempts, 100);
    assert_eq!(script.call_count(), 100);
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn deadline_does_not_cut_an_attempt_in_flight() {
    let slow = tower::service_fn(|_: u32| async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Err::<u16, _>(TestError::Transient)
    });
    let config = exponential(5).deadline(300 * MS);
    let service = RetryLayer::new(config).unwrap().layer(slow);
    let start = Instant::now();
    let (_, attempts, reason) = failed(service.oneshot(1).await.unwrap_err());
    assert_eq!((attempts, reason), (1, GiveUpReason::Deadline));
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn predicate_retries_responses_and_returns_the_last_one() {
    let retry_503 = |r: &Outcome| matches!(r, Err(_) | Ok(503));

    let script = Script::new([Ok(503), Ok(503)], Ok(200));
    let layer = RetryLayer::new(exponential(3))
        .unwrap()
        .with_predicate(retry_503);
    assert_eq!(layer.layer(script.clone()).oneshot(1).await, Ok(200));
    assert_eq!(script.call_count(), 3);

    // Still 503 after the last attempt: the response comes back as Ok.
    let script = Script::new([], Ok(503));
    assert_eq!(layer.layer(script.clone()).oneshot(1).await, Ok(503));
    assert_eq!(script.call_count(), 3);

    // 404 is not retried.
    let script = Script::new([], Ok(404));
    assert_eq!(layer.layer(script.clone()).oneshot(1).await, Ok(404));
    assert_eq!(script.call_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn predicate_can_refuse_errors() {
    let only_transient = |r: &Outcome| matches!(r, Err(TestError::Transient));
    let script = Script::new([Err(TestError::Unready)], Ok(200));
    let layer = RetryLayer::new(exponential(3))
        .unwrap()
        .with_predicate(only_transient);
    let (error, attempts, reason) =
        failed(layer.layer(script.clone()).oneshot(1).await.unwrap_err());
    assert_eq!(
        (error, attempts, reason),
        (TestError::Unready, 1, GiveUpReason::NotRetryable)
    );
    assert_eq!(script.call_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn do_not_retry_hint_stops_even_if_the_predicate_says_retry() {
    let script = Script::new([Err(TestError::Transient), Err(TestError::Fatal)], Ok(200));
    let layer = RetryLayer::new(exponential(5))
        .unwrap()
        .with_predicate(|_: &Outcome| true);
    let (error, attempts, reason) =
        failed(layer.layer(script.clone()).oneshot(1).await.unwrap_err());
    assert_eq!(error, TestError::Fatal);
    assert_eq!((attempts, reason), (2, GiveUpReason::ServerSaidDoNotRetry));
    assert_eq!(script.call_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn retry_after_hint_waits_the_longer_of_hint_and_backoff() {
    // Hint 2 s > backoff 100 ms: waits 2 s. Hint 10 ms < backoff 200 ms:
    // waits 200 ms.
    let script = Script::new(
        [
            Err(TestError::Throttled(2_000 * MS)),
            Err(TestError::Throttled(10 * MS)),
        ],
        Ok(200),
    );
    let service = RetryLayer::new(exponential(3))
        .unwrap()
        .layer(script.clone());
    let start = Instant::now();
    assert_eq!(service.oneshot(1).await, Ok(200));
    assert_eq!(
        script.call_offsets(start),
        [Duration::ZERO, 2_000 * MS, 2_200 * MS]
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_beyond_the_deadline_gives_up_at_once() {
    let script = Script::new(
        [Err(TestError::Throttled(Duration::from_secs(60)))],
        Ok(200),
    );
    let config = exponential(3).deadline(Duration::from_secs(5));
    let service = RetryLayer::new(config).unwrap().layer(script.clone());
    let start = Instant::now();
    let (error, attempts, reason) = failed(service.oneshot(1).await.unwrap_err());
    assert_eq!(error, TestError::Throttled(Duration::from_secs(60)));
    assert_eq!((attempts, reason), (1, GiveUpReason::Deadline));
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[derive(Debug, Clone, PartialEq)]
struct Response {
    status: u16,
    retry_after: Option<Duration>,
}

impl RetryHint for Response {
    fn retry_hint(&self) -> Hint {
        match (self.status, self.retry_after) {
            (503, Some(d)) => Hint::RetryAfter(d),
            (400..=499, _) => Hint::DoNotRetry,
            _ => Hint::None,
        }
    }
}

#[tokio::test(start_paused = true)]
async fn response_hints_are_honoured() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let inner = tower::service_fn(move |_: u32| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let response = match n {
            0 => Response {
                status: 503,
                retry_after: Some(Duration::from_secs(3)),
            },
            _ => Response {
                status: 200,
                retry_after: None,
            },
        };
        ready(Ok::<_, TestError>(response))
    });
    let layer = RetryLayer::new(exponential(3))
        .unwrap()
        .with_predicate(|r: &Result<Response, TestError>| {
            r.as_ref().map_or(true, |r| r.status >= 500)
        })
        .with_response_hint(HintFromResponse);
    let start = Instant::now();
    let response = layer.layer(inner).oneshot(1).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // A closure as extractor; DoNotRetry on a response returns it as is.
    let inner = tower::service_fn(|_: u32| ready(Ok::<u16, TestError>(503)));
    let layer = RetryLayer::new(exponential(3))
        .unwrap()
        .with_predicate(|r: &Outcome| matches!(r, Ok(503)))
        .with_response_hint(|_: &u16| Hint::DoNotRetry);
    let start = Instant::now();
    assert_eq!(layer.layer(inner).oneshot(1).await, Ok(503));
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn readiness_is_polled_before_every_attempt() {
    let script = Script::failing();
    let service = RetryLayer::new(exponential(4))
        .unwrap()
        .layer(script.clone());
    let _ = service.oneshot(1).await;
    assert_eq!(script.call_count(), 4);
    // Once by the caller (oneshot), then once before each of 3 retries.
    assert_eq!(script.ready_polls.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn retry_waits_until_the_inner_service_is_ready_again() {
    let mut script = Script::new([Err(TestError::Transient)], Ok(200));
    script.close_after_call = true;
    let service = RetryLayer::new(exponential(3))
        .unwrap()
        .layer(script.clone());
    let task = tokio::spawn(service.oneshot(1));

    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(script.call_count(), 1, "the retry must wait for readiness");
    assert!(!task.is_finished());

    script.open_gate();
    assert_eq!(task.await.unwrap(), Ok(200));
    assert_eq!(script.call_count(), 2);
    let first = script.calls.lock().unwrap()[0].0;
    let offsets = script.call_offsets(first);
    assert_eq!(offsets, [Duration::ZERO, 5_000 * MS]);
}

#[tokio::test(start_paused = true)]
async fn readiness_error_before_a_retry_gives_up() {
    let script = Script::failing();
    let flag = script.ready_error.clone();
    let inner = tower::service_fn({
        let script = script.clone();
        move |req: u32| {
            // After the first call, the service breaks.
            flag.store(true, Ordering::SeqCst);
            script.clone().call(req)
        }
    });
    // `service_fn` is always ready, so put the script's readiness in front.
    #[derive(Clone)]
    struct ReadyFrom<S>(Script, S);
    impl<S: Service<u32, Response = u16, Error = TestError>> Service<u32> for ReadyFrom<S> {
        type Response = u16;
        type Error = TestError;
        type Future = S::Future;
        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), TestError>> {
            self.0.poll_ready(cx)
        }
        fn call(&mut self, req: u32) -> S::Future {
            self.1.call(req)
        }
    }
    let service = RetryLayer::new(exponential(3))
        .unwrap()
        .layer(ReadyFrom(script.clone(), inner));
    let (error, attempts, reason) = failed(service.oneshot(1).await.unwrap_err());
    assert_eq!(error, TestError::Unready);
    assert_eq!((attempts, reason), (1, GiveUpReason::ReadinessFailed));
}

#[tokio::test(start_paused = true)]
async fn calling_without_readiness_is_an_error_not_a_panic() {
    let script = Script::new([], Ok(200));
    let mut service = RetryLayer::new(exponential(3))
        .unwrap()
        .layer(script.clone());
    let err = service.call(1).await.unwrap_err();
    assert!(matches!(err, RetryError::NotReady));
    assert_eq!(err.retry_hint(), Hint::DoNotRetry);
    assert_eq!(script.call_count(), 0);

    // Readiness is consumed by a call, and clones start not ready.
    service.ready().await.unwrap();
    let mut clone = service.clone();
    assert!(matches!(clone.call(2).await, Err(RetryError::NotReady)));
    assert_eq!(service.call(3).await, Ok(200));
    assert!(matches!(service.call(4).await, Err(RetryError::NotReady)));
    assert_eq!(script.call_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn poll_ready_errors_are_typed() {
    let script = Script::new([], Ok(200));
    script.ready_error.store(true, Ordering::SeqCst);
    let mut service = RetryLayer::new(exponential(3)).unwrap().layer(script);
    let Err(err) = service.ready().await.map(|_| ()) else {
        panic!("poll_ready should fail");
    };
    let (error, attempts, reason) = failed(err);
    assert_eq!(
        (error, attempts, reason),
        (TestError::Unready, 0, GiveUpReason::ReadinessFailed)
    );
}

#[test]
fn errors_keep_the_inner_error_and_forward_hints() {
    let err = RetryError::Failed {
        error: TestError::Throttled(MS),
        attempts: 3,
        reason: GiveUpReason::MaxAttempts,
    };
    assert_eq!(err.retry_hint(), Hint::RetryAfter(MS));
    assert_eq!(err.attempts(), 3);
    assert_eq!(err.reason(), Some(GiveUpReason::MaxAttempts));
    assert_eq!(err.to_string(), "gave up after 3 attempt(s): max_attempts");
    assert_eq!(err.into_inner(), Some(TestError::Throttled(MS)));

    let budget = RetryError::Failed {
        error: TestError::Transient,
        attempts: 1,
        reason: GiveUpReason::BudgetExhausted,
    };
    assert_eq!(
        budget.retry_hint(),
        Hint::DoNotRetry,
        "outer layers must not re-retry"
    );

    let io = RetryError::Failed {
        error: std::io::Error::other("boom"),
        attempts: 2,
        reason: GiveUpReason::Deadline,
    };
    let source = std::error::Error::source(&io).unwrap();
    assert_eq!(source.to_string(), "boom");
}

#[test]
fn config_validation_names_the_field() {
    assert_eq!(RetryConfig::default().validate(), Ok(()));
    let err = RetryConfig::default()
        .max_attempts(0)
        .validate()
        .unwrap_err();
    assert_eq!(err.field, "retry.max_attempts");
    assert!(err.message.starts_with('0'), "{err}");
    let err = RetryConfig::default()
        .deadline(Duration::ZERO)
        .validate()
        .unwrap_err();
    assert_eq!(err.field, "retry.deadline");
    let err = RetryConfig::default()
        .backoff(BackoffConfig::default().factor(0.5))
        .validate()
        .unwrap_err();
    assert_eq!(err.field, "retry.backoff.factor");
    let err = RetryConfig::default()
        .budget(RetryBudgetConfig::default().ratio(1500.0))
        .validate()
        .unwrap_err();
    assert_eq!(err.field, "retry.budget.ratio");
    assert!(err.message.contains("1500"), "{err}");
    let err = RetryConfig::default()
        .budget(RetryBudgetConfig::default().ttl(100 * MS))
        .validate()
        .unwrap_err();
    assert_eq!(err.field, "retry.budget.ttl");
    assert!(err.message.contains("100ms"), "{err}");
    assert!(
        RetryBudgetConfig::default()
            .ratio(f64::NAN)
            .validate()
            .is_err()
    );
    assert!(RetryBudgetConfig::default().ratio(-0.1).validate().is_err());

    // Every other configuration rejects an empty name; so does retry's.
    let err = RetryConfig::default().name("").validate().unwrap_err();
    assert_eq!(err.field, "retry.name");

    // Without a deadline nothing but `max_attempts` ends a call against a
    // backend that keeps failing (a budget bounds retries across calls,
    // not one call's): at most `MAX_ATTEMPTS_WITHOUT_DEADLINE`.
    assert_eq!(MAX_ATTEMPTS_WITHOUT_DEADLINE, 100);
    for budget in [None, Some(RetryBudgetConfig::default())] {
        let endless = RetryConfig::default().max_attempts(u32::MAX).budget(budget);
        let err = endless.validate().unwrap_err();
        assert_eq!(err.field, "retry.max_attempts");
        assert!(
            err.message.contains("4294967295") && err.message.contains("retry.deadline"),
            "{err}"
        );
        assert!(endless.clone().max_attempts(101).validate().is_err());
        assert_eq!(endless.clone().max_attempts(100).validate(), Ok(()));
        assert_eq!(endless.deadline(Duration::from_secs(30)).validate(), Ok(()));
    }

    // The layer refuses invalid configurations.
    assert_eq!(
        RetryLayer::new(RetryConfig::default().max_attempts(0))
            .unwrap_err()
            .field,
        "retry.max_attempts"
    );
}

#[cfg(feature = "serde")]
#[test]
fn config_serde_json_round_trip_with_exact_field_names() {
    let config = RetryConfig::default()
        .name("ingest")
        .max_attempts(4)
        .deadline(Duration::from_secs(5))
        .backoff(BackoffConfig::exponential(250 * MS, Duration::from_secs(2)))
        .budget(
            RetryBudgetConfig::default()
                .ratio(0.1)
                .min_retries_per_second(3)
                .ttl(Duration::from_secs(30)),
        );
    let json = serde_json::to_value(&config).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "name": "ingest",
            "max_attempts": 4,
            "deadline": "5s",
            "backoff": {
                "strategy": "exponential",
                "base": "250ms",
                "cap": "2s",
                "factor": 2.0,
                "max_retries": null
            },
            "budget": {"ratio": 0.1, "min_retries_per_second": 3, "ttl": "30s"}
        })
    );
    let back: RetryConfig = serde_json::from_value(json).unwrap();
    assert_eq!(back, config);

    let defaults: RetryConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(defaults, RetryConfig::default());
    let no_budget: RetryConfig =
        serde_json::from_str(r#"{"budget": null, "deadline": null, "max_attempts": 2}"#).unwrap();
    assert_eq!(
        no_budget,
        RetryConfig::default().max_attempts(2).budget(None)
    );
    let millis: RetryConfig = serde_json::from_str(r#"{"deadline": 1500}"#).unwrap();
    assert_eq!(millis.deadline, Some(1500 * MS));
    assert!(serde_json::from_str::<RetryConfig>(r#"{"retries": 3}"#).is_err());
    // A negative duration names the value (it used to say "data did not
    // match any variant of untagged enum Raw").
    let err = serde_json::from_str::<RetryConfig>(r#"{"deadline": -5}"#)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("-5") && err.contains("non-negative") && !err.contains("untagged"),
        "{err}"
    );
    let err = serde_json::from_str::<RetryConfig>(r#"{"deadline": 1.5}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("1.5") && err.contains("\"250ms\""), "{err}");
    assert!(serde_json::from_str::<RetryConfig>(r#"{"budget": {"percent": 3}}"#).is_err());
}

#[cfg(feature = "backoff")]
#[tokio::test(start_paused = true)]
async fn backoff_crate_schedules_drive_the_layer() {
    use iot_resilience::backoff::BackoffCompat;

    let layer = RetryLayer::new(exponential(3))
        .unwrap()
        .with_backoff(|| BackoffCompat::new(backoff::backoff::Constant::new(50 * MS)));
    let script = Script::failing();
    let start = Instant::now();
    let _ = layer.layer(script.clone()).oneshot(1).await;
    assert_eq!(
        script.call_offsets(start),
        [Duration::ZERO, 50 * MS, 100 * MS]
    );

    let stop = RetryLayer::new(exponential(3))
        .unwrap()
        .with_backoff(|| BackoffCompat::new(backoff::backoff::Stop {}));
    let (_, attempts, reason) = failed(stop.layer(Script::failing()).oneshot(1).await.unwrap_err());
    assert_eq!((attempts, reason), (1, GiveUpReason::BackoffExhausted));
}

#[tokio::test(start_paused = true)]
async fn works_in_a_service_builder_stack() {
    let script = Script::new([Err(TestError::Transient)], Ok(200));
    let service = tower::ServiceBuilder::new()
        .layer(RetryLayer::new(exponential(2)).unwrap())
        .service(script.clone());
    assert_eq!(service.oneshot(1).await, Ok(200));
}
