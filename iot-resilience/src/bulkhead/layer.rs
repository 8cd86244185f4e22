//! The layer applying [`Bulkhead`].

use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use super::config::BulkheadConfig;
use super::limit::Limit;
use super::service::Bulkhead;
use crate::{ConfigError, Validated};

/// Applies [`Bulkhead`] to services. Every service made by one layer (and
/// every clone of those) shares one limit.
#[derive(Debug, Clone)]
pub struct BulkheadLayer {
    limit: Arc<Limit>,
    max_wait: Duration,
}

impl BulkheadLayer {
    /// A layer for `config`; fails if it is invalid. Prefer
    /// [`from_validated`](Self::from_validated), which cannot fail.
    pub fn new(config: BulkheadConfig) -> Result<Self, ConfigError> {
        config.build().map(Self::from_validated)
    }

    /// A layer for a configuration validated by
    /// [`BulkheadConfig::build`]; cannot fail.
    pub fn from_validated(config: Validated<BulkheadConfig>) -> Self {
        let config = config.into_inner();
        Self {
            limit: Arc::new(Limit::new(config.max_concurrent, config.name)),
            max_wait: config.max_wait,
        }
    }

    /// Permits held now, by all services of this layer together.
    pub fn in_flight(&self) -> usize {
        self.limit.in_flight()
    }

    /// The configured limit.
    pub fn max_concurrent(&self) -> usize {
        self.limit.max()
    }
}

impl From<Validated<BulkheadConfig>> for BulkheadLayer {
    fn from(config: Validated<BulkheadConfig>) -> Self {
        Self::from_validated(config)
    }
}

impl<S> Layer<S> for BulkheadLayer {
    type Service = Bulkhead<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Bulkhead::new(inner, Arc::clone(&self.limit), self.max_wait)
    }
}
