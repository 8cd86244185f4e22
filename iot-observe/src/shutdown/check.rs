//! The draining readiness check.

use async_trait::async_trait;

use super::{Shutdown, ShutdownPhase};
use crate::health::{CheckResult, HealthCheck};

/// Passes while running, fails once triggered. Register it in the
/// readiness group only (as [`Shutdown::CHECK_NAME`]): liveness must keep
/// passing during the drain. Instant, so readiness flips on the very next
/// probe.
#[async_trait]
impl HealthCheck for Shutdown {
    async fn check(&self) -> CheckResult {
        match self.phase() {
            ShutdownPhase::Running => CheckResult::pass(),
            ShutdownPhase::Draining => CheckResult::fail("draining: shutdown in progress"),
            ShutdownPhase::Drained => CheckResult::fail("drained: shutting down"),
        }
        .with_component_type("system")
    }

    fn is_instant(&self) -> bool {
        true
    }
}
