//! The shared concurrency limit: a lock-free counter of permits, plus a
//! `Notify` that wakes waiters when a permit is released.
//!
//! Taking and releasing a permit is a compare-exchange and a subtraction;
//! the `Notify` is touched only when someone waits. Waiters are not queued
//! in order: a woken waiter competes with new callers for the permit (and
//! waits again if it loses, within its `max_wait`).

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

use super::metrics::BulkheadMetrics;

#[derive(Debug)]
pub(crate) struct Limit {
    in_flight: AtomicUsize,
    /// Services currently waiting in `poll_ready`.
    waiters: AtomicUsize,
    max: usize,
    pub(crate) notify: Arc<Notify>,
    pub(crate) name: Cow<'static, str>,
    pub(crate) metrics: BulkheadMetrics,
}

impl Limit {
    pub(crate) fn new(max: usize, name: Cow<'static, str>) -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            waiters: AtomicUsize::new(0),
            max,
            notify: Arc::new(Notify::new()),
            metrics: BulkheadMetrics::new(&name),
            name,
        }
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub(crate) fn try_acquire(self: &Arc<Self>) -> Option<Permit> {
        // SeqCst pairs with `release`: either this load sees the released
        // slot, or the releaser sees this waiter's count and notifies.
        let mut current = self.in_flight.load(Ordering::SeqCst);
        loop {
            if current >= self.max {
                return None;
            }
            match self.in_flight.compare_exchange_weak(
                current,
                current + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => {
                    self.metrics.acquired();
                    return Some(Permit(Arc::clone(self)));
                }
                Err(actual) => current = actual,
            }
        }
    }

    fn release(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.metrics.released();
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.notify.notify_one();
        }
    }
}

/// One slot of the bulkhead; released on drop.
#[derive(Debug)]
pub(crate) struct Permit(Arc<Limit>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// Counts a waiting service while it exists.
#[derive(Debug)]
pub(crate) struct WaitGuard(Arc<Limit>);

impl WaitGuard {
    pub(crate) fn new(limit: &Arc<Limit>) -> Self {
        limit.waiters.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(limit))
    }
}

impl Drop for WaitGuard {
    fn drop(&mut self) {
        self.0.waiters.fetch_sub(1, Ordering::SeqCst);
    }
}
