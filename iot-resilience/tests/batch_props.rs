//! Property: whatever the configuration and the arrival pattern (gaps,
//! bursts, callers that give up, handles cloned and dropped), every item
//! reaches the sink exactly once, every caller that waits is resolved
//! exactly once with its own item's outcome, and the limits hold: batch
//! size, batch weight, batches in flight, pending items.

mod batch_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use batch_support::{Sink, outcome};
use iot_resilience::batch::{BatchConfig, BatchError, BatchLayer};
use proptest::prelude::*;
use tower::{Layer, Service, ServiceExt};

/// Item `id` weighs 1 to 7.
fn weight(id: &u32) -> usize {
    (*id % 7) as usize + 1
}

#[derive(Debug, Clone)]
struct Arrival {
    /// Milliseconds since the previous arrival.
    gap_ms: u64,
    /// The caller drops its response future right after `call`.
    gives_up: bool,
    /// The caller uses a fresh clone of the handle.
    own_handle: bool,
}

fn arrival() -> impl Strategy<Value = Arrival> {
    (
        prop_oneof![3 => Just(0u64), 1 => 0u64..4],
        proptest::bool::weighted(0.2),
        any::<bool>(),
    )
        .prop_map(|(gap_ms, gives_up, own_handle)| Arrival {
            gap_ms,
            gives_up,
            own_handle,
        })
}

fn config() -> impl Strategy<Value = BatchConfig> {
    (
        1usize..8,
        0usize..16,
        0u64..5,
        1usize..4,
        proptest::option::of(1usize..20),
    )
        .prop_map(|(max_items, extra, age_ms, concurrent, max_bytes)| {
            BatchConfig::default()
                .max_items(max_items)
                .max_pending(max_items + extra)
                .max_age(Duration::from_millis(age_ms))
                .max_concurrent_batches(concurrent)
                .max_bytes(max_bytes)
        })
}

fn run(config: BatchConfig, delay_ms: u64, arrivals: Vec<Arrival>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async move {
        let sink = Sink::new().with_delay(Duration::from_millis(delay_ms));
        let (max_items, max_bytes, max_pending, concurrent) = (
            config.max_items,
            config.max_bytes,
            config.max_pending,
            config.max_concurrent_batches,
        );
        let layer = BatchLayer::with_weigher(config, weight).unwrap();
        let (svc, worker) = layer.pair(sink.clone());
        let worker = tokio::spawn(worker);
        let answers = Arc::new(Mutex::new(Vec::new()));
        let mut callers = Vec::new();
        let mut shared = svc.clone();
        for (id, a) in (0u32..).zip(&arrivals) {
            if a.gap_ms > 0 {
                tokio::time::sleep(Duration::from_millis(a.gap_ms)).await;
            }
            prop_assert!(svc.pending() <= max_pending, "pending {}", svc.pending());
            let mut handle = if a.own_handle {
                svc.clone()
            } else {
                shared.clone()
            };
            let (gives_up, answers) = (a.gives_up, answers.clone());
            callers.push(tokio::spawn(async move {
                let future = handle.ready().await.unwrap().call(id);
                drop(handle);
                if !gives_up {
                    let got = future.await;
                    answers.lock().unwrap().push((id, got));
                }
            }));
            if id % 5 == 4 {
                shared = svc.clone(); // the old one is dropped
            }
        }
        drop((svc, shared));
        for c in callers {
            c.await.unwrap();
        }
        worker.await.unwrap();

        // Every caller that waited: exactly one answer, its own.
        let mut answers = answers.lock().unwrap().clone();
        answers.sort_by_key(|(id, _)| *id);
        let waited: Vec<u32> = (0u32..)
            .zip(&arrivals)
            .filter(|(_, a)| !a.gives_up)
            .map(|(id, _)| id)
            .collect();
        prop_assert_eq!(
            answers.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            waited
        );
        for (id, got) in answers {
            prop_assert_eq!(got, outcome(id).map_err(BatchError::Item), "item {}", id);
        }
        // Every item reached the sink exactly once, given up or not.
        let mut all = sink.batches().concat();
        all.sort_unstable();
        prop_assert_eq!(all, (0..arrivals.len() as u32).collect::<Vec<_>>());
        for batch in sink.batches() {
            prop_assert!(!batch.is_empty() && batch.len() <= max_items, "{:?}", batch);
            if let (Some(max), true) = (max_bytes, batch.len() > 1) {
                let total: usize = batch.iter().map(weight).sum();
                prop_assert!(total <= max, "{:?} weighs {} > {}", batch, total, max);
            }
        }
        prop_assert!(sink.max_in_flight() <= concurrent);
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_caller_gets_its_own_outcome_once(
        config in config(),
        delay_ms in 0u64..4,
        arrivals in proptest::collection::vec(arrival(), 0..80),
    ) {
        run(config, delay_ms, arrivals)?;
    }
}

/// The same on two threads, without paused time: real races between
/// callers, the worker and the sink.
#[test]
fn every_caller_gets_its_own_outcome_on_two_threads() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let sink = Sink::new().with_delay(Duration::from_micros(50));
        let config = BatchConfig::new(16, Duration::from_micros(300))
            .max_pending(40)
            .max_concurrent_batches(2);
        let svc = BatchLayer::new(config).unwrap().layer(sink.clone());
        let tasks: Vec<_> = (0..16u32)
            .map(|t| {
                let svc = svc.clone();
                tokio::spawn(async move {
                    for i in 0..200 {
                        let id = t * 1_000 + i;
                        let mut svc = svc.clone();
                        let future = svc.ready().await.unwrap().call(id);
                        assert!(svc.pending() <= 40);
                        if i % 3 == 0 {
                            drop(future);
                        } else {
                            assert_eq!(future.await, outcome(id).map_err(BatchError::Item));
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        // Given-up items are still processed; wait for the last batches.
        while sink.item_count() < 16 * 200 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let mut all = sink.batches().concat();
        all.sort_unstable();
        let want: Vec<u32> = (0..16)
            .flat_map(|t| (0..200).map(move |i| t * 1_000 + i))
            .collect();
        assert_eq!(all, want);
        assert!(sink.max_in_flight() <= 2);
    });
}
