//! What the handles and the worker of one batch service share: the
//! pending-item bound, the count of pending items and the error that
//! stopped the worker.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Semaphore;

use super::error::BatchError;
use super::metrics::BatchMetrics;

pub(crate) struct Shared<E> {
    pub(crate) name: Cow<'static, str>,
    pub(crate) metrics: BatchMetrics,
    /// `max_pending` permits. A ready handle holds one; `call` forgets it
    /// (one item pending) and the worker adds the permits of a batch back
    /// when it hands the batch to the inner service. Closed when the worker
    /// stops, which wakes every waiting handle.
    pub(crate) semaphore: Arc<Semaphore>,
    /// Items accepted by `call` and not yet handed to the inner service
    /// (nor failed).
    pending: AtomicUsize,
    /// Set, before the semaphore is closed, when the inner service's
    /// `poll_ready` failed.
    failed: Mutex<Option<Arc<E>>>,
}

impl<E> Shared<E> {
    pub(crate) fn new(name: Cow<'static, str>, metrics: BatchMetrics, max_pending: usize) -> Self {
        Self {
            name,
            metrics,
            semaphore: Arc::new(Semaphore::new(max_pending)),
            pending: AtomicUsize::new(0),
            failed: Mutex::new(None),
        }
    }

    pub(crate) fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// `call` queued one item (its permit already forgotten).
    #[inline]
    pub(crate) fn enqueued(&self) {
        self.pending.fetch_add(1, Ordering::Relaxed);
        self.metrics.pending_moved(1.0);
    }

    /// `items` left the pending set; `dispatched` ones return their
    /// permits, failed ones do not (the semaphore is closed).
    pub(crate) fn left(&self, items: usize, dispatched: bool) {
        if items == 0 {
            return;
        }
        self.pending.fetch_sub(items, Ordering::Relaxed);
        self.metrics.pending_moved(-(items as f64));
        if dispatched {
            self.semaphore.add_permits(items);
        }
    }

    /// Records the inner service's readiness error and stops admitting.
    pub(crate) fn fail(&self, error: Arc<E>) {
        *self.failed.lock().unwrap_or_else(PoisonError::into_inner) = Some(error);
        self.close();
    }

    /// Stops admitting: waiting and later `poll_ready` calls see the
    /// worker gone.
    pub(crate) fn close(&self) {
        self.semaphore.close();
    }

    /// The error for a caller that finds the worker stopped.
    pub(crate) fn stopped<I>(&self) -> BatchError<E, I> {
        match &*self.failed.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(error) => BatchError::Failed(Arc::clone(error)),
            None => BatchError::Closed,
        }
    }
}
