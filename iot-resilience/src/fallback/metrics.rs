//! Metric handles, registered once per service construction.

#[cfg(feature = "metrics")]
const INVOCATIONS: &str = "resilience_fallback_invocations_total";

#[derive(Debug, Clone)]
pub(crate) struct FallbackMetrics {
    #[cfg(feature = "metrics")]
    success: metrics::Counter,
    #[cfg(feature = "metrics")]
    failure: metrics::Counter,
}

impl FallbackMetrics {
    pub(crate) fn new(name: &str) -> Self {
        #[cfg(feature = "metrics")]
        {
            metrics::describe_counter!(
                INVOCATIONS,
                metrics::Unit::Count,
                "Fallbacks run after a primary failure, by whether the fallback succeeded."
            );
            let counter = |outcome: &'static str| metrics::counter!(INVOCATIONS, "name" => name.to_owned(), "outcome" => outcome);
            Self {
                success: counter("success"),
                failure: counter("failure"),
            }
        }
        #[cfg(not(feature = "metrics"))]
        {
            let _ = name;
            Self {}
        }
    }

    pub(crate) fn succeeded(&self) {
        #[cfg(feature = "metrics")]
        self.success.increment(1);
    }

    pub(crate) fn failed(&self) {
        #[cfg(feature = "metrics")]
        self.failure.increment(1);
    }
}
