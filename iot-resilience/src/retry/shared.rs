//! State shared by every clone of a retry service, and the decision taken
//! after each attempt.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::budget::RetryBudget;
use super::config::RetryConfig;
use super::error::{GiveUpReason, RetryError};
use super::metrics::{Outcome, RetryMetrics};
use super::policy::{ErrorHint, ResponseHint, RetryPredicate};
use crate::backoff::{BackoffSchedule, MakeBackoff};
use crate::{Clock, ConfigError, Hint};

pub(crate) const TARGET: &str = "iot_resilience::retry";

/// The settings of one retry layer, shared by its clones, its services and
/// its handles, and changed by [`RetryHandle::update`](super::RetryHandle::update).
#[derive(Debug)]
pub(crate) struct Settings {
    /// The configured name (it cannot change).
    pub(crate) name: Cow<'static, str>,
    max_attempts: AtomicU32,
    /// Nanoseconds; 0 for no deadline (a deadline is never zero).
    deadline: AtomicU64,
    /// The settings in effect: read for `config()` and for the backoff of
    /// each retried call; written (and updates serialised) by `update`.
    config: RwLock<RetryConfig>,
}

impl Settings {
    /// `config` must be valid.
    pub(crate) fn new(config: RetryConfig) -> Self {
        Self {
            name: config.name.clone(),
            max_attempts: AtomicU32::new(config.max_attempts),
            deadline: AtomicU64::new(deadline_nanos(&config)),
            config: RwLock::new(config),
        }
    }

    #[inline]
    pub(crate) fn max_attempts(&self) -> u32 {
        self.max_attempts.load(Ordering::Relaxed)
    }

    #[inline]
    pub(crate) fn deadline(&self) -> Option<Duration> {
        match self.deadline.load(Ordering::Relaxed) {
            0 => None,
            n => Some(Duration::from_nanos(n)),
        }
    }

    pub(crate) fn config(&self) -> RetryConfig {
        self.config
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn backoff(&self) -> crate::backoff::BackoffConfig {
        self.config
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .backoff
    }

    /// Validates and applies `config`; `name` and `budget` cannot change.
    pub(crate) fn update(&self, config: RetryConfig) -> Result<(), ConfigError> {
        config.validate()?;
        let mut current = self.config.write().unwrap_or_else(PoisonError::into_inner);
        crate::config::check_name_unchanged("retry", &current.name, &config.name)?;
        crate::config::check_unchanged(
            "retry.budget",
            &current.budget,
            &config.budget,
            "the budget's balance would be lost; share a new RetryBudget through RetryLayer::with_budget instead",
        )?;
        self.max_attempts
            .store(config.max_attempts, Ordering::Relaxed);
        self.deadline
            .store(deadline_nanos(&config), Ordering::Relaxed);
        *current = config;
        Ok(())
    }
}

fn deadline_nanos(config: &RetryConfig) -> u64 {
    config.deadline.map_or(0, |d| {
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
    })
}

pub(crate) struct Shared<P, B, H, C> {
    pub(crate) name: Cow<'static, str>,
    pub(crate) settings: Arc<Settings>,
    pub(crate) predicate: P,
    pub(crate) backoff: B,
    pub(crate) hint: H,
    pub(crate) error_hint: C,
    pub(crate) budget: Option<Arc<RetryBudget>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) metrics: RetryMetrics,
}

/// Per-call progress, kept in the response future.
pub(crate) struct Progress<S> {
    /// Attempts started so far, the first one included.
    pub(crate) attempts: u32,
    /// When no new attempt may start any more.
    pub(crate) deadline_at: Option<Instant>,
    /// Made on the first retry only, so a call that succeeds at once
    /// builds no schedule.
    pub(crate) schedule: Option<S>,
}

/// What to do after an attempt.
pub(crate) enum Step<T, R> {
    /// Return this.
    Done(T),
    /// Wait this long, then make another attempt; the attempt's outcome is
    /// kept in case the deadline passes before the next one starts.
    Retry(Duration, R),
}

impl<P, B: MakeBackoff, H, C> Shared<P, B, H, C> {
    pub(crate) fn start(&self) -> Progress<B::Backoff> {
        Progress {
            attempts: 1,
            deadline_at: self
                .settings
                .deadline()
                .and_then(|d| self.clock.now().checked_add(d)),
            schedule: None,
        }
    }

    /// Classifies the outcome of an attempt. `can_resend` is false when no
    /// copy of the request is left (only with `max_attempts == 1`).
    ///
    /// Inlined for the common case, a first attempt that is accepted: its
    /// result then stays in registers (returned through memory from an
    /// out-of-line call, it cost a store-forwarding stall per call).
    #[inline]
    pub(crate) fn after_attempt<Res, E>(
        &self,
        progress: &mut Progress<B::Backoff>,
        can_resend: bool,
        result: Result<Res, E>,
    ) -> Step<Result<Res, RetryError<E>>, Result<Res, E>>
    where
        P: RetryPredicate<Res, E>,
        H: ResponseHint<Res>,
        C: ErrorHint<E>,
    {
        let retry = self.predicate.should_retry(&result);
        match result {
            Ok(response) if !retry && progress.attempts == 1 => {
                self.metrics.call(Outcome::Success);
                Step::Done(Ok(response))
            }
            result => self.classify(progress, can_resend, result, retry),
        }
    }

