//! A registered check, its cached latest observation and its run slot.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use futures_util::FutureExt;
use tokio::sync::watch;
use tokio::time::Instant;

use super::run::panicked;
use super::{BlockingCheck, CheckOptions, CheckResult, HealthCheck, Status};

/// The result of one run and when it completed.
#[derive(Debug, Clone)]
pub(crate) struct Observation {
    pub(crate) result: CheckResult,
    pub(crate) time: SystemTime,
    pub(crate) duration: Duration,
}

/// How a check runs.
pub(crate) enum Runner {
    /// An async check, run as a task on the caller's runtime.
    Async(Arc<dyn HealthCheck>),
    /// A check that blocks, run on a thread of its own.
    Blocking(Arc<dyn BlockingCheck>),
}

/// A check as registered, with its cache slot.
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) runner: Runner,
    pub(crate) options: CheckOptions,
    pub(crate) timeout: Duration,
    /// Read once at registration: the trait method is not expected to change.
    instant: bool,
    last: Mutex<Option<Observation>>,
    /// When the copy in flight started, `None` when none is. Shared with
    /// that copy's [`RunSlot`], which clears it when the copy really ends:
    /// an aborted task that blocks, or a blocking check's thread, ends
    /// later than its timeout, and until then no second copy may start.
    in_flight: Arc<Mutex<Option<Instant>>>,
    /// Bumped on every [`store`](Self::store), so a refresh that finds a
    /// run in flight can wait for that run's result instead of starting
    /// another.
    stored: watch::Sender<u64>,
}

/// The right to run a check: at most one exists per entry. Held by the
/// running copy itself (moved into its task or thread), so it is released
/// when the copy ends, not when the refresh stops waiting for it.
pub(crate) struct RunSlot(Arc<Mutex<Option<Instant>>>);

impl Drop for RunSlot {
    fn drop(&mut self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

impl Entry {
    pub(crate) fn new(
        name: String,
        runner: Runner,
        options: CheckOptions,
        timeout: Duration,
    ) -> Self {
        let instant = match &runner {
            Runner::Async(check) => check.is_instant(),
            // Blocking code never runs on a request's thread.
            Runner::Blocking(_) => false,
        };
        Self {
            name,
            runner,
            options,
            timeout,
            instant,
            last: Mutex::new(None),
            in_flight: Arc::new(Mutex::new(None)),
            stored: watch::Sender::new(0),
        }
    }

    /// Claims the run slot, or tells when the copy holding it started.
    pub(crate) fn claim(&self) -> Result<RunSlot, Instant> {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match *in_flight {
            Some(started) => Err(started),
            None => {
                *in_flight = Some(Instant::now());
                Ok(RunSlot(self.in_flight.clone()))
            }
        }
    }

    /// Notified on every [`store`](Self::store) from now on.
    pub(crate) fn subscribe_stored(&self) -> watch::Receiver<u64> {
        self.stored.subscribe()
    }

    /// The latest completed run, if any.
    pub(crate) fn cached(&self) -> Option<Observation> {
        // A panic never happens while the lock is held, but a poisoned lock
        // must not take the endpoint down either.
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// What a request should see: an instant check evaluated now, otherwise
    /// the cache. Never waits.
    pub(crate) fn current(&self) -> Option<Observation> {
        if self.instant {
            if let Some(observation) = self.evaluate_now() {
                return Some(observation);
            }
        }
        self.cached()
    }

    /// Polls an instant check once; `None` if it did not complete.
    fn evaluate_now(&self) -> Option<Observation> {
        let Runner::Async(check) = &self.runner else {
            return None;
        };
        let result =
            match std::panic::catch_unwind(AssertUnwindSafe(|| check.check().now_or_never())) {
                Ok(Some(result)) => result,
                Ok(None) => return None,
                Err(payload) => panicked(payload.as_ref()),
            };
        Some(Observation {
            result,
            time: SystemTime::now(),
            duration: Duration::ZERO,
        })
    }

    /// Caches `observation`, logging when the status changes so logs show
    /// transitions, not every run.
    pub(crate) fn store(&self, observation: Observation) {
        let mut slot = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let previous = slot.as_ref().map(|o| o.result.status);
        let status = observation.result.status;
        let output = observation.result.output.as_deref().unwrap_or("");
        if previous != Some(status) {
            let from = previous.map_or("none", Status::as_str);
            if status == Status::Pass {
                tracing::info!(check = %self.name, %from, to = %status, "health check status changed");
            } else {
                tracing::warn!(check = %self.name, %from, to = %status, output, "health check status changed");
            }
        }
        *slot = Some(observation);
        drop(slot);
        self.stored
            .send_modify(|count| *count = count.wrapping_add(1));
    }
}
