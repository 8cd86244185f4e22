//! The timeout layer's error.

use std::time::Duration;

use crate::{Hint, RetryHint};

/// The error of [`Timeout`](super::Timeout): the deadline passed, or the
/// inner service's error `E` unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeoutError<E> {
    /// No response within `after`; the inner future was dropped.
    #[error("request timed out after {after:?}")]
    Elapsed {
        /// The timeout that applied to this call.
        after: Duration,
    },
    /// The inner service failed.
    #[error(transparent)]
    Inner(E),
    /// `call` was invoked without `poll_ready` returning `Ready(Ok)`
    /// first; the inner service was not called.
    #[error("timeout service called before poll_ready returned Ready")]
    NotReady,
}

impl<E> TimeoutError<E> {
    /// Whether the call timed out.
    pub fn is_elapsed(&self) -> bool {
        matches!(self, Self::Elapsed { .. })
    }

    /// The inner service's error, if that is what this is.
    pub fn into_inner(self) -> Option<E> {
        match self {
            Self::Inner(e) => Some(e),
            Self::Elapsed { .. } | Self::NotReady => None,
        }
    }
}

impl<E: RetryHint> RetryHint for TimeoutError<E> {
    /// A timeout has no opinion (the retry policy decides); inner errors
    /// keep theirs; misuse (`NotReady`) is not worth retrying, as with the
    /// other layers.
    fn retry_hint(&self) -> Hint {
        match self {
            Self::Elapsed { .. } => Hint::None,
            Self::Inner(e) => e.retry_hint(),
            Self::NotReady => Hint::DoNotRetry,
        }
    }
}
