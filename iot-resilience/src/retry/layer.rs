//! The retry layer.

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::budget::RetryBudget;
use super::config::RetryConfig;
use super::metrics::RetryMetrics;
use super::policy::{HintFromError, NoResponseHint, RetryOnError};
use super::service::Retry;
use super::shared::{Settings, Shared};
use crate::backoff::{BackoffConfig, MakeBackoff};
use crate::{Clock, ConfigError, TokioClock, Validated};

/// Applies [`Retry`] to services.
///
/// Every service made by one layer (and every clone of the layer and of
/// those services) shares one [`RetryBudget`] and one set of settings,
/// changed at run time through [`handle`](Self::handle). Type parameters: the predicate `P`
/// ([`with_predicate`](Self::with_predicate)), the backoff factory `B`
/// ([`with_backoff`](Self::with_backoff)), the response-hint extractor
/// `H` ([`with_response_hint`](Self::with_response_hint)) and the error
/// classifier `C` ([`with_error_hint`](Self::with_error_hint); by default
/// the error's own [`RetryHint`](crate::RetryHint)).
pub struct RetryLayer<P = RetryOnError, B = BackoffConfig, H = NoResponseHint, C = HintFromError> {
    settings: Arc<Settings>,
    predicate: P,
    backoff: B,
    hint: H,
    error_hint: C,
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
    ///
    /// Prefer [`from_validated`](Self::from_validated), which cannot fail.
    pub fn new(config: RetryConfig) -> Result<Self, ConfigError> {
        config.build().map(Self::from_validated)
    }

    /// A layer for a configuration validated by [`RetryConfig::build`];
    /// cannot fail.
    pub fn from_validated(config: Validated<RetryConfig>) -> Self {
        let config = config.into_inner();
        // Validating the retry configuration validated its budget.
        let budget = config
            .budget
            .clone()
            .map(|budget| Arc::new(RetryBudget::from_validated(Validated::assume_valid(budget))));
        Self {
            predicate: RetryOnError,
            backoff: config.backoff,
            hint: NoResponseHint,
            error_hint: HintFromError,
            budget,
            clock: Arc::new(TokioClock),
            metrics: RetryMetrics::new(&config.name),
            settings: Arc::new(Settings::new(config)),
        }
    }
}

impl From<Validated<RetryConfig>> for RetryLayer {
    fn from(config: Validated<RetryConfig>) -> Self {
        Self::from_validated(config)
    }
}

impl<P, B, H, C> RetryLayer<P, B, H, C> {
    /// Decides what to retry: any [`RetryPredicate`](super::RetryPredicate),
    /// e.g. a closure over `&Result<Response, Error>`.
    pub fn with_predicate<P2>(self, predicate: P2) -> RetryLayer<P2, B, H, C> {
        RetryLayer {
            settings: self.settings,
            predicate,
            backoff: self.backoff,
            hint: self.hint,
            error_hint: self.error_hint,
            budget: self.budget,
            clock: self.clock,
            metrics: self.metrics,
        }
    }

    /// Replaces the schedule of `config.backoff` (which is then ignored) by
    /// any [`MakeBackoff`], e.g. `move || Backoff::with_seed(config, 7)`.
    pub fn with_backoff<B2: MakeBackoff>(self, backoff: B2) -> RetryLayer<P, B2, H, C> {
        RetryLayer {
            settings: self.settings,
            predicate: self.predicate,
            backoff,
            hint: self.hint,
            error_hint: self.error_hint,
            budget: self.budget,
            clock: self.clock,
            metrics: self.metrics,
        }
    }

    /// Reads server hints from responses: any
    /// [`ResponseHint`](super::ResponseHint), e.g.
    /// [`HintFromResponse`](super::HintFromResponse) or a closure
    /// `Fn(&Response) -> Hint`.
    pub fn with_response_hint<H2>(self, hint: H2) -> RetryLayer<P, B, H2, C> {
        RetryLayer {
            settings: self.settings,
            predicate: self.predicate,
            backoff: self.backoff,
            hint,
            error_hint: self.error_hint,
            budget: self.budget,
            clock: self.clock,
            metrics: self.metrics,
        }
    }

