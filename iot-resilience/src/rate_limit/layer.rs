//! Layers applying [`RateLimit`] and [`KeyedRateLimit`].

use std::fmt;

use tower_layer::Layer;

use super::config::{KeyedRateLimitConfig, RateLimitConfig};
use super::cost::UnitCost;
use super::keyed::KeyedRateLimiter;
use super::keyed_service::KeyedRateLimit;
use super::limiter::RateLimiter;
use super::service::RateLimit;
use crate::{Clock, ConfigError, TokioClock, Validated};

/// Applies [`RateLimit`] to services. Every service made by one layer (and
/// every clone of those) shares one [`RateLimiter`].
pub struct RateLimitLayer<W = UnitCost, C = TokioClock> {
    limiter: RateLimiter<C>,
    cost: W,
}

impl RateLimitLayer {
    /// A layer for `config` on tokio's clock; fails if it is invalid.
    pub fn new(config: RateLimitConfig) -> Result<Self, ConfigError> {
        RateLimiter::new(config).map(Self::from_limiter)
    }

    /// A layer on tokio's clock for a configuration validated by
    /// [`RateLimitConfig::build`]; cannot fail (the preferred
    /// constructor).
    pub fn from_validated(config: Validated<RateLimitConfig>) -> Self {
        Self::from_limiter(RateLimiter::from_validated(config))
    }
}

impl From<Validated<RateLimitConfig>> for RateLimitLayer {
    fn from(config: Validated<RateLimitConfig>) -> Self {
        Self::from_validated(config)
    }
}

impl<C: Clock> RateLimitLayer<UnitCost, C> {
    /// A layer for `config` reading time from `clock`.
    pub fn with_clock(config: RateLimitConfig, clock: C) -> Result<Self, ConfigError> {
        RateLimiter::with_clock(config, clock).map(Self::from_limiter)
    }

    /// A layer sharing an existing limiter (e.g. one also checked by hand).
    pub fn from_limiter(limiter: RateLimiter<C>) -> Self {
        Self {
            limiter,
            cost: UnitCost,
        }
    }
}

impl<W, C> RateLimitLayer<W, C> {
    /// Weighs each request: any `Fn(&Req) -> u32` (see
    /// [weighted requests](super#weighted-requests)).
    pub fn with_cost<W2>(self, cost: W2) -> RateLimitLayer<W2, C> {
        RateLimitLayer {
            limiter: self.limiter,
            cost,
        }
    }

    /// The shared limiter.
    pub fn limiter(&self) -> &RateLimiter<C> {
        &self.limiter
    }

    /// A handle to read and change the settings of every service this
    /// layer made or will make, while they run: the shared limiter itself
    /// (see [`RateLimiter::config`] and [`RateLimiter::update`]).
    pub fn handle(&self) -> RateLimiter<C> {
        self.limiter.clone()
    }
}

impl<S, W: Clone, C: Clock> Layer<S> for RateLimitLayer<W, C> {
    type Service = RateLimit<S, W, C>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit::new(inner, self.limiter.clone(), self.cost.clone())
    }
}

impl<W: Clone, C> Clone for RateLimitLayer<W, C> {
    fn clone(&self) -> Self {
        Self {
            limiter: self.limiter.clone(),
            cost: self.cost.clone(),
        }
    }
}

impl<W, C> fmt::Debug for RateLimitLayer<W, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

/// Applies [`KeyedRateLimit`] to services. Every service made by one layer
/// shares one [`KeyedRateLimiter`]; `X` extracts the key from a request.
pub struct KeyedRateLimitLayer<K, X, W = UnitCost, C = TokioClock> {
    limiter: KeyedRateLimiter<K, C>,
    key: X,
    cost: W,
}

impl<K: std::hash::Hash + Eq + Clone, X> KeyedRateLimitLayer<K, X> {
    /// A layer for `config` on tokio's clock, keying requests with `key`
    /// (any `Fn(&Req) -> K`); fails if the config is invalid.
    pub fn new(config: KeyedRateLimitConfig, key: X) -> Result<Self, ConfigError> {
        KeyedRateLimiter::new(config).map(|limiter| Self::from_limiter(limiter, key))
    }

    /// A layer on tokio's clock for a configuration validated by
    /// [`KeyedRateLimitConfig::build`]; cannot fail.
    pub fn from_validated(config: Validated<KeyedRateLimitConfig>, key: X) -> Self {
        Self::from_limiter(KeyedRateLimiter::from_validated(config), key)
    }
}

impl<K, X, C> KeyedRateLimitLayer<K, X, UnitCost, C> {
    /// A layer sharing an existing keyed limiter (e.g. one on a
    /// [`ManualClock`](crate::ManualClock)).
    pub fn from_limiter(limiter: KeyedRateLimiter<K, C>, key: X) -> Self {
        Self {
            limiter,
            key,
            cost: UnitCost,
        }
    }
}

impl<K, X, W, C> KeyedRateLimitLayer<K, X, W, C> {
    /// Weighs each request: any `Fn(&Req) -> u32`.
    pub fn with_cost<W2>(self, cost: W2) -> KeyedRateLimitLayer<K, X, W2, C> {
        KeyedRateLimitLayer {
            limiter: self.limiter,
            key: self.key,
            cost,
        }
    }

    /// The shared keyed limiter.
    pub fn limiter(&self) -> &KeyedRateLimiter<K, C> {
        &self.limiter
    }

    /// A handle to read and change every key's quota for every service
    /// this layer made or will make, while they run: the shared keyed
    /// limiter itself (see [`KeyedRateLimiter::config`] and
    /// [`KeyedRateLimiter::update`]).
    pub fn handle(&self) -> KeyedRateLimiter<K, C> {
        self.limiter.clone()
    }
}

impl<S, K, X: Clone, W: Clone, C> Layer<S> for KeyedRateLimitLayer<K, X, W, C> {
    type Service = KeyedRateLimit<S, K, X, W, C>;

    fn layer(&self, inner: S) -> Self::Service {
        KeyedRateLimit::new(
            inner,
            self.limiter.clone(),
            self.key.clone(),
            self.cost.clone(),
        )
    }
}

impl<K, X: Clone, W: Clone, C> Clone for KeyedRateLimitLayer<K, X, W, C> {
    fn clone(&self) -> Self {
        Self {
            limiter: self.limiter.clone(),
            key: self.key.clone(),
            cost: self.cost.clone(),
        }
    }
}

impl<K, X, W, C> fmt::Debug for KeyedRateLimitLayer<K, X, W, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedRateLimitLayer")
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}
