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

/// Applies [`Timeout`] to services.
pub struct TimeoutLayer<T = DefaultTimeout> {
    timeout: Duration,
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
        let config = config.into_inner();
        Self {
            timeout: config.timeout,
            per_request: DefaultTimeout,
            shared: Arc::new(Shared::new(config.name)),
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
            timeout: self.timeout,
            per_request,
            shared: self.shared,
        }
    }

    /// The configured timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl<S, T: Clone> Layer<S> for TimeoutLayer<T> {
    type Service = Timeout<S, T>;

    fn layer(&self, inner: S) -> Self::Service {
        Timeout::new(
            inner,
            self.timeout,
            self.per_request.clone(),
            Arc::clone(&self.shared),
        )
    }
}

impl<T: Clone> Clone for TimeoutLayer<T> {
    fn clone(&self) -> Self {
        Self {
            timeout: self.timeout,
            per_request: self.per_request.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> fmt::Debug for TimeoutLayer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeoutLayer")
            .field("name", &self.shared.name)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
