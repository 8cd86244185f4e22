//! The per-key breaker layer.

use std::fmt;
use std::hash::Hash;

use tower_layer::Layer;

use super::{KeyedCircuitBreaker, KeyedCircuitBreakerConfig, KeyedCircuitBreakerService};
use crate::circuit_breaker::DefaultClassifier;
use crate::{Clock, ConfigError, Validated};

/// Wraps services in a [`KeyedCircuitBreakerService`]: the breaker used for
/// a request is the one of the key `extractor` computes from it (a device
/// id, a host).
///
/// ```
/// use iot_resilience::circuit_breaker::{
///     CircuitBreakerConfig, KeyedCircuitBreakerConfig, KeyedCircuitBreakerLayer,
/// };
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// struct Reading { device: u32, value: f64 }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let layer = KeyedCircuitBreakerLayer::new(
///     KeyedCircuitBreakerConfig::new(CircuitBreakerConfig::default().name("upload")).capacity(1_000),
///     |r: &Reading| r.device,
/// )
/// .unwrap();
/// let breakers = layer.breakers().clone();
/// let svc = ServiceBuilder::new()
///     .layer(layer)
///     .service(service_fn(|r: Reading| async move { Ok::<_, std::io::Error>(r.value) }));
/// let v = svc.oneshot(Reading { device: 7, value: 1.5 }).await.unwrap();
/// assert_eq!(v, 1.5);
/// assert_eq!(breakers.get(&7).stats().buffered_calls, 1);
/// # }
/// ```
pub struct KeyedCircuitBreakerLayer<K, F, C = DefaultClassifier> {
    breakers: KeyedCircuitBreaker<K>,
    extractor: F,
    classifier: C,
}

impl<K, F: Clone, C: Clone> Clone for KeyedCircuitBreakerLayer<K, F, C> {
    fn clone(&self) -> Self {
        Self {
            breakers: self.breakers.clone(),
            extractor: self.extractor.clone(),
            classifier: self.classifier.clone(),
        }
    }
}

impl<K, F, C> fmt::Debug for KeyedCircuitBreakerLayer<K, F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedCircuitBreakerLayer")
            .field("breakers", &self.breakers)
            .finish_non_exhaustive()
    }
}

impl<K, F> KeyedCircuitBreakerLayer<K, F>
where
    K: Hash + Eq + Clone + fmt::Debug + Send + Sync + 'static,
{
    /// A layer with new per-key breakers on tokio's clock.
    pub fn new(config: KeyedCircuitBreakerConfig, extractor: F) -> Result<Self, ConfigError> {
        KeyedCircuitBreaker::new(config).map(|b| Self::from_breakers(b, extractor))
    }

    /// A layer with new per-key breakers on tokio's clock, for a
    /// configuration validated by [`KeyedCircuitBreakerConfig::build`];
    /// cannot fail.
    pub fn from_validated(config: Validated<KeyedCircuitBreakerConfig>, extractor: F) -> Self {
        Self::from_breakers(KeyedCircuitBreaker::from_validated(config), extractor)
    }

    /// A layer with new per-key breakers reading time from `clock`.
    pub fn with_clock(
        config: KeyedCircuitBreakerConfig,
        clock: impl Clock,
        extractor: F,
    ) -> Result<Self, ConfigError> {
        KeyedCircuitBreaker::with_clock(config, clock).map(|b| Self::from_breakers(b, extractor))
    }
}

impl<K, F> KeyedCircuitBreakerLayer<K, F> {
    /// A layer sharing existing per-key breakers.
    pub fn from_breakers(breakers: KeyedCircuitBreaker<K>, extractor: F) -> Self {
        Self {
            breakers,
            extractor,
            classifier: DefaultClassifier,
        }
    }
}

impl<K, F, C> KeyedCircuitBreakerLayer<K, F, C> {
    /// Replaces the classifier.
    pub fn classifier<C2>(self, classifier: C2) -> KeyedCircuitBreakerLayer<K, F, C2> {
        KeyedCircuitBreakerLayer {
            breakers: self.breakers,
            extractor: self.extractor,
            classifier,
        }
    }

    /// The shared per-key breakers.
    pub fn breakers(&self) -> &KeyedCircuitBreaker<K> {
        &self.breakers
    }

    /// A handle to read and change the settings of every key's breaker
    /// for every service this layer made or will make, while they run: the
    /// shared breakers themselves (see [`KeyedCircuitBreaker::config`] and
    /// [`KeyedCircuitBreaker::update`]).
    pub fn handle(&self) -> KeyedCircuitBreaker<K> {
        self.breakers.clone()
    }
}

impl<S, K, F: Clone, C: Clone> Layer<S> for KeyedCircuitBreakerLayer<K, F, C> {
    type Service = KeyedCircuitBreakerService<S, K, F, C>;

    fn layer(&self, inner: S) -> Self::Service {
        KeyedCircuitBreakerService::new(
            inner,
            self.breakers.clone(),
            self.extractor.clone(),
            self.classifier.clone(),
        )
    }
}
