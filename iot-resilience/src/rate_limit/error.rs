//! The rate limit layer's error.

use std::time::Duration;

use super::limiter::CheckError;
use crate::{Hint, RetryHint};

/// The error of [`RateLimit`](super::RateLimit) and
/// [`KeyedRateLimit`](super::KeyedRateLimit): a rejection, or the inner
/// service's error `E` unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RateLimitError<E> {
    /// No permit was available (within `max_wait` in wait mode); one will
    /// be after `retry_after`. The inner service was not called.
    #[error("rate limited, retry after {retry_after:?}")]
    Rejected {
        /// The time until the request would have been admitted.
        retry_after: Duration,
    },
    /// The request costs more permits than the burst: it can never be
    /// admitted. The inner service was not called.
    #[error("a cost of {cost} permits exceeds the burst of {burst}: it can never be admitted")]
    InsufficientCapacity {
        /// The request's cost.
        cost: u32,
        /// The limiter's burst.
        burst: u32,
    },
    /// `call` was invoked without a successful `poll_ready` first.
    #[error("the rate limit service was called before it was ready")]
    NotReady,
    /// The inner service failed.
    #[error(transparent)]
    Inner(E),
}

impl<E> RateLimitError<E> {
    /// The time until a retry could succeed, for a rejection.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Rejected { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// Whether the limiter refused the request (the inner service was not
    /// called).
    pub fn is_rejected(&self) -> bool {
        matches!(
            self,
            Self::Rejected { .. } | Self::InsufficientCapacity { .. }
        )
    }

    /// The inner service's error, if that is what this is.
    pub fn into_inner(self) -> Option<E> {
        match self {
            Self::Inner(e) => Some(e),
            _ => None,
        }
    }
}

impl<E> From<CheckError> for RateLimitError<E> {
    fn from(e: CheckError) -> Self {
        match e {
            CheckError::NotUntil(n) => Self::Rejected {
                retry_after: n.retry_after(),
            },
            CheckError::InsufficientCapacity { cost, burst } => {
                Self::InsufficientCapacity { cost, burst }
            }
        }
    }
}

impl<E: RetryHint> RetryHint for RateLimitError<E> {
    fn retry_hint(&self) -> Hint {
        match self {
            Self::Rejected { retry_after } => Hint::RetryAfter(*retry_after),
            Self::InsufficientCapacity { .. } | Self::NotReady => Hint::DoNotRetry,
            Self::Inner(e) => e.retry_hint(),
        }
    }
}
