//! The fallback layer's error.

use crate::{Hint, RetryHint};

/// The error of [`Fallback`](super::Fallback): the primary error when no
/// fallback applied, or both errors when the fallback failed too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
}

impl<E, F> FallbackError<E, F> {
    /// The primary service's error, in both cases.
    pub fn primary(&self) -> &E {
        match self {
            Self::Inner(e) | Self::Fallback { primary: e, .. } => e,
        }
    }

    /// The primary service's error, in both cases.
    pub fn into_primary(self) -> E {
        match self {
            Self::Inner(e) | Self::Fallback { primary: e, .. } => e,
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
        }
    }
}
