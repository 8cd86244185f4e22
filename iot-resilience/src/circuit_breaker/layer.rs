//! The breaker layer.

use tower_layer::Layer;

use super::{CircuitBreaker, CircuitBreakerConfig, CircuitBreakerHandle, DefaultClassifier};
use crate::{Clock, ConfigError, Validated};

/// Wraps services in a [`CircuitBreaker`]; every service it builds shares
/// one breaker, reachable through [`handle`](Self::handle).
#[derive(Debug, Clone)]
pub struct CircuitBreakerLayer<C = DefaultClassifier> {
    handle: CircuitBreakerHandle,
    classifier: C,
}

impl CircuitBreakerLayer<DefaultClassifier> {
    /// A layer with a new breaker on tokio's clock. Fails if `config` is
    /// invalid.
    pub fn new(config: CircuitBreakerConfig) -> Result<Self, ConfigError> {
        CircuitBreakerHandle::new(config).map(Self::from_handle)
    }

    /// A layer with a new breaker on tokio's clock, for a configuration
    /// validated by [`CircuitBreakerConfig::build`]; cannot fail (the
    /// preferred constructor).
    pub fn from_validated(config: Validated<CircuitBreakerConfig>) -> Self {
        Self::from_handle(CircuitBreakerHandle::from_validated(config))
    }

    /// A layer with a new breaker reading time from `clock`.
    pub fn with_clock(
        config: CircuitBreakerConfig,
        clock: impl Clock,
    ) -> Result<Self, ConfigError> {
        CircuitBreakerHandle::with_clock(config, clock).map(Self::from_handle)
    }

    /// A layer sharing an existing breaker.
    pub fn from_handle(handle: CircuitBreakerHandle) -> Self {
        Self {
            handle,
            classifier: DefaultClassifier,
        }
    }
}

impl From<Validated<CircuitBreakerConfig>> for CircuitBreakerLayer {
    fn from(config: Validated<CircuitBreakerConfig>) -> Self {
        Self::from_validated(config)
    }
}

impl<C> CircuitBreakerLayer<C> {
    /// Replaces the classifier (by default `Ok` is a success, `Err` a
    /// failure).
    pub fn classifier<C2>(self, classifier: C2) -> CircuitBreakerLayer<C2> {
        CircuitBreakerLayer {
            handle: self.handle,
            classifier,
        }
    }

    /// Leaks the breaker for the rest of the process so that calls skip
    /// reference counting; see [`CircuitBreakerHandle::leak`].
    pub fn leak(self) -> Self {
        CircuitBreakerLayer {
            handle: self.handle.leak(),
            classifier: self.classifier,
        }
    }

    /// The shared breaker.
    pub fn handle(&self) -> &CircuitBreakerHandle {
        &self.handle
    }
}

impl<S, C: Clone> Layer<S> for CircuitBreakerLayer<C> {
    type Service = CircuitBreaker<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreaker::new(inner, self.handle.clone(), self.classifier.clone())
    }
}