    /// [`after_attempt`](Self::after_attempt) past its common case;
    /// `retry` is the predicate's verdict on `result`.
    #[inline(never)]
    fn classify<Res, E>(
        &self,
        progress: &mut Progress<B::Backoff>,
        can_resend: bool,
        result: Result<Res, E>,
        retry: bool,
    ) -> Step<Result<Res, RetryError<E>>, Result<Res, E>>
    where
        H: ResponseHint<Res>,
        C: ErrorHint<E>,
    {
        let attempts = progress.attempts;
        if !retry {
            return match result {
                // An accepted first attempt was answered by `after_attempt`.
                Ok(response) => {
                    tracing::debug!(
                        target: TARGET,
                        name = %self.name,
                        attempts,
                        "succeeded after retrying"
                    );
                    self.metrics.call(Outcome::SuccessAfterRetry);
                    Step::Done(Ok(response))
                }
                Err(error) => {
                    Step::Done(self.give_up(Err(error), attempts, GiveUpReason::NotRetryable, None))
                }
            };
        }
        let hint = match &result {
            Ok(response) => self.hint.response_hint(response),
            Err(error) => self.error_hint.error_hint(error),
        };
        if hint == Hint::DoNotRetry {
            return Step::Done(self.give_up(
                result,
                attempts,
                GiveUpReason::ServerSaidDoNotRetry,
                None,
            ));
        }
        if attempts >= self.settings.max_attempts() || !can_resend {
            return Step::Done(self.give_up(result, attempts, GiveUpReason::MaxAttempts, None));
        }
        let schedule = progress
            .schedule
            .get_or_insert_with(|| self.backoff.make_backoff_for(&self.settings.backoff()));
        let Some(backoff) = schedule.next_delay() else {
            return Step::Done(self.give_up(
                result,
                attempts,
                GiveUpReason::BackoffExhausted,
                None,
            ));
        };
        let retry_after = match hint {
            Hint::RetryAfter(d) => Some(d),
            _ => None,
        };
        let delay = retry_after.map_or(backoff, |d| d.max(backoff));
        if let Some(deadline_at) = progress.deadline_at {
            let remaining = deadline_at.saturating_duration_since(self.clock.now());
            if delay >= remaining {
                return Step::Done(self.give_up(
                    result,
                    attempts,
                    GiveUpReason::Deadline,
                    Some(delay),
                ));
            }
        }
        if let Some(budget) = &self.budget {
            if !budget.withdraw() {
                self.metrics.budget_exhausted();
                return Step::Done(self.give_up(
                    result,
                    attempts,
                    GiveUpReason::BudgetExhausted,
                    Some(delay),
                ));
            }
        }
        tracing::debug!(
            target: TARGET,
            name = %self.name,
            attempt = attempts,
            delay = ?delay,
            retry_after = ?retry_after,
            reason = if result.is_err() { "error" } else { "response" },
            "retrying"
        );
        progress.attempts += 1;
        Step::Retry(delay, result)
    }

    /// The deadline rule when a retry is about to start: if the deadline
    /// has passed (or is now), gives up with [`GiveUpReason::Deadline`] and
    /// the previous attempt's outcome `last`. `None`: the attempt may
    /// start. `after_attempt` planned the delay to end before the deadline,
    /// but timers fire late (tokio's wheel ticks in milliseconds, and a
    /// busy runtime polls later still), so the clock is read again here.
    #[cold]
    pub(crate) fn deadline_passed<Res, E>(
        &self,
        progress: &Progress<B::Backoff>,
        last: &mut Option<Result<Res, E>>,
    ) -> Option<Result<Res, RetryError<E>>> {
        let deadline_at = progress.deadline_at?;
        if self.clock.now() < deadline_at {
            return None;
        }
        // `last` is only taken here, and the future then completes.
        let result = last.take()?;
        // The retry was counted in `attempts` when it was planned.
        let attempts = progress.attempts - 1;
        Some(self.give_up(result, attempts, GiveUpReason::Deadline, None))
    }

    /// Counts a retry that starts now (not when it is planned: a planned
    /// retry may still be abandoned at the deadline).
    pub(crate) fn retry_started(&self) {
        self.metrics.retry();
    }

    /// Stops: records the outcome and returns the last result, its error
    /// wrapped with the attempts and the reason.
    pub(crate) fn give_up<Res, E>(
        &self,
        result: Result<Res, E>,
        attempts: u32,
        reason: GiveUpReason,
        delay: Option<Duration>,
    ) -> Result<Res, RetryError<E>> {
        let outcome = Outcome::given_up(reason);
        self.metrics.call(outcome);
        let failed = result.is_err();
        match outcome {
            Outcome::NotRetryable => tracing::debug!(
                target: TARGET,
                name = %self.name,
                attempts,
                reason = %reason,
                failed,
                "not retrying"
            ),
            _ => tracing::warn!(
                target: TARGET,
                name = %self.name,
                attempts,
                reason = %reason,
                failed,
                next_delay = ?delay,
                "giving up"
            ),
        }
        result.map_err(|error| RetryError::Failed {
            error,
            attempts,
            reason,
        })
    }
}
