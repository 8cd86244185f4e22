//! A check over an iot-resilience circuit breaker.

use async_trait::async_trait;
use iot_resilience::circuit_breaker::{CircuitBreakerHandle, State};

use crate::health::{CheckResult, HealthCheck, Status};

/// Reports a circuit breaker's state: closed, disabled and metrics-only
/// pass; half-open warns (recovery is being probed); open and forced-open
/// report [`open_status`](Self::open_status) (fail by default). Reports
/// the failure rate in percent when the breaker has one.
///
/// An open breaker moves to half-open only when a call arrives, so without
/// traffic it keeps reading open (see
/// [`CircuitBreakerHandle::state`]).
///
/// Instant (see [`HealthCheck::is_instant`]): it only reads the handle.
///
/// ```
/// use iot_observe::health::{CircuitBreakerCheck, HealthCheck, Status};
/// use iot_resilience::circuit_breaker::{CircuitBreakerConfig, CircuitBreakerHandle};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let breaker = CircuitBreakerHandle::new(CircuitBreakerConfig::default()).unwrap();
/// let check = CircuitBreakerCheck::new(breaker.clone()).open_status(Status::Warn);
/// assert_eq!(check.check().await.status, Status::Pass);
/// breaker.force_open();
/// assert_eq!(check.check().await.status, Status::Warn);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CircuitBreakerCheck {
    handle: CircuitBreakerHandle,
    open_status: Status,
}

impl CircuitBreakerCheck {
    /// A check over `handle`; an open breaker fails.
    pub fn new(handle: CircuitBreakerHandle) -> Self {
        Self {
            handle,
            open_status: Status::Fail,
        }
    }

    /// The status reported while the breaker is open or forced open: fail
    /// when the protected dependency is essential, warn when the service
    /// can run degraded without it.
    pub fn open_status(mut self, status: Status) -> Self {
        self.open_status = status;
        self
    }
}

#[async_trait]
impl HealthCheck for CircuitBreakerCheck {
    async fn check(&self) -> CheckResult {
        let stats = self.handle.stats();
        let status = match stats.state {
            State::Closed | State::Disabled | State::MetricsOnly => Status::Pass,
            State::HalfOpen => Status::Warn,
            State::Open | State::ForcedOpen => self.open_status,
        };
        let mut result = CheckResult::new(status)
            .with_component_id(self.handle.name())
            .with_component_type("component");
        if status != Status::Pass {
            result = result.with_output(format!("circuit breaker {}", stats.state));
        }
        if let Some(rate) = stats.failure_rate {
            result = result.with_observed(f64::from(rate), "%");
        }
        result
    }

    fn is_instant(&self) -> bool {
        true
    }
}
