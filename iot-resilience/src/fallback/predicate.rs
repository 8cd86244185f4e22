//! Which errors trigger the fallback.

/// Decides whether an error of the primary service is handled by the
/// fallback.
///
/// Implemented by [`AnyError`] (the default) and by every
/// `Fn(&E) -> bool` closure, e.g.
/// `|e: &CircuitBreakerError<_>| e.is_rejected()` to fall back only while
/// a circuit is open.
pub trait FallbackPredicate<E> {
    /// Whether `error` should be handled by the fallback.
    fn should_fallback(&self, error: &E) -> bool;
}

/// Every error triggers the fallback.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnyError;

impl<E> FallbackPredicate<E> for AnyError {
    #[inline]
    fn should_fallback(&self, _: &E) -> bool {
        true
    }
}

impl<E, F: Fn(&E) -> bool> FallbackPredicate<E> for F {
    #[inline]
    fn should_fallback(&self, error: &E) -> bool {
        self(error)
    }
}
