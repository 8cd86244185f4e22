//! Checks that block their thread.

use super::CheckResult;

/// A health check that blocks its thread: a synchronous database driver, a
/// `std::net` or file-system call, anything that does not `await`.
///
/// Register it with
/// [`HealthRegistryBuilder::blocking_check`](super::HealthRegistryBuilder::blocking_check):
/// each run then happens on a thread of its own, never on a tokio worker,
/// so a check stuck in a driver call cannot starve the runtime that serves
/// the application. A timeout cannot stop blocking code, so a run that
/// outlives its timeout keeps its thread until it returns; meanwhile the
/// check reports `fail` and **no second copy is started**, so a hung
/// dependency costs one thread per check, never one per interval.
///
/// Implemented for closures returning anything convertible into a
/// [`CheckResult`] (a `CheckResult` or a [`Status`](super::Status)).
///
/// ```
/// use std::time::Duration;
/// use iot_observe::health::{CheckOptions, CheckResult, Group, HealthRegistry, Status};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // A stand-in for a blocking driver call such as `client.query("SELECT 1")`.
/// fn ping_database() -> Result<(), String> {
///     std::thread::sleep(Duration::from_millis(5));
///     Ok(())
/// }
///
/// let registry = HealthRegistry::builder()
///     .blocking_check(
///         "db:ping",
///         || match ping_database() {
///             Ok(()) => CheckResult::pass(),
///             Err(error) => CheckResult::fail(error),
///         },
///         CheckOptions::readiness().timeout(Duration::from_secs(2)),
///     )
///     .build()
///     .unwrap();
/// registry.refresh().await;
/// assert_eq!(registry.report(Group::Readiness).status, Status::Pass);
/// # }
/// ```
pub trait BlockingCheck: Send + Sync + 'static {
    /// Runs the check once, on a thread of its own; may block.
    fn check(&self) -> CheckResult;
}

impl<F, R> BlockingCheck for F
where
    F: Fn() -> R + Send + Sync + 'static,
    R: Into<CheckResult>,
{
    fn check(&self) -> CheckResult {
        self().into()
    }
}
