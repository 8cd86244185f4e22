//! The fallback layer's error.

use crate::{Hint, RetryHint};

/// The error of [`Fallback`](super::Fallback): the primary error when no
/// fallback applied, or both errors when the fallback failed too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FallbackError<E, F> {
    /// The primary service failed with an error the predicate did not
    /// select for a fallback.
    #[error(transparent)]
    Inner(E),
    /// The primary service failed and so did the fallback.
    #[error("fallback failed: {fallback} (primary error: {primary})")]
    Fallback {
        /// The primary service's error.
        primary: E,
        /// The fallback's error.
        #[source]
        fallback: F,
    },
    /// `call` was invoked without `poll_ready` returning `Ready(Ok)`
    /// first; neither the primary service nor the fallback was called.
    #[error("fallback service called before poll_ready returned Ready")]
    NotReady,
}

impl<E, F> FallbackError<E, F> {
    /// The primary service's error (`None` for
    /// [`NotReady`](Self::NotReady), where it was not called).
    pub fn primary(&self) -> Option<&E> {
        match self {
            Self::Inner(e) | Self::Fallback { primary: e, .. } => Some(e),
            Self::NotReady => None,
        }
    }

    /// The primary service's error, by value (`None` for
    /// [`NotReady`](Self::NotReady)).
    pub fn into_primary(self) -> Option<E> {
        match self {
            Self::Inner(e) | Self::Fallback { primary: e, .. } => Some(e),
            Self::NotReady => None,
        }
    }
}

impl<E: RetryHint, F: RetryHint> RetryHint for FallbackError<E, F> {
    /// The primary error's hint, or the fallback's if it ran and failed
    /// (it is the last thing that was tried).
    fn retry_hint(&self) -> Hint {
        match self {
            Self::Inner(e) => e.retry_hint(),
            Self::Fallback { fallback, .. } => fallback.retry_hint(),
            Self::NotReady => Hint::DoNotRetry,
        }
    }
}
