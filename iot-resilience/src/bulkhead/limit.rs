//! The shared concurrency limit: a lock-free counter of permits, plus a
//! `Notify` that wakes waiters when a permit is released.
//!
//! Taking and releasing a permit is a compare-exchange and a subtraction;
//! the `Notify` is touched only when someone waits. Waiters are not queued
//! in order: a woken waiter competes with new callers for the permit (and
//! waits again if it loses, within its `max_wait`).

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use super::config::BulkheadConfig;
use super::metrics::BulkheadMetrics;
use crate::ConfigError;
use crate::clock::nanos;

#[derive(Debug)]
pub(crate) struct Limit {
    in_flight: AtomicUsize,
    /// Services currently waiting in `poll_ready`.
    waiters: AtomicUsize,
    /// The limit in effect (changed by `update`).
    max: AtomicUsize,
    /// `max_wait` in effect, in nanoseconds.
    max_wait: AtomicU64,
    /// The settings in effect, for `config()`; also serialises updates.
    config: Mutex<BulkheadConfig>,
    pub(crate) notify: Arc<Notify>,
    pub(crate) name: Cow<'static, str>,
    pub(crate) metrics: BulkheadMetrics,
}

impl Limit {
    /// `config` must be valid.
    pub(crate) fn new(config: BulkheadConfig) -> Self {
        let name = config.name.clone();
        Self {
            in_flight: AtomicUsize::new(0),
            waiters: AtomicUsize::new(0),
            max: AtomicUsize::new(config.max_concurrent),
            max_wait: AtomicU64::new(nanos(config.max_wait)),
            config: Mutex::new(config),
            notify: Arc::new(Notify::new()),
            metrics: BulkheadMetrics::new(&name),
            name,
        }
    }

    pub(crate) fn max(&self) -> usize {
        self.max.load(Ordering::Relaxed)
    }

    pub(crate) fn max_wait(&self) -> Duration {
        Duration::from_nanos(self.max_wait.load(Ordering::Relaxed))
    }

    pub(crate) fn config(&self) -> BulkheadConfig {
        self.config
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Applies new settings. Permits held stay held: a raised limit admits
    /// more at once (waiters are woken to take them), a lowered one admits
    /// nobody until the calls in flight fall under it.
    pub(crate) fn update(&self, config: BulkheadConfig) -> Result<(), ConfigError> {
        config.validate()?;
        let mut current = self.config.lock().unwrap_or_else(PoisonError::into_inner);
        crate::config::check_name_unchanged("bulkhead", &current.name, &config.name)?;
        self.max_wait
            .store(nanos(config.max_wait), Ordering::Relaxed);
        // SeqCst pairs with `try_acquire`: a waiter registered before the
        // notification below is woken, one registering after it sees the
        // new limit when it tries again.
        let old = self.max.swap(config.max_concurrent, Ordering::SeqCst);
        *current = config;
        drop(current);
        if self.max() > old {
            self.notify.notify_waiters();
        }
        Ok(())
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub(crate) fn try_acquire(self: &Arc<Self>) -> Option<Permit> {
        // SeqCst pairs with `release`: either this load sees the released
        // slot, or the releaser sees this waiter's count and notifies.
        let mut current = self.in_flight.load(Ordering::SeqCst);
        loop {
            if current >= self.max.load(Ordering::SeqCst) {
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
