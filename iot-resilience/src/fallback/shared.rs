//! What a service and its response futures share.

use std::borrow::Cow;

use super::metrics::FallbackMetrics;

#[derive(Debug)]
pub(crate) struct Shared<H, P> {
    pub(crate) handler: H,
    pub(crate) predicate: P,
    pub(crate) name: Cow<'static, str>,
    pub(crate) metrics: FallbackMetrics,
}

impl<H, P> Shared<H, P> {
    pub(crate) fn new(handler: H, predicate: P, name: Cow<'static, str>) -> Self {
        Self {
            handler,
            predicate,
            metrics: FallbackMetrics::new(&name),
            name,
        }
    }
}
