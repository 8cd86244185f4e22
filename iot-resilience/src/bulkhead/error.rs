//! The bulkhead's error.

use std::time::Duration;

use crate::{Hint, RetryHint};

/// The error of [`Bulkhead`](super::Bulkhead): a rejection, or the inner
/// service's error `E` unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BulkheadError<E> {
    /// All `max_concurrent` permits were in use (for `waited`, at most
    /// `max_wait`). The inner service was not called.
    #[error("bulkhead full: {max_concurrent} calls in flight (waited {waited:?})")]
    Full {
        /// The configured limit.
        max_concurrent: usize,
        /// How long `poll_ready` waited for a permit.
        waited: Duration,
    },
    /// `call` was invoked without a successful `poll_ready` first.
    #[error("the bulkhead service was called before it was ready")]
    NotReady,
    /// The inner service failed.
    #[error(transparent)]
    Inner(E),
}

impl<E> BulkheadError<E> {
    /// Whether the bulkhead refused the call.
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full { .. })
    }

    /// The inner service's error, if that is what this is.
    pub fn into_inner(self) -> Option<E> {
        match self {
            Self::Inner(e) => Some(e),
            _ => None,
        }
    }
}

impl<E: RetryHint> RetryHint for BulkheadError<E> {
    /// A full bulkhead has no opinion (the retry policy decides when to
    /// try again); calling a service that was not ready is a bug.
    fn retry_hint(&self) -> Hint {
        match self {
            Self::Full { .. } => Hint::None,
            Self::NotReady => Hint::DoNotRetry,
            Self::Inner(e) => e.retry_hint(),
        }
    }
}
