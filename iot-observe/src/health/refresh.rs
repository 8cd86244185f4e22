//! The background refresh task.

use std::sync::{Arc, PoisonError, Weak};

use futures_util::future::join_all;
use tokio::task::AbortHandle;
use tokio::time::MissedTickBehavior;

use super::registry::Inner;
use super::run::refresh_entry;
use super::telemetry::describe_metrics;

/// Runs every check concurrently (never two copies of one) and caches each
/// result as it completes.
pub(crate) async fn refresh_all(inner: &Inner) {
    describe_metrics();
    join_all(inner.entries.iter().map(refresh_entry)).await;
}

/// Starts the refresh loop unless one is running.
pub(crate) fn start(inner: &Arc<Inner>) -> RefreshHandle {
    let mut slot = inner
        .refresher
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(abort) = slot.as_ref().filter(|abort| !abort.is_finished()) {
        return RefreshHandle {
            abort: abort.clone(),
        };
    }
    let task = tokio::spawn(refresh_loop(Arc::downgrade(inner)));
    let abort = task.abort_handle();
    *slot = Some(abort.clone());
    RefreshHandle { abort }
}

/// Holds only a weak reference between runs, so dropping every registry
/// clone ends the loop instead of leaking it.
async fn refresh_loop(registry: Weak<Inner>) {
    let Some(period) = registry.upgrade().map(|inner| inner.config.interval) else {
        return;
    };
    let mut ticker = tokio::time::interval(period);
    // A refresh slower than the interval delays the next one rather than
    // firing a burst to catch up: the point is to bound load on dependencies.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(inner) = registry.upgrade() else {
            return;
        };
        refresh_all(&inner).await;
    }
}

/// Controls the background refresh task of a
/// [`HealthRegistry`](super::HealthRegistry).
///
/// Dropping the handle leaves the task running; it also ends when the
/// registry is dropped.
#[derive(Debug, Clone)]
pub struct RefreshHandle {
    abort: AbortHandle,
}

impl RefreshHandle {
    /// Stops the task; the check runs of a refresh in progress are aborted.
    pub fn stop(&self) {
        self.abort.abort();
    }

    /// Whether the task has ended.
    pub fn is_finished(&self) -> bool {
        self.abort.is_finished()
    }
}
