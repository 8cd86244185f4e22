//! What to retry: predicates over outcomes, and hints read from responses.

use crate::{Hint, RetryHint};

/// Decides whether an outcome is worth retrying, given the whole
/// `Result`: retry some errors, and some responses (e.g. HTTP 503).
///
/// Implemented by closures `Fn(&Result<Res, E>) -> bool` and by
/// [`RetryOnError`], the default. Whatever the predicate says, an outcome
/// whose [hint](crate::RetryHint) is [`Hint::DoNotRetry`] is not retried.
///
/// ```
/// use iot_resilience::retry::RetryPredicate;
///
/// // Retry errors and 503 responses.
/// let predicate = |result: &Result<u16, std::io::Error>| match result {
///     Ok(status) => *status == 503,
///     Err(_) => true,
/// };
/// assert!(predicate.should_retry(&Ok(503)));
/// assert!(!predicate.should_retry(&Ok(200)));
/// ```
pub trait RetryPredicate<Res, E> {
    /// `true` to retry (if attempts, deadline and budget allow).
    fn should_retry(&self, result: &Result<Res, E>) -> bool;
}

/// The default predicate: retry every error, never a response. Errors whose
/// hint is [`Hint::DoNotRetry`] are still not retried.
#[derive(Debug, Clone, Copy, Default)]
pub struct RetryOnError;

impl<Res, E> RetryPredicate<Res, E> for RetryOnError {
    #[inline]
    fn should_retry(&self, result: &Result<Res, E>) -> bool {
        result.is_err()
    }
}

impl<F, Res, E> RetryPredicate<Res, E> for F
where
    F: Fn(&Result<Res, E>) -> bool,
{
    #[inline]
    fn should_retry(&self, result: &Result<Res, E>) -> bool {
        self(result)
    }
}

/// Reads a server hint from a successful response (e.g. the `Retry-After`
/// header of a 503). Errors give theirs through [`RetryHint`].
///
/// Implemented by [`NoResponseHint`] (the default), [`HintFromResponse`]
/// (for responses implementing [`RetryHint`]) and closures
/// `Fn(&Res) -> Hint`.
pub trait ResponseHint<Res> {
    /// The hint carried by `response`.
    fn response_hint(&self, response: &Res) -> Hint;
}

/// Responses carry no hint.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoResponseHint;

impl<Res> ResponseHint<Res> for NoResponseHint {
    #[inline]
    fn response_hint(&self, _: &Res) -> Hint {
        Hint::None
    }
}

/// The response's own [`RetryHint`] implementation.
#[derive(Debug, Clone, Copy, Default)]
pub struct HintFromResponse;

impl<Res: RetryHint> ResponseHint<Res> for HintFromResponse {
    #[inline]
    fn response_hint(&self, response: &Res) -> Hint {
        response.retry_hint()
    }
}

impl<F, Res> ResponseHint<Res> for F
where
    F: Fn(&Res) -> Hint,
{
    #[inline]
    fn response_hint(&self, response: &Res) -> Hint {
        self(response)
    }
}
