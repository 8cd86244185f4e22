//! The layer applying [`Fallback`].

use std::fmt;

use tower_layer::Layer;

use super::config::FallbackConfig;
use super::handler::{FallbackService, FallbackValue};
use super::predicate::AnyError;
use super::service::Fallback;
use crate::{ConfigError, Validated};

/// Applies [`Fallback`] to services.
///
/// Each service made by [`layer`](Layer::layer) gets a clone of the
/// fallback handler and predicate (clones of that service share them).
pub struct FallbackLayer<H, P = AnyError> {
    handler: H,
    predicate: P,
    config: FallbackConfig,
}

impl<F> FallbackLayer<FallbackValue<F>> {
    /// Answers failures with `value(error)`: any `Fn(E) -> Response`.
    pub fn value(value: F) -> Self {
        Self {
            handler: FallbackValue(value),
            predicate: AnyError,
            config: FallbackConfig::default(),
        }
    }
}

impl<S2> FallbackLayer<FallbackService<S2>> {
    /// Answers failures by calling `fallback` (a `Service<Req>` with the
    /// same response type, `Clone`) with a clone of the request.
    pub fn service(fallback: S2) -> Self {
        Self {
            handler: FallbackService(fallback),
            predicate: AnyError,
            config: FallbackConfig::default(),
        }
    }
}

impl<H, P> FallbackLayer<H, P> {
    /// Runs the fallback only for errors selected by `predicate` (any
    /// `Fn(&E) -> bool`); other errors pass as
    /// [`FallbackError::Inner`](super::FallbackError::Inner).
    pub fn when<P2>(self, predicate: P2) -> FallbackLayer<H, P2> {
        FallbackLayer {
            handler: self.handler,
            predicate,
            config: self.config,
        }
    }

    /// Sets a configuration validated by [`FallbackConfig::build`];
    /// cannot fail.
    pub fn with_validated_config(mut self, config: Validated<FallbackConfig>) -> Self {
        self.config = config.into_inner();
        self
    }

    /// Sets the configuration (the name); fails if it is invalid.
    pub fn with_config(mut self, config: FallbackConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        self.config = config;
        Ok(self)
    }
}

impl<S, H: Clone, P: Clone> Layer<S> for FallbackLayer<H, P> {
    type Service = Fallback<S, H, P>;

    fn layer(&self, inner: S) -> Self::Service {
        Fallback::from_parts(
            inner,
            self.handler.clone(),
            self.predicate.clone(),
            self.config.clone(),
        )
    }
}

impl<H: Clone, P: Clone> Clone for FallbackLayer<H, P> {
    fn clone(&self) -> Self {
        Self {
            handler: self.handler.clone(),
            predicate: self.predicate.clone(),
            config: self.config.clone(),
        }
    }
}

impl<H, P> fmt::Debug for FallbackLayer<H, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FallbackLayer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
