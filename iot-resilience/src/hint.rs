//! Server hints: how an error or response tells the retry layer what to do.

use std::time::Duration;

/// What an outcome says about retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hint {
    /// No opinion: the retry policy decides.
    None,
    /// Retrying is pointless (e.g. a 4xx response, an MQTT 5 "not
    /// authorized" reason code, an invalid payload).
    DoNotRetry,
    /// Retry, but not before this long (e.g. from `Retry-After`, or the
    /// time until a rate limiter or open breaker admits calls again).
    RetryAfter(Duration),
}

/// Implemented by errors and responses that know whether retrying helps.
///
/// Every error of this crate implements it: a rate-limit rejection says
/// `RetryAfter(retry_after)`, an open circuit says `RetryAfter(remaining
/// open time)`, an invalid-configuration or not-ready error says
/// `DoNotRetry`; wrappers forward their inner error's hint.
///
/// ```
/// use std::time::Duration;
/// use iot_resilience::{Hint, RetryHint};
///
/// enum ApiError { Throttled { seconds: u64 }, BadRequest, Io }
///
/// impl RetryHint for ApiError {
///     fn retry_hint(&self) -> Hint {
///         match self {
///             ApiError::Throttled { seconds } => Hint::RetryAfter(Duration::from_secs(*seconds)),
///             ApiError::BadRequest => Hint::DoNotRetry,
///             ApiError::Io => Hint::None,
///         }
///     }
/// }
/// ```
pub trait RetryHint {
    /// The hint; [`Hint::None`] by default.
    fn retry_hint(&self) -> Hint {
        Hint::None
    }
}

impl RetryHint for std::io::Error {}
impl RetryHint for String {}
impl RetryHint for &'static str {}
impl RetryHint for () {}
impl RetryHint for std::convert::Infallible {}
impl RetryHint for Box<dyn std::error::Error + Send + Sync> {}
