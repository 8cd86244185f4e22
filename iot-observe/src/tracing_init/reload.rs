//! [`LogHandle`]: the filter of a running subscriber, changed at run time.

use std::fmt;
use std::sync::Arc;

use tracing_subscriber::filter::ParseError;
use tracing_subscriber::{EnvFilter, Registry, reload};

/// The filter of the subscriber [`init`](super::init) (or
/// [`TracingConfig::build_reloadable`](super::TracingConfig::build_reloadable))
/// set up, readable and replaceable while the process runs: raise a
/// module to `debug` to chase a fault, then put it back, without a restart.
///
/// Cheap to clone. Holds the subscriber weakly: once the subscriber is
/// dropped, changes fail with [`LogFilterError::SubscriberGone`].
///
/// ```
/// use iot_observe::tracing_init::TracingConfig;
///
/// let config = TracingConfig::json().filter_env(None::<&str>).default_directive("info");
/// let (subscriber, handle) = config.build_reloadable(std::io::sink).unwrap();
/// tracing::subscriber::with_default(subscriber, || {
///     assert!(!tracing::enabled!(tracing::Level::DEBUG));
///     handle.set_filter("info,my_crate::db=debug").unwrap();
///     assert_eq!(handle.filter().unwrap(), "my_crate::db=debug,info");
///     handle.reset().unwrap(); // back to the directives it started with
///     assert_eq!(handle.filter().unwrap(), "info");
/// });
/// ```
#[derive(Clone)]
pub struct LogHandle {
    handle: reload::Handle<EnvFilter, Registry>,
    initial: Arc<str>,
}

impl fmt::Debug for LogHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogHandle")
            .field("initial", &self.initial)
            .field("filter", &self.filter().ok())
            .finish()
    }
}

impl LogHandle {
    pub(crate) fn new(handle: reload::Handle<EnvFilter, Registry>, initial: String) -> Self {
        Self {
            handle,
            initial: initial.into(),
        }
    }

    /// The directives in effect now (as `EnvFilter` prints them: the
    /// same directives, possibly reordered).
    ///
    /// # Errors
    ///
    /// [`LogFilterError::SubscriberGone`].
    pub fn filter(&self) -> Result<String, LogFilterError> {
        self.handle
            .with_current(ToString::to_string)
            .map_err(|_| LogFilterError::SubscriberGone)
    }

    /// The directives the subscriber started with (from the environment
    /// variable or the default directive).
    pub fn initial_filter(&self) -> &str {
        &self.initial
    }

    /// Replaces the filter with `directives` (`RUST_LOG` syntax, such as
    /// `info,iot_core=debug`); takes effect for the next event.
    ///
    /// # Errors
    ///
    /// [`LogFilterError::Invalid`] (the filter is unchanged) or
    /// [`LogFilterError::SubscriberGone`].
    pub fn set_filter(&self, directives: &str) -> Result<(), LogFilterError> {
        self.apply(Self::parse(directives)?)
    }

    /// `directives` as a filter, or [`LogFilterError::Invalid`].
    pub(crate) fn parse(directives: &str) -> Result<EnvFilter, LogFilterError> {
        EnvFilter::builder()
            .parse(directives)
            .map_err(|source| LogFilterError::Invalid {
                directives: directives.to_owned(),
                source,
            })
    }

    /// Replaces the filter with `filter`.
    pub(crate) fn apply(&self, filter: EnvFilter) -> Result<(), LogFilterError> {
        self.handle
            .reload(filter)
            .map_err(|_| LogFilterError::SubscriberGone)
    }

    /// Restores the [`initial_filter`](Self::initial_filter).
    ///
    /// # Errors
    ///
    /// As [`set_filter`](Self::set_filter).
    pub fn reset(&self) -> Result<(), LogFilterError> {
        let initial = Arc::clone(&self.initial);
        self.set_filter(&initial)
    }
}

/// A filter change failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogFilterError {
    /// The directives do not parse; the filter is unchanged.
    #[error("invalid tracing filter {directives:?}: {source}")]
    Invalid {
        /// The directives that failed to parse.
        directives: String,
        /// The parser's error.
        source: ParseError,
    },
    /// The subscriber the handle belongs to has been dropped.
    #[error("the tracing subscriber is gone")]
    SubscriberGone,
}
