//! Running one check: at most one copy at a time, timeout, panic isolation,
//! metrics.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::entry::{Entry, Observation, RunSlot, Runner};
use super::{BlockingCheck, CheckResult, HealthCheck, telemetry};

/// How long a timed-out run waits for its aborted task to end.
const ABORT_GRACE: Duration = Duration::from_millis(50);

/// Refreshes `entry`'s cached result, never running two copies of its
/// check at once; never panics.
///
/// If the previous copy is still running (a manual
/// [`refresh`](super::HealthRegistry::refresh) racing the background loop,
/// or a copy that outlived its timeout because it blocks), no new copy
/// starts: within the timeout the refresh waits for that copy's result,
/// past it the check reports `fail` ("still running").
pub(crate) async fn refresh_entry(entry: &Entry) {
    // Subscribed before claiming, so a store between the two is not missed.
    let mut stored = entry.subscribe_stored();
    match entry.claim() {
        Ok(slot) => entry.store(run(entry, slot).await),
        Err(started) => {
            let elapsed = started.elapsed();
            match entry.timeout.checked_sub(elapsed) {
                Some(remaining) if !remaining.is_zero() => {
                    // The copy's owner stores its result (or its timeout).
                    let _ = tokio::time::timeout(remaining, stored.changed()).await;
                }
                _ => entry.store(still_running(entry, elapsed)),
            }
        }
    }
}

/// Runs `entry`'s check once under its timeout and returns what it
/// observed. `slot` travels with the running copy and is released when
/// that copy really ends.
async fn run(entry: &Entry, slot: RunSlot) -> Observation {
    let started = Instant::now();
    let (finished, duration) = match &entry.runner {
        Runner::Async(check) => run_async(check.clone(), slot, entry.timeout, started).await,
        Runner::Blocking(check) => {
            let finished = run_blocking(check.clone(), slot, entry.timeout, &entry.name).await;
            (finished, started.elapsed())
        }
    };
    let result = finished.unwrap_or_else(|| {
        CheckResult::fail(format!("timed out after {}ms", entry.timeout.as_millis()))
    });
    telemetry::record_run(&entry.name, result.status, duration);
    Observation {
        result,
        time: SystemTime::now(),
        duration,
    }
}

/// Runs an async check in its own task: the result (`None` if it timed
/// out) and how long it took until then.
///
/// The task isolates a panic (a `JoinError` instead of unwinding through
/// the refresh), and on a multi-threaded runtime a check that blocks its
/// thread cannot stop the timeout of the others from firing. A timed-out
/// or abandoned run aborts its task; a task that blocks only ends when it
/// next yields, and keeps the slot until then.
async fn run_async(
    check: Arc<dyn HealthCheck>,
    slot: RunSlot,
    timeout: Duration,
    started: Instant,
) -> (Option<CheckResult>, Duration) {
    let mut task = AbortOnDrop(tokio::spawn(async move {
        let _slot = slot;
        check.check().await
    }));
    let result = match tokio::time::timeout(timeout, &mut task.0).await {
        Ok(Ok(result)) => Some(result),
        Ok(Err(error)) if error.is_panic() => Some(panicked(error.into_panic().as_ref())),
        Ok(Err(_cancelled)) => Some(CheckResult::fail("check cancelled (runtime shutting down)")),
        Err(_elapsed) => None,
    };
    let duration = started.elapsed();
    if result.is_none() {
        // An abort takes effect when the runtime next drops the task,
        // which frees the slot: wait for that, so the next refresh does
        // not find a well-behaved check "still running". A task blocking
        // its thread is not waited for beyond the grace.
        task.0.abort();
        let _ = tokio::time::timeout(ABORT_GRACE, &mut task.0).await;
    }
    (result, duration)
}

/// Runs a blocking check on a thread of its own; `None` if it timed out.
///
/// Not `spawn_blocking`: a runtime waits for its blocking-pool tasks when
/// it shuts down, so a check hung in a driver call would keep the process
/// from exiting. A detached thread does not; after a timeout it runs on,
/// holding the slot, and its late result is dropped.
async fn run_blocking(
    check: Arc<dyn BlockingCheck>,
    slot: RunSlot,
    timeout: Duration,
    name: &str,
) -> Option<CheckResult> {
    let (send, receive) = oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name(format!("health-check {name}"))
        .spawn(move || {
            let _slot = slot;
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| check.check()))
                .unwrap_or_else(|payload| panicked(payload.as_ref()));
            // Gone after a timeout: nobody waits for a late result.
            let _ = send.send(result);
        });
    if let Err(error) = spawned {
        return Some(CheckResult::fail(format!(
            "could not start the check's thread: {error}"
        )));
    }
    match tokio::time::timeout(timeout, receive).await {
        Ok(Ok(result)) => Some(result),
        // The thread catches panics, so it always sends; but if it ever
        // does not, the check must still fail rather than pass.
        Ok(Err(_closed)) => Some(CheckResult::fail("check thread ended without a result")),
        Err(_elapsed) => None,
    }
}

/// The failure reported while the previous copy is still running past its
/// timeout: no new copy is started, and the output says why.
fn still_running(entry: &Entry, elapsed: Duration) -> Observation {
    Observation {
        result: CheckResult::fail(format!(
            "still running {}ms after it started, past its {}ms timeout: no new run starts until it returns",
            elapsed.as_millis(),
            entry.timeout.as_millis()
        )),
        time: SystemTime::now(),
        duration: elapsed,
    }
}

/// Aborts the check's task when the run ends early: on a timeout, or when
/// the refresh itself is dropped (a plain `JoinHandle` would detach it).
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A `fail` result for a panic.
pub(crate) fn panicked(payload: &(dyn Any + Send)) -> CheckResult {
    CheckResult::fail(format!("check panicked: {}", panic_message(payload)))
}

/// The text of a panic payload (`panic!` with a literal or a format).
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(text) = payload.downcast_ref::<&'static str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "non-string panic payload"
    }
}
