//! Deciding what a call's result means to the breaker.

/// What a completed call counts as.
///
/// Whether it was *slow* is decided separately, from its duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Outcome {
    /// Counts as a success.
    Success,
    /// Counts as a failure.
    Failure,
    /// Not recorded at all (e.g. a client error that says nothing about the
    /// backend's health). A half-open probe that is ignored gives its permit
    /// back.
    Ignored,
}

/// Classifies a call's result as [`Outcome::Success`], [`Outcome::Failure`]
/// or [`Outcome::Ignored`].
///
/// Implemented for every `Fn(&Result<Res, E>) -> Outcome`, so a closure is a
/// classifier:
///
/// ```
/// use iot_resilience::circuit_breaker::{Classifier, Outcome};
///
/// // HTTP-like: 5xx are failures, 4xx say nothing about the backend.
/// let classify = |r: &Result<u16, std::io::Error>| match r {
///     Ok(status) if *status >= 500 => Outcome::Failure,
///     Ok(status) if *status >= 400 => Outcome::Ignored,
///     Ok(_) => Outcome::Success,
///     Err(_) => Outcome::Failure,
/// };
/// assert_eq!(classify.classify(&Ok(503)), Outcome::Failure);
/// assert_eq!(classify.classify(&Ok(404)), Outcome::Ignored);
/// ```
pub trait Classifier<Res, E> {
    /// The outcome of `result`.
    fn classify(&self, result: &Result<Res, E>) -> Outcome;
}

impl<F, Res, E> Classifier<Res, E> for F
where
    F: Fn(&Result<Res, E>) -> Outcome,
{
    #[inline]
    fn classify(&self, result: &Result<Res, E>) -> Outcome {
        self(result)
    }
}

/// The default classifier: `Ok` is a success, `Err` a failure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultClassifier;

impl<Res, E> Classifier<Res, E> for DefaultClassifier {
    #[inline]
    fn classify(&self, result: &Result<Res, E>) -> Outcome {
        match result {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Failure,
        }
    }
}
