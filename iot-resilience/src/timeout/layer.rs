//! The layer applying [`Timeout`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use super::config::TimeoutConfig;
use super::metrics::Shared;
use super::per_request::DefaultTimeout;
use super::service::Timeout;
use crate::{ConfigError, Validated};

/// Applies [`Timeout`] to services. Every service made by one layer (and
/// every clone of the layer and of those services) shares one setting,
/// changed at run time through [`handle`](Self::handle).
pub struct TimeoutLayer<T = DefaultTimeout> {
    per_request: T,
    shared: Arc<Shared>,
}

impl TimeoutLayer {
    /// A layer for `config`; fails if it is invalid. Prefer
    /// [`from_validated`](Self::from_validated), which cannot fail.
    pub fn new(config: TimeoutConfig) -> Result<Self, ConfigError> {
        config.build().map(Self::from_validated)
    }

    /// A layer for a configuration validated by
    /// [`TimeoutConfig::build`]; cannot fail.
    pub fn from_validated(config: Validated<TimeoutConfig>) -> Self {
        crate::TokioClock::warm_up();
        Self {
            per_request: DefaultTimeout,
            shared: Arc::new(Shared::new(config.into_inner())),
        }
    }
}

impl From<Validated<TimeoutConfig>> for TimeoutLayer {
    fn from(config: Validated<TimeoutConfig>) -> Self {
        Self::from_validated(config)
    }
}

impl<T> TimeoutLayer<T> {
    /// Chooses the timeout per request: any `Fn(&Req) -> Option<Duration>`
    /// (`None` keeps the configured timeout).
    pub fn with_per_request<T2>(self, per_request: T2) -> TimeoutLayer<T2> {
        TimeoutLayer {
            per_request,
            shared: self.shared,
        }
    }

    /// The timeout in effect (as configured, or as last changed through
    /// [`handle`](Self::handle)).
    pub fn timeout(&self) -> Duration {
        self.shared.timeout()
    }

    /// A handle to read and change the timeout of every service this layer
    /// made or will make, while they run.
    pub fn handle(&self) -> TimeoutHandle {
        TimeoutHandle {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S, T: Clone> Layer<S> for TimeoutLayer<T> {
    type Service = Timeout<S, T>;

    fn layer(&self, inner: S) -> Self::Service {
        Timeout::new(inner, self.per_request.clone(), Arc::clone(&self.shared))
    }
}

impl<T: Clone> Clone for TimeoutLayer<T> {
    fn clone(&self) -> Self {
        Self {
            per_request: self.per_request.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> fmt::Debug for TimeoutLayer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeoutLayer")
            .field("name", &self.shared.name)
            .field("timeout", &self.timeout())
            .finish_non_exhaustive()
    }
}

/// Reads and changes, while they run, the settings of a
/// [`TimeoutLayer`] and of every service it made: from
/// [`TimeoutLayer::handle`]. Clones share the same settings.
///
/// ```
/// use std::time::Duration;
/// use iot_resilience::timeout::{TimeoutConfig, TimeoutLayer};
///
/// let config = TimeoutConfig::new(Duration::from_secs(1));
/// let layer = TimeoutLayer::new(config.clone()).unwrap();
/// let handle = layer.handle();
/// handle.update(config.clone().timeout(Duration::from_millis(250))).unwrap();
/// assert_eq!(layer.timeout(), Duration::from_millis(250));
///
/// let bad = handle.update(config.timeout(Duration::ZERO)).unwrap_err();
/// assert_eq!(bad.field, "timeout.timeout");
/// assert_eq!(handle.config().timeout, Duration::from_millis(250));
/// ```
#[derive(Clone)]
pub struct TimeoutHandle {
    shared: Arc<Shared>,
}

impl TimeoutHandle {
    /// The settings in effect.
    pub fn config(&self) -> TimeoutConfig {
        self.shared.config()
    }

    /// Applies `config` to every service of the layer. It is validated as
    /// [`TimeoutConfig::validate`] does; an invalid one (or a different
    /// `name`, which labels the metrics) returns that [`ConfigError`] and
    /// changes nothing. The new timeout applies to calls made after the
    /// update; calls in flight keep the deadline they started with.
    pub fn update(&self, config: TimeoutConfig) -> Result<(), ConfigError> {
        self.shared.update(config)
    }
}

impl fmt::Debug for TimeoutHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeoutHandle")
            .field("name", &self.shared.name)
            .field("timeout", &self.shared.timeout())
            .finish()
    }
}
