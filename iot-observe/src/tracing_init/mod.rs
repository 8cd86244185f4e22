//! Tracing subscriber setup: JSON for production, human output for
//! development, filtering from `RUST_LOG` with a default, and an error
//! rather than a panic when a global subscriber is already set.
//!
//! ```
//! use iot_observe::tracing_init::{self, InitError, TracingConfig};
//!
//! // In `main`: JSON unless LOG_FORMAT says otherwise or stdout is a terminal.
//! tracing_init::init(TracingConfig::default().default_directive("info,iot_core=debug"))?;
//! tracing::info!(port = 8080, "listening");
//! // Setting up twice is an error, not a panic.
//! assert!(matches!(tracing_init::init_json(), Err(InitError::SubscriberAlreadySet)));
//! # Ok::<(), InitError>(())
//! ```

mod config;
mod error;
mod subscriber;

use tracing_subscriber::util::SubscriberInitExt;

pub use config::{Format, Output, TracingConfig};
pub use error::InitError;
pub use subscriber::BoxSubscriber;

/// Sets the global subscriber described by `config`.
///
/// # Errors
///
/// [`InitError::SubscriberAlreadySet`] if a global subscriber is set
/// already; [`InitError::InvalidFilter`] or [`InitError::InvalidFormat`]
/// for a bad environment variable or default directive.
pub fn init(config: TracingConfig) -> Result<(), InitError> {
    config
        .build_for_output()?
        .try_init()
        .map_err(|_| InitError::SubscriberAlreadySet)
}

/// [`init`] with [`TracingConfig::json`]: JSON lines on stdout, `RUST_LOG`
/// or `info`.
///
/// # Errors
///
/// As [`init`].
pub fn init_json() -> Result<(), InitError> {
    init(TracingConfig::json())
}

/// [`init`] with [`TracingConfig::pretty`]: human output on stdout,
/// `RUST_LOG` or `info`.
///
/// # Errors
///
/// As [`init`].
pub fn init_pretty() -> Result<(), InitError> {
    init(TracingConfig::pretty())
}
