//! Tracing subscriber setup: JSON for production, human output for
//! development, filtering from `RUST_LOG` with a default, an error rather
//! than a panic when a global subscriber is already set, and a
//! [`LogHandle`] that changes the filter while the process runs (the
//! filter sits in tracing-subscriber's `reload` layer).
//!
//! ```
//! use iot_observe::tracing_init::{self, InitError, TracingConfig};
//!
//! // In `main`: JSON unless LOG_FORMAT says otherwise or stdout is a terminal.
//! let log = tracing_init::init(TracingConfig::default().default_directive("info,iot_core=debug"))?;
//! tracing::info!(port = 8080, "listening");
//! // Later, chasing a fault, without a restart (or through the `admin` routes):
//! log.set_filter("info,iot_core=trace").unwrap();
//! assert!(tracing::enabled!(target: "iot_core", tracing::Level::TRACE));
//! log.reset().unwrap();
//! assert!(!tracing::enabled!(target: "iot_core", tracing::Level::TRACE));
//! // Setting up twice is an error, not a panic.
//! assert!(matches!(tracing_init::init_json(), Err(InitError::SubscriberAlreadySet)));
//! # Ok::<(), InitError>(())
//! ```

mod config;
mod error;
mod reload;
mod subscriber;

use tracing_subscriber::util::SubscriberInitExt;

pub use config::{Format, Output, TracingConfig};
pub use error::InitError;
pub use reload::{LogFilterError, LogHandle};
pub use subscriber::BoxSubscriber;

/// Sets the global subscriber described by `config`; returns the
/// [`LogHandle`] that changes its filter while the process runs (keep it,
/// or drop it if the filter never changes).
///
/// # Errors
///
/// [`InitError::SubscriberAlreadySet`] if a global subscriber is set
/// already; [`InitError::InvalidFilter`] or [`InitError::InvalidFormat`]
/// for a bad environment variable or default directive.
pub fn init(config: TracingConfig) -> Result<LogHandle, InitError> {
    let (subscriber, handle) = config.build_for_output()?;
    subscriber
        .try_init()
        .map_err(|_| InitError::SubscriberAlreadySet)?;
    Ok(handle)
}

/// [`init`] with [`TracingConfig::json`]: JSON lines on stdout, `RUST_LOG`
/// or `info`.
///
/// # Errors
///
/// As [`init`].
pub fn init_json() -> Result<LogHandle, InitError> {
    init(TracingConfig::json())
}

/// [`init`] with [`TracingConfig::pretty`]: human output on stdout,
/// `RUST_LOG` or `info`.
///
/// # Errors
///
/// As [`init`].
pub fn init_pretty() -> Result<LogHandle, InitError> {
    init(TracingConfig::pretty())
}
