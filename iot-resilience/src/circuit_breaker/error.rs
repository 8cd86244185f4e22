//! The breaker's error type.

use std::fmt;
use std::time::Duration;

use super::State;
use crate::{Hint, RetryHint};

/// A call the breaker did not let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    /// The state that rejected the call: [`State::Open`],
    /// [`State::HalfOpen`] (all probe permits taken) or
    /// [`State::ForcedOpen`].
    pub state: State,
    /// For [`State::Open`], how long until the breaker admits probes.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "circuit breaker is {}, call not permitted", self.state)?;
        if let Some(d) = self.retry_after {
            write!(f, " (retry after {d:?})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Rejected {}

impl RetryHint for Rejected {
    /// Open: `RetryAfter(remaining open time)`. Forced open: `DoNotRetry`
    /// (only an operator closes it). Half-open: no opinion (probes are in
    /// flight; their outcome is not known yet).
    fn retry_hint(&self) -> Hint {
        match (self.state, self.retry_after) {
            (_, Some(d)) => Hint::RetryAfter(d),
            (State::ForcedOpen, None) => Hint::DoNotRetry,
            _ => Hint::None,
        }
    }
}

/// Error of the [`CircuitBreaker`](super::CircuitBreaker) service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CircuitBreakerError<E> {
    /// The breaker rejected the call; the inner service was not called.
    #[error("{}", Rejected { state: *state, retry_after: *retry_after })]
    Open {
        /// The state that rejected the call ([`State::Open`],
        /// [`State::HalfOpen`] or [`State::ForcedOpen`]).
        state: State,
        /// For [`State::Open`], the remaining open time.
        retry_after: Option<Duration>,
    },
    /// The inner service failed (its error, untouched).
    #[error(transparent)]
    Inner(E),
    /// `call` was invoked without a successful `poll_ready` first.
    #[error("circuit breaker service called before poll_ready returned Ready")]
    NotReady,
}

impl<E> CircuitBreakerError<E> {
    /// The inner error, if this is one.
    pub fn into_inner(self) -> Option<E> {
        match self {
            CircuitBreakerError::Inner(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the breaker rejected the call.
    pub fn is_rejected(&self) -> bool {
        matches!(self, CircuitBreakerError::Open { .. })
    }
}

impl<E> From<Rejected> for CircuitBreakerError<E> {
    fn from(r: Rejected) -> Self {
        CircuitBreakerError::Open {
            state: r.state,
            retry_after: r.retry_after,
        }
    }
}

impl<E: RetryHint> RetryHint for CircuitBreakerError<E> {
    fn retry_hint(&self) -> Hint {
        match self {
            CircuitBreakerError::Open { state, retry_after } => Rejected {
                state: *state,
                retry_after: *retry_after,
            }
            .retry_hint(),
            CircuitBreakerError::Inner(e) => e.retry_hint(),
            CircuitBreakerError::NotReady => Hint::DoNotRetry,
        }
    }
}
