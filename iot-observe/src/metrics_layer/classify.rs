//! Classifying a completed request as a success or an error.

/// The `outcome` label value of a completed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// `outcome="success"`.
    Success,
    /// `outcome="error"`.
    Error,
}

impl Outcome {
    /// The label value: `success` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
        }
    }
}

/// Decides the [`Outcome`] of a service call from its result.
///
/// Implemented by [`DefaultClassifier`], [`ServerErrorsAsFailures`] and by
/// any `Fn(&Result<Resp, E>) -> Outcome`.
pub trait Classify<Resp, E> {
    /// The outcome of `result`.
    fn classify(&self, result: &Result<Resp, E>) -> Outcome;
}

/// `Ok` is a success, `Err` an error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultClassifier;

impl<Resp, E> Classify<Resp, E> for DefaultClassifier {
    #[inline]
    fn classify(&self, result: &Result<Resp, E>) -> Outcome {
        match result {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Error,
        }
    }
}

/// For HTTP services: `Err` and responses with a 5xx status are errors;
/// everything else (including 4xx, the client's fault) is a success.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerErrorsAsFailures;

impl<B, E> Classify<http::Response<B>, E> for ServerErrorsAsFailures {
    #[inline]
    fn classify(&self, result: &Result<http::Response<B>, E>) -> Outcome {
        match result {
            Ok(response) if !response.status().is_server_error() => Outcome::Success,
            _ => Outcome::Error,
        }
    }
}

impl<F, Resp, E> Classify<Resp, E> for F
where
    F: Fn(&Result<Resp, E>) -> Outcome,
{
    #[inline]
    fn classify(&self, result: &Result<Resp, E>) -> Outcome {
        self(result)
    }
}
