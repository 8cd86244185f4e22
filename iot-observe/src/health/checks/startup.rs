//! A "startup finished" flag.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;

use crate::health::{CheckResult, HealthCheck};

/// A cloneable flag that fails until [`mark_done`](Self::mark_done) is
/// called, then passes for good. Register it in the startup group (and in
/// readiness, so no traffic arrives before initialisation ends).
///
/// Instant (see [`HealthCheck::is_instant`]): the probe sees `mark_done` at
/// once, not after the next refresh.
///
/// ```
/// use iot_observe::health::{HealthCheck, StartupFlag, Status};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let flag = StartupFlag::new();
/// let setter = flag.clone(); // hand this one to the initialisation code
/// assert_eq!(flag.check().await.status, Status::Fail);
/// setter.mark_done();
/// assert_eq!(flag.check().await.status, Status::Pass);
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct StartupFlag {
    done: Arc<AtomicBool>,
}

impl StartupFlag {
    /// A flag that is not done yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks startup as finished (idempotent).
    pub fn mark_done(&self) {
        self.done.store(true, Ordering::Release);
    }

    /// Whether startup has finished.
    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }
}

#[async_trait]
impl HealthCheck for StartupFlag {
    async fn check(&self) -> CheckResult {
        if self.is_done() {
            CheckResult::pass()
        } else {
            CheckResult::fail("startup in progress")
        }
    }

    fn is_instant(&self) -> bool {
        true
    }
}
