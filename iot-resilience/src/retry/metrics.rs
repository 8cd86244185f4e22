//! Metric handles, registered once per layer so calls only increment.

use super::error::GiveUpReason;

/// How a call through the retry layer ended: the `outcome` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    SuccessAfterRetry,
    Exhausted,
    BudgetExhausted,
    NotRetryable,
    Deadline,
}

impl Outcome {
    #[cfg(feature = "metrics")]
    const ALL: [Outcome; 6] = [
        Self::Success,
        Self::SuccessAfterRetry,
        Self::Exhausted,
        Self::BudgetExhausted,
        Self::NotRetryable,
        Self::Deadline,
    ];

    #[cfg(feature = "metrics")]
    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::SuccessAfterRetry => "success_after_retry",
            Self::Exhausted => "exhausted",
            Self::BudgetExhausted => "budget_exhausted",
            Self::NotRetryable => "not_retryable",
            Self::Deadline => "deadline",
        }
    }

    pub(crate) fn given_up(reason: GiveUpReason) -> Self {
        match reason {
            GiveUpReason::MaxAttempts | GiveUpReason::BackoffExhausted => Self::Exhausted,
            GiveUpReason::Deadline => Self::Deadline,
            GiveUpReason::BudgetExhausted => Self::BudgetExhausted,
            GiveUpReason::NotRetryable
            | GiveUpReason::ServerSaidDoNotRetry
            | GiveUpReason::ReadinessFailed => Self::NotRetryable,
        }
    }
}

#[cfg(feature = "metrics")]
#[derive(Debug, Clone)]
pub(crate) struct RetryMetrics {
    retries: metrics::Counter,
    calls: [metrics::Counter; 6],
    budget_exhausted: metrics::Counter,
}

#[cfg(feature = "metrics")]
impl RetryMetrics {
    pub(crate) fn new(name: &str) -> Self {
        metrics::describe_counter!(
            "resilience_retry_attempts_total",
            metrics::Unit::Count,
            "Retries made by the retry layer (first attempts not included)."
        );
        metrics::describe_counter!(
            "resilience_retry_calls_total",
            metrics::Unit::Count,
            "Calls through the retry layer, by outcome."
        );
        metrics::describe_counter!(
            "resilience_retry_budget_exhausted_total",
            metrics::Unit::Count,
            "Retries refused because the retry budget was exhausted."
        );
        let name = name.to_owned();
        Self {
            retries: metrics::counter!("resilience_retry_attempts_total", "name" => name.clone()),
            calls: Outcome::ALL.map(|outcome| {
                metrics::counter!(
                    "resilience_retry_calls_total",
                    "name" => name.clone(),
                    "outcome" => outcome.as_str()
                )
            }),
            budget_exhausted: metrics::counter!(
                "resilience_retry_budget_exhausted_total",
                "name" => name
            ),
        }
    }

    #[inline]
    pub(crate) fn retry(&self) {
        self.retries.increment(1);
    }

    #[inline]
    pub(crate) fn call(&self, outcome: Outcome) {
        self.calls[outcome as usize].increment(1);
    }

    #[inline]
    pub(crate) fn budget_exhausted(&self) {
        self.budget_exhausted.increment(1);
    }
}

#[cfg(not(feature = "metrics"))]
#[derive(Debug, Clone)]
pub(crate) struct RetryMetrics;

#[cfg(not(feature = "metrics"))]
impl RetryMetrics {
    pub(crate) fn new(_name: &str) -> Self {
        Self
    }

    #[inline]
    pub(crate) fn retry(&self) {}

    #[inline]
    pub(crate) fn call(&self, _outcome: Outcome) {}

    #[inline]
    pub(crate) fn budget_exhausted(&self) {}
}
