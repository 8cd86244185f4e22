//! Running one check: timeout, panic isolation, metrics.

use std::any::Any;
use std::time::SystemTime;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::entry::{Entry, Observation};
use super::{CheckResult, telemetry};

/// Runs `entry`'s check once and returns what it observed; never panics.
///
/// The check runs in its own task: a panic surfaces as a `JoinError`
/// instead of unwinding through the refresh, and on a multi-threaded
/// runtime a check that blocks its thread cannot stop the timeout of the
/// others from firing. A timed-out or abandoned run aborts its task, never leaves it running.
pub(crate) async fn run(entry: &Entry) -> Observation {
    let started = Instant::now();
    let check = entry.check.clone();
    let mut task = AbortOnDrop(tokio::spawn(async move { check.check().await }));
    let result = match tokio::time::timeout(entry.timeout, &mut task.0).await {
        Ok(Ok(result)) => result,
        Ok(Err(error)) if error.is_panic() => {
            let payload = error.into_panic();
            CheckResult::fail(format!(
                "check panicked: {}",
                panic_message(payload.as_ref())
            ))
        }
        Ok(Err(_cancelled)) => CheckResult::fail("check cancelled (runtime shutting down)"),
        // Dropping `task` aborts the check.
        Err(_elapsed) => {
            CheckResult::fail(format!("timed out after {}ms", entry.timeout.as_millis()))
        }
    };
    let duration = started.elapsed();
    telemetry::record_run(&entry.name, result.status, duration);
    Observation {
        result,
        time: SystemTime::now(),
        duration,
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

/// The text of a panic payload (`panic!` with a literal or a format).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(text) = payload.downcast_ref::<&'static str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "non-string panic payload"
    }
}
