//! The retry layer's error.

use std::fmt;

use crate::{Hint, RetryHint};

/// Why the retry layer stopped retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GiveUpReason {
    /// `max_attempts` attempts were made.
    MaxAttempts,
    /// The backoff schedule ended (its `next_delay` returned `None`).
    BackoffExhausted,
    /// The next attempt would have started at or after the deadline
    /// (including when the server's retry-after exceeds it).
    Deadline,
    /// The retry budget had no retry left.
    BudgetExhausted,
    /// The predicate said the outcome is not worth retrying.
    NotRetryable,
    /// The outcome's hint said [`Hint::DoNotRetry`].
    ServerSaidDoNotRetry,
    /// The inner service failed in `poll_ready` (before the first attempt,
    /// or before a retry).
    ReadinessFailed,
}

impl GiveUpReason {
    /// A `snake_case` name, as in tracing events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MaxAttempts => "max_attempts",
            Self::BackoffExhausted => "backoff_exhausted",
            Self::Deadline => "deadline",
            Self::BudgetExhausted => "budget_exhausted",
            Self::NotRetryable => "not_retryable",
            Self::ServerSaidDoNotRetry => "server_said_do_not_retry",
            Self::ReadinessFailed => "readiness_failed",
        }
    }
}

impl fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of the [retry service](super::Retry).
///
/// The inner error `E` is kept intact (the last one, when several attempts
/// failed), with the number of attempts and why retrying stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RetryError<E> {
    /// The call failed and the layer stopped retrying.
    #[error("gave up after {attempts} attempt(s): {reason}")]
    Failed {
        /// The last inner error.
        #[source]
        error: E,
        /// Attempts made, the first one included (0 if `poll_ready`
        /// failed before the first attempt).
        attempts: u32,
        /// Why no further attempt was made.
        reason: GiveUpReason,
    },
    /// `call` was invoked without `poll_ready` returning `Ready(Ok)` first.
    #[error("retry service called before poll_ready returned Ready")]
    NotReady,
}

impl<E> RetryError<E> {
    /// The inner error, if any.
    pub fn inner(&self) -> Option<&E> {
        match self {
            Self::Failed { error, .. } => Some(error),
            Self::NotReady => None,
        }
    }

    /// The inner error, if any, by value.
    pub fn into_inner(self) -> Option<E> {
        match self {
            Self::Failed { error, .. } => Some(error),
            Self::NotReady => None,
        }
    }

    /// Attempts made (0 for [`NotReady`](Self::NotReady)).
    pub fn attempts(&self) -> u32 {
        match self {
            Self::Failed { attempts, .. } => *attempts,
            Self::NotReady => 0,
        }
    }

    /// Why retrying stopped (`None` for [`NotReady`](Self::NotReady)).
    pub fn reason(&self) -> Option<GiveUpReason> {
        match self {
            Self::Failed { reason, .. } => Some(*reason),
            Self::NotReady => None,
        }
    }
}

/// Forwards the inner error's hint, except that an exhausted budget and
/// `NotReady` say [`Hint::DoNotRetry`]: an outer retry layer must not undo
/// the budget's protection.
impl<E: RetryHint> RetryHint for RetryError<E> {
    fn retry_hint(&self) -> Hint {
        match self {
            Self::Failed {
                reason: GiveUpReason::BudgetExhausted,
                ..
            }
            | Self::NotReady => Hint::DoNotRetry,
            Self::Failed { error, .. } => error.retry_hint(),
        }
    }
}
