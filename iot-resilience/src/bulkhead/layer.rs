//! The layer applying [`Bulkhead`].

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::config::BulkheadConfig;
use super::limit::Limit;
use super::service::Bulkhead;
use crate::{ConfigError, Validated};

/// Applies [`Bulkhead`] to services. Every service made by one layer (and
/// every clone of those) shares one limit, changed at run time through
/// [`handle`](Self::handle).
#[derive(Debug, Clone)]
pub struct BulkheadLayer {
    limit: Arc<Limit>,
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
        Self {
            limit: Arc::new(Limit::new(config.into_inner())),
        }
    }

    /// Permits held now, by all services of this layer together.
    pub fn in_flight(&self) -> usize {
        self.limit.in_flight()
    }

    /// The limit in effect (as configured, or as last changed through
    /// [`handle`](Self::handle)).
    pub fn max_concurrent(&self) -> usize {
        self.limit.max()
    }

    /// A handle to read and change the settings of every service this
    /// layer made or will make, while they run.
    pub fn handle(&self) -> BulkheadHandle {
        BulkheadHandle {
            limit: Arc::clone(&self.limit),
        }
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
        Bulkhead::new(inner, Arc::clone(&self.limit))
    }
}

/// Reads and changes, while they run, the settings of a [`BulkheadLayer`]
/// and of every service it made: from [`BulkheadLayer::handle`]. Clones
/// share the same limit.
///
/// ```
/// use iot_resilience::bulkhead::{BulkheadConfig, BulkheadLayer};
///
/// let layer = BulkheadLayer::new(BulkheadConfig::new(4)).unwrap();
/// let handle = layer.handle();
/// handle.update(BulkheadConfig::new(8)).unwrap();
/// assert_eq!(layer.max_concurrent(), 8);
///
/// let bad = handle.update(BulkheadConfig::new(0)).unwrap_err();
/// assert_eq!(bad.field, "bulkhead.max_concurrent");
/// assert_eq!(handle.config().max_concurrent, 8);
/// ```
#[derive(Clone)]
pub struct BulkheadHandle {
    limit: Arc<Limit>,
}

impl BulkheadHandle {
    /// The settings in effect.
    pub fn config(&self) -> BulkheadConfig {
        self.limit.config()
    }

    /// Permits held now, by all services of the layer together.
    pub fn in_flight(&self) -> usize {
        self.limit.in_flight()
    }

    /// Applies `config` to every service of the layer, keeping the permits
    /// in use. It is validated as [`BulkheadConfig::validate`] does; an
    /// invalid one (or a different `name`, which labels the metrics)
    /// returns that [`ConfigError`] and changes nothing.
    ///
    /// A raised `max_concurrent` admits more calls at once, waiting
    /// services included (they are woken). A lowered one lets the calls in
    /// flight finish and admits no new call until fewer than the new limit
    /// are in flight. A new `max_wait` applies to waits that start after
    /// the update.
    pub fn update(&self, config: BulkheadConfig) -> Result<(), ConfigError> {
        self.limit.update(config)
    }
}

impl fmt::Debug for BulkheadHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkheadHandle")
            .field("name", &self.limit.name)
            .field("max_concurrent", &self.limit.max())
            .field("in_flight", &self.limit.in_flight())
            .finish()
    }
}
