//! A registered check and its cached latest observation.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use futures_util::FutureExt;

use super::run::panic_message;
use super::{CheckOptions, CheckResult, HealthCheck, Status};

/// The result of one run and when it completed.
#[derive(Debug, Clone)]
pub(crate) struct Observation {
    pub(crate) result: CheckResult,
    pub(crate) time: SystemTime,
    pub(crate) duration: Duration,
}

/// A check as registered, with its cache slot.
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) check: Arc<dyn HealthCheck>,
    pub(crate) options: CheckOptions,
    pub(crate) timeout: Duration,
    /// Read once at registration: the trait method is not expected to change.
    pub(crate) instant: bool,
    last: Mutex<Option<Observation>>,
}

impl Entry {
    pub(crate) fn new(
        name: String,
        check: Arc<dyn HealthCheck>,
        options: CheckOptions,
        timeout: Duration,
    ) -> Self {
        let instant = check.is_instant();
        Self {
            name,
            check,
            options,
            timeout,
            instant,
            last: Mutex::new(None),
        }
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
        let result = match std::panic::catch_unwind(AssertUnwindSafe(|| {
            self.check.check().now_or_never()
        })) {
            Ok(Some(result)) => result,
            Ok(None) => return None,
            Err(payload) => CheckResult::fail(format!(
                "check panicked: {}",
                panic_message(payload.as_ref())
            )),
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
    }
}
