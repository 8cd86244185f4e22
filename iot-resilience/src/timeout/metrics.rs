//! Metric handles and shared per-layer state.

use std::borrow::Cow;

#[cfg(feature = "metrics")]
const ELAPSED: &str = "resilience_timeout_elapsed_total";

/// What every service and response future of one layer shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) name: Cow<'static, str>,
    #[cfg(feature = "metrics")]
    elapsed: metrics::Counter,
}

impl Shared {
    pub(crate) fn new(name: Cow<'static, str>) -> Self {
        #[cfg(feature = "metrics")]
        {
            metrics::describe_counter!(
                ELAPSED,
                metrics::Unit::Count,
                "Calls that did not complete within their timeout."
            );
            Self {
                elapsed: metrics::counter!(ELAPSED, "name" => name.clone().into_owned()),
                name,
            }
        }
        #[cfg(not(feature = "metrics"))]
        Self { name }
    }

    #[cold]
    pub(crate) fn elapsed(&self, after: std::time::Duration) {
        #[cfg(feature = "metrics")]
        self.elapsed.increment(1);
        tracing::debug!(name = %self.name, ?after, "timeout: call timed out");
    }
}
