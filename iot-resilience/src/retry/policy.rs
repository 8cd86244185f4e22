//! What to retry: predicates over outcomes, and hints read from responses.

use std::fmt;
use std::sync::Arc;

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

/// Classifies an error for the retry layer: the [`Hint`] it carries.
///
/// The default, [`HintFromError`], asks the error's own [`RetryHint`]
/// implementation. For error types of other crates, which cannot implement
/// `RetryHint` here, pass a closure `Fn(&E) -> Hint`, a [`DynErrorHint`]
/// or [`NoErrorHint`] to
/// [`RetryLayer::with_error_hint`](super::RetryLayer::with_error_hint).
/// [`Hint::None`] leaves the decision to the predicate (by default: retry),
/// [`Hint::DoNotRetry`] stops, [`Hint::RetryAfter`] retries no sooner.
pub trait ErrorHint<E> {
    /// The hint carried by `error`.
    fn error_hint(&self, error: &E) -> Hint;
}

/// The error's own [`RetryHint`] implementation (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct HintFromError;

impl<E: RetryHint> ErrorHint<E> for HintFromError {
    #[inline]
    fn error_hint(&self, error: &E) -> Hint {
        error.retry_hint()
    }
}

/// Errors carry no hint: every error is left to the predicate (with the
/// default predicate, every error is retried). For any error type.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoErrorHint;

impl<E> ErrorHint<E> for NoErrorHint {
    #[inline]
    fn error_hint(&self, _: &E) -> Hint {
        Hint::None
    }
}

impl<F, E> ErrorHint<E> for F
where
    F: Fn(&E) -> Hint,
{
    #[inline]
    fn error_hint(&self, error: &E) -> Hint {
        self(error)
    }
}

/// A type-erased error classifier, for when the classifier is chosen at
/// run time or its type must be named (a field, a type alias): one
/// allocation when made, cheap to clone.
///
/// ```
/// use iot_resilience::Hint;
/// use iot_resilience::retry::{DynErrorHint, ErrorHint};
///
/// let strict = true;
/// let hint: DynErrorHint<String> = if strict {
///     DynErrorHint::new(|_: &String| Hint::DoNotRetry)
/// } else {
///     DynErrorHint::new(|_: &String| Hint::None)
/// };
/// assert_eq!(hint.error_hint(&"boom".to_string()), Hint::DoNotRetry);
/// ```
pub struct DynErrorHint<E>(Arc<dyn Fn(&E) -> Hint + Send + Sync>);

impl<E> DynErrorHint<E> {
    /// Wraps `classify`.
    pub fn new(classify: impl Fn(&E) -> Hint + Send + Sync + 'static) -> Self {
        Self(Arc::new(classify))
    }
}

impl<E> From<Arc<dyn Fn(&E) -> Hint + Send + Sync>> for DynErrorHint<E> {
    fn from(classify: Arc<dyn Fn(&E) -> Hint + Send + Sync>) -> Self {
        Self(classify)
    }
}

impl<E> Clone for DynErrorHint<E> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<E> fmt::Debug for DynErrorHint<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynErrorHint").finish_non_exhaustive()
    }
}

impl<E> ErrorHint<E> for DynErrorHint<E> {
    #[inline]
    fn error_hint(&self, error: &E) -> Hint {
        (self.0)(error)
    }
}
