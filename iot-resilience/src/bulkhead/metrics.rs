//! Metric handles, registered once per bulkhead. Without the `metrics`
//! feature these are empty.

#[cfg(feature = "metrics")]
const IN_FLIGHT: &str = "resilience_bulkhead_in_flight";
#[cfg(feature = "metrics")]
const REJECTIONS: &str = "resilience_bulkhead_rejections_total";

#[derive(Debug, Clone)]
pub(crate) struct BulkheadMetrics {
    #[cfg(feature = "metrics")]
    in_flight: metrics::Gauge,
    #[cfg(feature = "metrics")]
    rejections: metrics::Counter,
}

impl BulkheadMetrics {
    pub(crate) fn new(name: &str) -> Self {
        #[cfg(feature = "metrics")]
        {
            metrics::describe_gauge!(
                IN_FLIGHT,
                metrics::Unit::Count,
                "Permits held: calls in flight plus ready services not yet called."
            );
            metrics::describe_counter!(
                REJECTIONS,
                metrics::Unit::Count,
                "Calls rejected because the bulkhead was full (after max_wait)."
            );
            Self {
                in_flight: metrics::gauge!(IN_FLIGHT, "name" => name.to_owned()),
                rejections: metrics::counter!(REJECTIONS, "name" => name.to_owned()),
            }
        }
        #[cfg(not(feature = "metrics"))]
        {
            let _ = name;
            Self {}
        }
    }

    #[inline]
    pub(crate) fn acquired(&self) {
        #[cfg(feature = "metrics")]
        self.in_flight.increment(1.0);
    }

    #[inline]
    pub(crate) fn released(&self) {
        #[cfg(feature = "metrics")]
        self.in_flight.decrement(1.0);
    }

    #[inline]
    pub(crate) fn rejected(&self) {
        #[cfg(feature = "metrics")]
        self.rejections.increment(1);
    }
}
