//! Health checks with liveness, readiness and startup semantics.
//!
//! A [`HealthRegistry`] holds named checks (`"component:measurement"`),
//! each in one or more [`Group`]s, critical or not, with its own timeout.
//! A background task ([`HealthRegistry::start`]) runs every check at a
//! fixed interval and caches the results; probes read the cache, so a storm
//! of probe requests never reaches a dependency and a probe never waits
//! for a slow check. Checks that only read in-process state
//! ([`HealthCheck::is_instant`]: flags, watch channels, circuit breakers)
//! are evaluated on every request instead, so their changes show at once.
//!
//! # Semantics
//!
//! * A run slower than its timeout reports `fail` with the output
//!   `"timed out after {N}ms"` and is aborted. A panicking check reports
//!   `fail` with `"check panicked: {message}"`; nothing else is affected.
//! * **At most one copy of a check runs at a time.** Aborting cannot stop
//!   code that blocks its thread, so a run may outlive its timeout; until
//!   it returns, refreshes start no new copy and the check reports `fail`
//!   with `"still running {N}ms after it started, past its {T}ms timeout:
//!   ..."`. A hung dependency therefore holds one thread per check, never
//!   one more per interval.
//! * **Checks that block** (a synchronous database driver, file or
//!   `std::net` I/O) are registered with
//!   [`HealthRegistryBuilder::blocking_check`] (see [`BlockingCheck`]) and
//!   run on a thread of their own, never on a runtime worker. An async
//!   [`HealthCheck`] runs as a task on the runtime that refreshes the
//!   registry and must not block; one that does anyway holds at most one
//!   worker at a time, by the rule above.
//! * Before its first run a check reports `fail` with a `"pending: ..."`
//!   output (see [`HealthRegistry`]).
//! * Aggregation: `fail > warn > pass`, where a failing *non-critical*
//!   check counts as `warn`. HTTP 200 for pass and warn, 503 for fail.
//!   A group without checks passes.
//! * Bodies follow draft-inadarei-api-health-check (see
//!   [`HealthReport::to_json`]): `checks` keyed by name, one entry each,
//!   carrying the check's own status.
//!
//! # Metrics
//!
//! Every background run records, through the `metrics` facade:
//!
//! | name | type | labels | meaning |
//! | --- | --- | --- | --- |
//! | `health_check_duration_seconds` | histogram | `check` | run duration, including timeouts and panics |
//! | `health_check_status` | gauge | `check`, `status` | 1 for the latest status, 0 for the other two |
//! | `health_check_runs_total` | counter | `check`, `status` | runs by resulting status |
//!
//! A refresh that finds the previous run still going starts none and
//! records nothing (the status gauge already shows that run's timeout).
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use iot_observe::health::{
//!     CheckOptions, CheckResult, ConnectionReporter, Group, HealthRegistry, Status, check_fn,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let mqtt = ConnectionReporter::new(); // the transport reports into this
//! let registry = HealthRegistry::builder()
//!     .check(
//!         "mqtt:connection",
//!         mqtt.check().grace_period(Duration::from_secs(30)),
//!         CheckOptions::readiness(),
//!     )
//!     .check(
//!         "cache:connect",
//!         check_fn(|| async { CheckResult::fail("connect to cache:6379: refused") }),
//!         CheckOptions::readiness().critical(false).timeout(Duration::from_secs(1)),
//!     )
//!     .check(
//!         "worker:loop",
//!         check_fn(|| async { CheckResult::pass() }),
//!         CheckOptions::liveness(),
//!     )
//!     .build()
//!     .unwrap();
//! registry.refresh().await;
//!
//! mqtt.connected();
//! // Readiness only warns: the failing cache check is not critical.
//! assert_eq!(registry.report(Group::Readiness).status, Status::Warn);
//! assert_eq!(registry.report(Group::Liveness).status, Status::Pass);
//! # }
//! ```

mod blocking;
mod body;
mod check;
mod checks;
mod config;
mod entry;
mod error;
mod group;
mod refresh;
mod registry;
mod report;
mod result;
mod run;
mod status;
mod telemetry;
mod time;

/// Re-exported so check implementations need no direct dependency.
pub use async_trait::async_trait;
pub use blocking::BlockingCheck;
pub use check::HealthCheck;
#[cfg(feature = "resilience")]
pub use checks::CircuitBreakerCheck;
#[cfg(feature = "mqtt")]
pub use checks::MqttConnection;
#[cfg(feature = "tcp")]
#[cfg_attr(docsrs, doc(cfg(feature = "tcp")))]
pub use checks::TcpCheck;
pub use checks::{
    ConnectionReporter, ConnectionSource, ConnectionState, ConnectionStateCheck, FnCheck,
    StartupFlag, check_fn,
};
pub use config::{Detail, HealthConfig};
pub use error::RegistryError;
pub use group::{CheckOptions, Group};
pub use refresh::RefreshHandle;
pub use registry::{HealthRegistry, HealthRegistryBuilder};
pub use report::{CheckReport, HealthReport};
pub use result::CheckResult;
pub use status::Status;
pub use telemetry::{
    HEALTH_CHECK_DURATION_SECONDS, HEALTH_CHECK_RUNS_TOTAL, HEALTH_CHECK_STATUS, describe_metrics,
};
