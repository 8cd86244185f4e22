//! The check trait.

use std::sync::Arc;

use async_trait::async_trait;

use super::CheckResult;

/// One health check: probes a component and reports a [`CheckResult`].
///
/// Object-safe (through [`async_trait`](macro@async_trait)), so a registry
/// holds `Arc<dyn HealthCheck>`. The registry adds the timeout and turns a
/// panic into a failure, so implementations need neither.
///
/// `check` runs as a task on the application's runtime and **must not
/// block** its thread: for a blocking driver implement
/// [`BlockingCheck`](super::BlockingCheck) instead, or wrap the call in
/// `tokio::task::spawn_blocking`. The registry never runs two copies of a
/// check at once, so one that blocks by mistake holds at most one worker.
///
/// ```
/// use iot_observe::health::{CheckResult, HealthCheck, async_trait};
///
/// struct QueueDepth(std::sync::atomic::AtomicUsize);
///
/// #[async_trait]
/// impl HealthCheck for QueueDepth {
///     async fn check(&self) -> CheckResult {
///         let depth = self.0.load(std::sync::atomic::Ordering::Relaxed);
///         let result = if depth < 1000 {
///             CheckResult::pass()
///         } else {
///             CheckResult::warn("queue backing up")
///         };
///         result.with_observed_value(depth)
///     }
///
///     // Only reads an atomic: safe to run on every probe request.
///     fn is_instant(&self) -> bool {
///         true
///     }
/// }
/// ```
#[async_trait]
pub trait HealthCheck: Send + Sync + 'static {
    /// Runs the check once.
    async fn check(&self) -> CheckResult;

    /// Whether the check only reads in-process state (a flag, a channel, an
    /// atomic) and completes without ever waiting.
    ///
    /// The registry runs such checks again on every request instead of
    /// serving their cached result, so a change (startup done, shutdown
    /// begun) shows at once. A check that claims this but returns
    /// `Pending` is served from the cache. Default: `false`.
    fn is_instant(&self) -> bool {
        false
    }
}

#[async_trait]
impl<T: HealthCheck + ?Sized> HealthCheck for Arc<T> {
    async fn check(&self) -> CheckResult {
        (**self).check().await
    }

    fn is_instant(&self) -> bool {
        (**self).is_instant()
    }
}

#[async_trait]
impl<T: HealthCheck + ?Sized> HealthCheck for Box<T> {
    async fn check(&self) -> CheckResult {
        (**self).check().await
    }

    fn is_instant(&self) -> bool {
        (**self).is_instant()
    }
}
