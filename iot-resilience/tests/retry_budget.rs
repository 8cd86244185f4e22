//! The retry budget, alone and in the retry layer: exact counts,
//! sharing between clones and layers, and concurrency.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::{Ready, ready};
use iot_resilience::backoff::BackoffConfig;
use iot_resilience::retry::{
    GiveUpReason, RetryBudget, RetryBudgetConfig, RetryConfig, RetryError, RetryLayer,
};
use tower::{Layer, Service, ServiceExt};

/// Always fails; counts calls.
#[derive(Clone, Default)]
struct Failing(Arc<AtomicUsize>);

impl Service<u32> for Failing {
    type Response = ();
    type Error = String;
    type Future = Ready<Result<(), String>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), String>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: u32) -> Self::Future {
        self.0.fetch_add(1, Ordering::SeqCst);
        ready(Err("down".to_owned()))
    }
}

fn budget_config(ratio: f64, min: u32) -> RetryBudgetConfig {
    RetryBudgetConfig::default()
        .ratio(ratio)
        .min_retries_per_second(min)
        .ttl(Duration::from_secs(60))
}

fn config(max_attempts: u32, ratio: f64, min: u32) -> RetryConfig {
    RetryConfig::default()
        .max_attempts(max_attempts)
        .backoff(BackoffConfig::constant(Duration::from_millis(1)))
        .budget(budget_config(ratio, min))
}

#[tokio::test(start_paused = true)]
async fn budget_shared_by_clones_caps_retries_at_the_ratio() {
    // Each call deposits 0.1 retry; a retry needs 1. Calls 10, 20, ..., 1000
    // find a full retry in the budget: exactly 100 retries.
    let inner = Failing::default();
    let service = RetryLayer::new(config(2, 0.1, 0))
        .unwrap()
        .layer(inner.clone());
    let mut reasons = std::collections::HashMap::new();
    for i in 0..1000 {
        let err = service.clone().oneshot(i).await.unwrap_err();
        *reasons.entry(err.reason().unwrap()).or_insert(0) += 1;
    }
    assert_eq!(inner.0.load(Ordering::SeqCst), 1100);
    assert_eq!(reasons[&GiveUpReason::MaxAttempts], 100);
    assert_eq!(reasons[&GiveUpReason::BudgetExhausted], 900);
    assert_eq!(service.budget().unwrap().available(), 0);
}

#[tokio::test(start_paused = true)]
async fn reserve_allows_retries_without_traffic() {
    // ratio 0, 1 retry/s over 60 s: a reserve of 60 retries.
    let inner = Failing::default();
    let service = RetryLayer::new(config(3, 0.0, 1))
        .unwrap()
        .layer(inner.clone());
    for i in 0..40 {
        let _ = service.clone().oneshot(i).await;
    }
    // 30 calls got their 2 retries each (60), the other 10 none.
    assert_eq!(inner.0.load(Ordering::SeqCst), 40 + 60);

    // Withdrawals expire after the ttl, so the reserve refills.
    tokio::time::advance(Duration::from_secs(61)).await;
    assert_eq!(service.budget().unwrap().available(), 60);
}

#[tokio::test(start_paused = true)]
async fn budget_exhausted_returns_the_last_error() {
    let inner = Failing::default();
    let service = RetryLayer::new(config(5, 0.0, 0))
        .unwrap()
        .layer(inner.clone());
    match service.oneshot(1).await.unwrap_err() {
        RetryError::Failed {
            error,
            attempts,
            reason,
        } => {
            assert_eq!(error, "down");
            assert_eq!(attempts, 1);
            assert_eq!(reason, GiveUpReason::BudgetExhausted);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(inner.0.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn one_budget_shared_across_layers() {
    let budget = Arc::new(
        RetryBudget::new(
            budget_config(0.0, 0)
                .min_retries_per_second(1)
                .ttl(Duration::from_secs(2)),
        )
        .unwrap(),
    );
    let a = RetryLayer::new(config(10, 0.0, 0))
        .unwrap()
        .with_budget(budget.clone());
    let b = RetryLayer::new(config(10, 0.0, 0))
        .unwrap()
        .with_budget(budget.clone());
    let inner = Failing::default();
    // Reserve: 2 retries for everyone.
    let _ = a.layer(inner.clone()).oneshot(1).await;
    let _ = b.layer(inner.clone()).oneshot(2).await;
    assert_eq!(inner.0.load(Ordering::SeqCst), 2 + 2);
    assert_eq!(budget.available(), 0);

    // Without a budget, only max_attempts limits.
    let free = RetryLayer::new(config(4, 0.0, 0)).unwrap().without_budget();
    assert!(free.budget().is_none());
    let counted = Failing::default();
    let _ = free.layer(counted.clone()).oneshot(1).await;
    assert_eq!(counted.0.load(Ordering::SeqCst), 4);
}

#[test]
fn concurrent_deposits_and_withdrawals_are_exact() {
    // 8 threads deposit 1000 calls each, then withdraw until refused:
    // exactly 10% of 8000 retries are granted, no more, no fewer.
    let budget = Arc::new(RetryBudget::new(budget_config(0.1, 0)).unwrap());
    let barrier = Arc::new(std::sync::Barrier::new(8));
    let granted: usize = (0..8)
        .map(|_| {
            let budget = budget.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    budget.deposit();
                }
                barrier.wait();
                let mut n = 0;
                while budget.withdraw() {
                    n += 1;
                }
                n
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .sum();
    assert_eq!(granted, 800);
    assert_eq!(budget.available(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_share_one_budget_and_counts_add_up() {
    const TASKS: usize = 16;
    const CALLS: usize = 250;
    let inner = Failing::default();
    let layer = RetryLayer::new(config(2, 0.1, 0)).unwrap();
    let service = layer.layer(inner.clone());
    let budget = service.budget().unwrap().clone();

    let handles: Vec<_> = (0..TASKS)
        .map(|t| {
            let service = service.clone();
            tokio::spawn(async move {
                let (mut retried, mut refused) = (0usize, 0usize);
                for i in 0..CALLS {
                    let err = service
                        .clone()
                        .oneshot((t * CALLS + i) as u32)
                        .await
                        .unwrap_err();
                    match err.reason() {
                        Some(GiveUpReason::MaxAttempts) => retried += 1,
                        Some(GiveUpReason::BudgetExhausted) => refused += 1,
                        other => panic!("unexpected {other:?}"),
                    }
                }
                (retried, refused)
            })
        })
        .collect();
    let (mut retried, mut refused) = (0, 0);
    for h in handles {
        let (a, b) = h.await.unwrap();
        retried += a;
        refused += b;
    }
    let calls = TASKS * CALLS;
    assert_eq!(retried + refused, calls);
    // Every retry granted was made, and no call made more than one.
    assert_eq!(inner.0.load(Ordering::SeqCst), calls + retried);
    // Never more than 10% of the calls, and the budget's books balance:
    // 4000 calls deposited 400 retries, `retried` were withdrawn.
    assert!(retried <= calls / 10, "{retried} retries for {calls} calls");
    assert_eq!(budget.available() as usize, calls / 10 - retried);
    assert!(retried > 0);
}