    /// Classifies errors with `error_hint` instead of their
    /// [`RetryHint`](crate::RetryHint) implementation: any
    /// [`ErrorHint`](super::ErrorHint), e.g. a closure `Fn(&E) -> Hint`,
    /// a [`DynErrorHint`](super::DynErrorHint) trait object, or
    /// [`NoErrorHint`](super::NoErrorHint). This is how errors of other
    /// crates (`reqwest::Error`, `tonic::Status`, `anyhow::Error`), which
    /// cannot implement `RetryHint`, are retried without a newtype.
    ///
    /// ```
    /// use std::time::Duration;
    /// use iot_resilience::Hint;
    /// use iot_resilience::retry::{RetryConfig, RetryLayer};
    /// use tower::{ServiceBuilder, ServiceExt, service_fn};
    ///
    /// // An error type from another crate: no `RetryHint` implementation.
    /// #[derive(Debug)]
    /// struct ForeignError { status: u16 }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let layer = RetryLayer::from_validated(RetryConfig::default().max_attempts(3).build().unwrap())
    ///     .with_error_hint(|e: &ForeignError| match e.status {
    ///         429 | 503 => Hint::RetryAfter(Duration::from_secs(1)),
    ///         500..=599 => Hint::None, // retry on the backoff schedule
    ///         _ => Hint::DoNotRetry,
    ///     });
    /// let service = ServiceBuilder::new()
    ///     .layer(layer)
    ///     .service(service_fn(|_: ()| async { Err::<(), _>(ForeignError { status: 404 }) }));
    /// let error = service.oneshot(()).await.unwrap_err();
    /// assert_eq!(error.attempts(), 1); // 404: not retried
    /// # }
    /// ```
    pub fn with_error_hint<C2>(self, error_hint: C2) -> RetryLayer<P, B, H, C2> {
        RetryLayer {
            settings: self.settings,
            predicate: self.predicate,
            backoff: self.backoff,
            hint: self.hint,
            error_hint,
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

    /// The settings in effect (as configured, or as last changed through
    /// [`handle`](Self::handle)).
    pub fn config(&self) -> RetryConfig {
        self.settings.config()
    }

    /// A handle to read and change the settings of every service this
    /// layer made or will make, while they run.
    ///
    /// The handle's [`budget`](RetryHandle::budget) is the budget the layer
    /// has now: take the handle after [`with_budget`](Self::with_budget) or
    /// [`without_budget`](Self::without_budget), which make a layer with
    /// another budget (a handle taken before still changes the settings).
    pub fn handle(&self) -> RetryHandle {
        RetryHandle {
            settings: Arc::clone(&self.settings),
            budget: self.budget.clone(),
        }
    }

    /// The budget shared by the services this layer makes.
    pub fn budget(&self) -> Option<&Arc<RetryBudget>> {
        self.budget.as_ref()
    }
}

impl<S, P: Clone, B: Clone, H: Clone, C: Clone> Layer<S> for RetryLayer<P, B, H, C> {
    type Service = Retry<S, P, B, H, C>;

    fn layer(&self, inner: S) -> Self::Service {
        let shared = Shared {
            name: self.settings.name.clone(),
            settings: Arc::clone(&self.settings),
            predicate: self.predicate.clone(),
            backoff: self.backoff.clone(),
            hint: self.hint.clone(),
            error_hint: self.error_hint.clone(),
            budget: self.budget.clone(),
            clock: Arc::clone(&self.clock),
            metrics: self.metrics.clone(),
        };
        Retry::from_parts(inner, Arc::new(shared))
    }
}

impl<P: Clone, B: Clone, H: Clone, C: Clone> Clone for RetryLayer<P, B, H, C> {
    fn clone(&self) -> Self {
        Self {
            settings: Arc::clone(&self.settings),
            predicate: self.predicate.clone(),
            backoff: self.backoff.clone(),
            hint: self.hint.clone(),
            error_hint: self.error_hint.clone(),
            budget: self.budget.clone(),
            clock: Arc::clone(&self.clock),
            metrics: self.metrics.clone(),
        }
    }
}

impl<P, B, H, C> fmt::Debug for RetryLayer<P, B, H, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryLayer")
            .field("config", &self.settings.config())
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// Reads and changes, while they run, the settings of a [`RetryLayer`] and
/// of every service it made: from [`RetryLayer::handle`]. Clones share the
/// same settings.
///
/// ```
/// use std::time::Duration;
/// use iot_resilience::retry::{RetryConfig, RetryLayer};
///
/// let config = RetryConfig::default().max_attempts(3);
/// let layer = RetryLayer::new(config.clone()).unwrap();
/// let handle = layer.handle();
/// handle.update(config.clone().max_attempts(5).deadline(Duration::from_secs(2))).unwrap();
/// assert_eq!(layer.config().max_attempts, 5);
///
/// let bad = handle.update(config.max_attempts(0)).unwrap_err();
/// assert_eq!(bad.field, "retry.max_attempts");
/// assert_eq!(handle.config().max_attempts, 5);
/// ```
#[derive(Clone)]
pub struct RetryHandle {
    settings: Arc<Settings>,
    budget: Option<Arc<RetryBudget>>,
}

impl RetryHandle {
    /// The settings in effect.
    pub fn config(&self) -> RetryConfig {
        self.settings.config()
    }

    /// The budget shared by the layer's services (kept across updates), as
    /// the layer had it when this handle was taken
    /// ([`RetryLayer::handle`]).
    pub fn budget(&self) -> Option<&Arc<RetryBudget>> {
        self.budget.as_ref()
    }

    /// Applies `config` to every service of the layer. It is validated as
    /// [`RetryConfig::validate`] does; an invalid one returns that
    /// [`ConfigError`] and changes nothing. `name` (it labels the metrics)
    /// and `budget` (its balance would be lost) cannot change: a different
    /// value is a `ConfigError` naming the field, and nothing changes. The
    /// budget and its balance are kept.
    ///
    /// * `max_attempts` applies to every decision taken after the update,
    ///   also for calls in flight; a call made while it was 1 keeps no copy
    ///   of its request and is not retried.
    /// * `deadline` applies to calls made after the update.
    /// * `backoff` applies to calls whose first retry is planned after the
    ///   update; it is ignored, as at construction, when the layer's
    ///   schedule was replaced by [`RetryLayer::with_backoff`].
    pub fn update(&self, config: RetryConfig) -> Result<(), ConfigError> {
        self.settings.update(config)
    }
}

impl fmt::Debug for RetryHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryHandle")
            .field("config", &self.settings.config())
            .field("budget", &self.budget)
            .finish()
    }
}
