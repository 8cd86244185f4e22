//! A check from a closure returning a future.

use std::fmt;
use std::future::Future;

use async_trait::async_trait;

use crate::health::{CheckResult, HealthCheck};

/// A check that calls a closure returning a future; see [`check_fn`].
#[derive(Clone)]
pub struct FnCheck<F> {
    f: F,
    instant: bool,
}

impl<F> fmt::Debug for FnCheck<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnCheck")
            .field("instant", &self.instant)
            .finish_non_exhaustive()
    }
}

/// A check from a closure returning a future of anything convertible into a
/// [`CheckResult`] (a `CheckResult` or a [`Status`](crate::health::Status)).
///
/// ```
/// use iot_observe::health::{CheckResult, HealthCheck, Status, check_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let disk = check_fn(|| async {
///     let free_percent = 42.0; // measure here
///     CheckResult::pass().with_observed(free_percent, "%")
/// });
/// assert_eq!(disk.check().await.status, Status::Pass);
///
/// // A closure that only reads memory can be marked instant.
/// let flag = check_fn(|| async { Status::Pass }).instant();
/// assert!(flag.is_instant());
/// # }
/// ```
pub fn check_fn<F, Fut>(f: F) -> FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future + Send,
    Fut::Output: Into<CheckResult>,
{
    FnCheck { f, instant: false }
}

impl<F> FnCheck<F> {
    /// Declares the closure instant (see [`HealthCheck::is_instant`]): it
    /// only reads in-process state and never waits, so it runs on every
    /// request.
    pub fn instant(mut self) -> Self {
        self.instant = true;
        self
    }
}

#[async_trait]
impl<F, Fut> HealthCheck for FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future + Send,
    Fut::Output: Into<CheckResult>,
{
    async fn check(&self) -> CheckResult {
        (self.f)().await.into()
    }

    fn is_instant(&self) -> bool {
        self.instant
    }
}
