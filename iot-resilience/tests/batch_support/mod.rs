//! A recording batch sink shared by the batch tests (`mod batch_support;`).
#![allow(dead_code)] // each test file uses its own subset

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;
use tower::Service;

/// Item `x` succeeds with `x * 10` unless `x % 7 == 0`, which the sink
/// rejects with `"bad x"`.
pub fn outcome(x: u32) -> Result<u32, String> {
    if x % 7 == 0 {
        Err(format!("bad {x}"))
    } else {
        Ok(x * 10)
    }
}

/// One batch as the sink saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub items: Vec<u32>,
    pub at: Instant,
}

/// A `Service<Vec<u32>>` that records every batch (synchronously, in
/// `call`), answers each item with [`outcome`], optionally after a delay
/// or after a gate permit per batch, and tracks how many batches it holds
/// at once.
#[derive(Clone)]
pub struct Sink {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Items handed to the sink so far.
    pub items: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
    delay: Duration,
    gate: Option<Arc<Semaphore>>,
}

impl Default for Sink {
    fn default() -> Self {
        Self::new()
    }
}

impl Sink {
    pub fn new() -> Self {
        Self {
            seen: Arc::default(),
            items: Arc::default(),
            in_flight: Arc::default(),
            max_in_flight: Arc::default(),
            delay: Duration::ZERO,
            gate: None,
        }
    }

    /// Each batch takes `delay` to complete.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Each batch completes only after taking a permit of `gate` (the test
    /// adds permits to let batches finish).
    pub fn with_gate(mut self, gate: Arc<Semaphore>) -> Self {
        self.gate = Some(gate);
        self
    }

    pub fn batches(&self) -> Vec<Vec<u32>> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.items.clone())
            .collect()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn sizes(&self) -> Vec<usize> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.items.len())
            .collect()
    }

    pub fn item_count(&self) -> usize {
        self.items.load(Ordering::SeqCst)
    }

    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Service<Vec<u32>> for Sink {
    type Response = Vec<Result<u32, String>>;
    type Error = String;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, String>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), String>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, items: Vec<u32>) -> Self::Future {
        self.items.fetch_add(items.len(), Ordering::SeqCst);
        self.seen.lock().unwrap().push(Seen {
            items: items.clone(),
            at: Instant::now(),
        });
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let (delay, gate, in_flight) = (self.delay, self.gate.clone(), self.in_flight.clone());
        Box::pin(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if let Some(gate) = gate {
                gate.acquire().await.unwrap().forget();
            }
            in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok(items.into_iter().map(outcome).collect())
        })
    }
}
