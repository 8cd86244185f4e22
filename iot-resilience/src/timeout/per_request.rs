//! Per-request timeouts.

use std::time::Duration;

/// Picks a request's timeout; `None` means the configured one.
///
/// Implemented by [`DefaultTimeout`] (always the configured timeout) and by
/// every `Fn(&Req) -> Option<Duration>` closure, e.g. one reading a
/// deadline header or a priority field.
pub trait RequestTimeout<Req> {
    /// The timeout for `req`, or `None` for the configured one.
    fn timeout(&self, req: &Req) -> Option<Duration>;
}

/// Every request gets the configured timeout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultTimeout;

impl<Req> RequestTimeout<Req> for DefaultTimeout {
    #[inline]
    fn timeout(&self, _: &Req) -> Option<Duration> {
        None
    }
}

impl<Req, F: Fn(&Req) -> Option<Duration>> RequestTimeout<Req> for F {
    #[inline]
    fn timeout(&self, req: &Req) -> Option<Duration> {
        self(req)
    }
}
