//! A composed resilience stack around a flaky backend, outermost first:
//! rate limit -> circuit breaker -> retry -> timeout.
//!
//! The backend (a `service_fn`) fails about 30% of calls, is sometimes too
//! slow for the per-attempt timeout, and has a short outage in the middle of
//! the run. A few hundred calls arrive in bursts; the example prints how
//! they ended, by error kind, the breaker's state transitions as they
//! happen, and the breaker handle's state and statistics at the end.
//!
//! Run: `cargo run -p iot-resilience --example stack`

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use iot_resilience::backoff::BackoffConfig;
use iot_resilience::circuit_breaker::{
    CircuitBreakerConfig, CircuitBreakerError, CircuitBreakerLayer, SlidingWindow,
};
use iot_resilience::rate_limit::{RateLimitConfig, RateLimitError, RateLimitLayer};
use iot_resilience::retry::{RetryConfig, RetryError, RetryLayer};
use iot_resilience::timeout::{TimeoutConfig, TimeoutError, TimeoutLayer};
use tokio::time::Instant;
use tower::{ServiceBuilder, ServiceExt};

/// Calls in the run: `WAVES` bursts of `WAVE_SIZE` concurrent calls.
const WAVES: u64 = 20;
const WAVE_SIZE: u64 = 15;
/// Pause between bursts.
const WAVE_GAP: Duration = Duration::from_millis(30);
/// The backend fails every call in this window after the start.
const OUTAGE: std::ops::Range<Duration> = Duration::from_millis(200)..Duration::from_millis(400);

/// The error the stack returns: each layer wraps the one inside it.
type StackError = RateLimitError<CircuitBreakerError<RetryError<TimeoutError<io::Error>>>>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Each configuration is validated once (`build()`); the layers made
    // from validated configurations cannot fail.
    let breaker = CircuitBreakerLayer::from_validated(
        CircuitBreakerConfig::default()
            .name("backend")
            .sliding_window(SlidingWindow::count(20))
            .minimum_number_of_calls(10)
            .failure_rate_threshold(50.0)
            .permitted_calls_in_half_open(3)
            .wait_duration_in_open(Duration::from_millis(150))
            .build()?,
    );
    let handle = breaker.handle().clone();

    // Print every state transition as it happens.
    let start = Instant::now();
    let mut transitions = handle.subscribe();
    let watcher = tokio::spawn(async move {
        while let Ok(t) = transitions.recv().await {
            println!(
                "[{:>4} ms] breaker {} -> {} ({})",
                start.elapsed().as_millis(),
                t.from,
                t.to,
                t.reason
            );
        }
    });

    // The flaky backend: ~30% failures, ~5% too slow, an outage window.
    let calls = Arc::new(AtomicU64::new(0));
    let backend_calls = calls.clone();
    let backend = move |frame: u64| {
        let n = backend_calls.fetch_add(1, Ordering::Relaxed);
        async move {
            let roll = splitmix(n) % 100;
            if roll < 5 {
                // Longer than the 50 ms per-attempt timeout below.
                tokio::time::sleep(Duration::from_millis(120)).await;
            } else {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            if OUTAGE.contains(&start.elapsed()) {
                return Err(io::Error::new(io::ErrorKind::ConnectionRefused, "outage"));
            }
            if roll >= 70 {
                return Err(io::Error::other("flaky backend"));
            }
            Ok::<_, io::Error>(frame * 2)
        }
    };

    let svc = ServiceBuilder::new()
        .layer(RateLimitLayer::from_validated(
            RateLimitConfig::per(400, Duration::from_secs(1))
                .burst(12)
                .name("backend")
                .build()?,
        ))
        .layer(breaker)
        .layer(RetryLayer::from_validated(
            RetryConfig::default()
                .name("backend")
                .max_attempts(3)
                .backoff(BackoffConfig::full_jitter(
                    Duration::from_millis(5),
                    Duration::from_millis(50),
                ))
                .build()?,
        ))
        .layer(TimeoutLayer::from_validated(
            TimeoutConfig::default()
                .name("backend")
                .timeout(Duration::from_millis(50))
                .build()?,
        ))
        .service_fn(backend);

    // Clones share the limiter, the breaker and the retry budget.
    let mut outcomes: BTreeMap<String, u32> = BTreeMap::new();
    for wave in 0..WAVES {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..WAVE_SIZE {
            set.spawn(svc.clone().oneshot(wave * WAVE_SIZE + i));
        }
        while let Some(result) = set.join_next().await {
            *outcomes.entry(classify(&result?)).or_default() += 1;
        }
        tokio::time::sleep(WAVE_GAP).await;
    }

    println!();
    println!(
        "{} calls in {} ms, {} backend attempts",
        WAVES * WAVE_SIZE,
        start.elapsed().as_millis(),
        calls.load(Ordering::Relaxed)
    );
    for (kind, count) in &outcomes {
        println!("  {count:>4}  {kind}");
    }

    let stats = handle.stats();
    println!();
    println!("breaker {:?}: state {}", handle.name(), handle.state());
    println!(
        "  window: {} calls, {} failed, {} succeeded, failure rate {}",
        stats.buffered_calls,
        stats.failed_calls,
        stats.successful_calls,
        stats
            .failure_rate
            .map_or_else(|| "n/a".to_string(), |r| format!("{r:.1}%"))
    );
    println!("  rejected while open: {}", stats.not_permitted_calls);

    watcher.abort();
    Ok(())
}

/// Names an outcome by the layer that decided it.
fn classify(result: &Result<u64, StackError>) -> String {
    let err = match result {
        Ok(_) => return "ok".to_string(),
        Err(err) => err,
    };
    match err {
        RateLimitError::Rejected { .. } | RateLimitError::InsufficientCapacity { .. } => {
            "rejected by the rate limiter".to_string()
        }
        RateLimitError::Inner(CircuitBreakerError::Open { state, .. }) => {
            format!("rejected by the circuit breaker ({state})")
        }
        RateLimitError::Inner(CircuitBreakerError::Inner(RetryError::Failed {
            error,
            attempts,
            reason,
        })) => match error {
            TimeoutError::Elapsed { .. } => {
                format!("timed out ({reason} after {attempts} attempt(s))")
            }
            TimeoutError::Inner(e) => {
                format!(
                    "backend error {:?} ({reason} after {attempts} attempt(s))",
                    e.kind()
                )
            }
            // `NotReady` (a bug), and variants added later.
            other => format!("other: {other}"),
        },
        other => format!("other: {other}"),
    }
}

/// A fixed pseudo-random sequence (SplitMix64), so runs are comparable.
fn splitmix(n: u64) -> u64 {
    let mut z = n.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
