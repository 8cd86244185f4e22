//! The retry layer.

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::budget::RetryBudget;
use super::config::RetryConfig;
use super::metrics::RetryMetrics;
use super::policy::{NoResponseHint, RetryOnError};
use super::service::Retry;
use super::shared::Shared;
use crate::backoff::{BackoffConfig, MakeBackoff};
use crate::{Clock, ConfigError, TokioClock};

/// Applies [`Retry`] to services.
///
/// Every service made by one layer (and every clone of those) shares one
/// [`RetryBudget`]. Type parameters: the predicate `P`
/// ([`with_predicate`](Self::with_predicate)), the backoff factory `B`
/// ([`with_backoff`](Self::with_backoff)) and the response-hint extractor
/// `H` ([`with_response_hint`](Self::with_response_hint)).
pub struct RetryLayer<P = RetryOnError, B = BackoffConfig, H = NoResponseHint> {
    config: RetryConfig,
    predicate: P,
    backoff: B,
    hint: H,
    budget: Option<Arc<RetryBudget>>,
    clock: Arc<dyn Clock>,
    metrics: RetryMetrics,
}

impl RetryLayer {
    /// A layer for `config`; fails if it is invalid.
    ///
    /// Retries errors (except those hinting [`DoNotRetry`](crate::Hint)),
    /// with `config.backoff` as schedule and a new budget from
    /// `config.budget`.
    pub fn new(config: RetryConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let budget = match &config.budget {
            Some(budget) => Some(Arc::new(RetryBudget::new(budget.clone())?)),
            None => None,
        };
        Ok(Self {
            predicate: RetryOnError,
            backoff: config.backoff,
            hint: NoResponseHint,
            budget,
            clock: Arc::new(TokioClock),
            metrics: RetryMetrics::new(&config.name),
            config,
        })
    }
}

impl<P, B, H> RetryLayer<P, B, H> {
    /// Decides what to retry: any [`RetryPredicate`](super::RetryPredicate),
    /// e.g. a closure over `&Result<Response, Error>`.
    pub fn with_predicate<P2>(self, predicate: P2) -> RetryLayer<P2, B, H> {
        RetryLayer {
            config: self.config,
            predicate,
            backoff: self.backoff,
            hint: self.hint,
            budget: self.budget,
            clock: self.clock,
            metrics: self.metrics,
        }
    }

    /// Replaces the schedule of `config.backoff` (which is then ignored) by
    /// any [`MakeBackoff`], e.g. `move || Backoff::with_seed(config, 7)`.
    pub fn with_backoff<B2: MakeBackoff>(self, backoff: B2) -> RetryLayer<P, B2, H> {
        RetryLayer {
            config: self.config,
            predicate: self.predicate,
            backoff,
            hint: self.hint,
            budget: self.budget,
            clock: self.clock,
            metrics: self.metrics,
        }
    }

    /// Reads server hints from responses: any
    /// [`ResponseHint`](super::ResponseHint), e.g.
    /// [`HintFromResponse`](super::HintFromResponse) or a closure
    /// `Fn(&Response) -> Hint`.
    pub fn with_response_hint<H2>(self, hint: H2) -> RetryLayer<P, B, H2> {
        RetryLayer {
            config: self.config,
            predicate: self.predicate,
            backoff: self.backoff,
            hint,
            budget: self.budget,
            clock: self.clock,
            metrics: self.metrics,
        }
    }

    /// Uses `budget`, e.g. one shared with other layers calling the same
    /// backend, instead of the one made from `config.budget`.
    pub fn with_budget(mut self, budget: Arc<RetryBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Retries without a budget (only `max_attempts` and the deadline limit
    /// them).
    pub fn without_budget(mut self) -> Self {
        self.budget = None;
        self
    }

    /// Reads time (for the deadline) from `clock`. Delays are slept with
    /// `tokio::time::sleep`, so the clock should follow tokio's, as the
    /// default [`TokioClock`] does.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &RetryConfig {
        &self.config
    }

    /// The budget shared by the services this layer makes.
    pub fn budget(&self) -> Option<&Arc<RetryBudget>> {
        self.budget.as_ref()
    }
}

impl<S, P: Clone, B: Clone, H: Clone> Layer<S> for RetryLayer<P, B, H> {
    type Service = Retry<S, P, B, H>;

    fn layer(&self, inner: S) -> Self::Service {
        let shared = Shared {
            name: self.config.name.clone(),
            max_attempts: self.config.max_attempts,
            deadline: self.config.deadline,
            predicate: self.predicate.clone(),
            backoff: self.backoff.clone(),
            hint: self.hint.clone(),
            budget: self.budget.clone(),
            clock: Arc::clone(&self.clock),
            metrics: self.metrics.clone(),
        };
        Retry::from_parts(inner, Arc::new(shared))
    }
}

impl<P: Clone, B: Clone, H: Clone> Clone for RetryLayer<P, B, H> {
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            predicate: self.predicate.clone(),
            backoff: self.backoff.clone(),
            hint: self.hint.clone(),
            budget: self.budget.clone(),
            clock: Arc::clone(&self.clock),
            metrics: self.metrics.clone(),
        }
    }
}

impl<P, B, H> fmt::Debug for RetryLayer<P, B, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryLayer")
            .field("config", &self.config)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}
