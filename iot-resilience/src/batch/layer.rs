//! The layer applying [`Batch`].

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use tokio::sync::mpsc;
use tower_layer::Layer;
use tower_service::Service;

use super::config::BatchConfig;
use super::metrics::BatchMetrics;
use super::service::Batch;
use super::shared::Shared;
use super::weigh::{Unweighed, Weigh};
use super::worker::{Limits, Worker};
use crate::ConfigError;

/// Applies [`Batch`] to services of `Vec<Req>`.
///
/// Each service it makes ([`Layer::layer`] or [`pair`](Self::pair)) has a
/// worker of its own; the metric handles are the layer's, shared by all
/// of them.
pub struct BatchLayer<Req, W = Unweighed> {
    config: BatchConfig,
    limits: Limits,
    weigher: W,
    metrics: BatchMetrics,
    _req: PhantomData<fn(Req)>,
}

impl<Req> BatchLayer<Req> {
    /// A layer for `config`, cutting batches by count and age; fails if
    /// `config` is invalid or sets `max_bytes` (which needs a weigher:
    /// [`with_weigher`](Self::with_weigher)).
    pub fn new(config: BatchConfig) -> Result<Self, ConfigError> {
        if config.max_bytes.is_some() {
            return Err(ConfigError::new(
                "batch.max_bytes",
                "a weight limit needs a weigher: build the layer with BatchLayer::with_weigher",
            ));
        }
        Self::with_weigher(config, Unweighed)
    }
}

impl<Req, W> BatchLayer<Req, W> {
    /// A layer for `config` that weighs each item with `weigher` against
    /// `max_bytes` (any `Fn(&Req) -> usize`, or a [`Weigh`] impl); fails if
    /// `config` is invalid.
    pub fn with_weigher(config: BatchConfig, weigher: W) -> Result<Self, ConfigError>
    where
        W: Weigh<Req>,
    {
        config.validate()?;
        Ok(Self {
            limits: Limits {
                max_items: config.max_items,
                max_bytes: config.max_bytes,
                max_age: config.max_age,
                max_concurrent_batches: config.max_concurrent_batches,
            },
            metrics: BatchMetrics::new(&config.name),
            config,
            weigher,
            _req: PhantomData,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &BatchConfig {
        &self.config
    }

    /// A batch service around `inner` and the worker that must run for it
    /// to make progress, for executors other than tokio's (the worker still
    /// needs tokio's timer). [`Layer::layer`] spawns the worker instead.
    #[allow(clippy::type_complexity)] // the (service, worker) pair, as `tower::buffer::Buffer::pair`
    pub fn pair<S, T, I>(&self, inner: S) -> (Batch<Req, T, S::Error, I>, Worker<S, Req, T, I, W>)
    where
        S: Service<Vec<Req>, Response = Vec<Result<T, I>>>,
        W: Weigh<Req> + Clone,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::new(
            self.config.name.clone(),
            self.metrics.clone(),
            self.config.max_pending,
        ));
        let worker = Worker::new(
            inner,
            rx,
            Arc::clone(&shared),
            self.weigher.clone(),
            self.limits,
        );
        (Batch::new(tx, shared), worker)
    }
}

impl<S, Req, T, I, W> Layer<S> for BatchLayer<Req, W>
where
    S: Service<Vec<Req>, Response = Vec<Result<T, I>>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + Sync + 'static,
    I: Send + 'static,
    Req: Send + 'static,
    T: Send + 'static,
    W: Weigh<Req> + Clone + Send + 'static,
{
    type Service = Batch<Req, T, S::Error, I>;

    /// Spawns the worker on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime (use [`pair`](Self::pair) there).
    fn layer(&self, inner: S) -> Self::Service {
        let (service, worker) = self.pair(inner);
        drop(tokio::spawn(worker));
        service
    }
}

impl<Req, W: Clone> Clone for BatchLayer<Req, W> {
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            limits: self.limits,
            weigher: self.weigher.clone(),
            metrics: self.metrics.clone(),
            _req: PhantomData,
        }
    }
}

impl<Req, W> fmt::Debug for BatchLayer<Req, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchLayer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
