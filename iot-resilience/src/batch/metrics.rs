//! Metric handles, registered once per layer. Without the `metrics`
//! feature these are empty.

use super::error::FlushReason;

#[cfg(feature = "metrics")]
const SIZE: &str = "resilience_batch_size";
#[cfg(feature = "metrics")]
const FLUSHES: &str = "resilience_batch_flushes_total";
#[cfg(feature = "metrics")]
const PENDING: &str = "resilience_batch_pending";

#[derive(Debug, Clone)]
pub(crate) struct BatchMetrics {
    #[cfg(feature = "metrics")]
    size: metrics::Histogram,
    /// One per [`FlushReason::ALL`], in that order.
    #[cfg(feature = "metrics")]
    flushes: [metrics::Counter; 4],
    #[cfg(feature = "metrics")]
    pending: metrics::Gauge,
}

impl BatchMetrics {
    pub(crate) fn new(name: &str) -> Self {
        #[cfg(feature = "metrics")]
        {
            metrics::describe_histogram!(
                SIZE,
                metrics::Unit::Count,
                "Items per batch handed to the inner service."
            );
            metrics::describe_counter!(
                FLUSHES,
                metrics::Unit::Count,
                "Batches flushed, by what triggered the flush (count, bytes, age, close)."
            );
            metrics::describe_gauge!(
                PENDING,
                metrics::Unit::Count,
                "Items accepted and not yet handed to the inner service."
            );
            Self {
                size: metrics::histogram!(SIZE, "name" => name.to_owned()),
                flushes: FlushReason::ALL.map(|reason| {
                    metrics::counter!(FLUSHES, "name" => name.to_owned(), "reason" => reason.as_str())
                }),
                pending: metrics::gauge!(PENDING, "name" => name.to_owned()),
            }
        }
        #[cfg(not(feature = "metrics"))]
        {
            let _ = name;
            Self {}
        }
    }

    /// A batch of `items` was handed to the inner service.
    #[inline]
    pub(crate) fn flushed(&self, items: usize, reason: FlushReason) {
        #[cfg(feature = "metrics")]
        {
            self.size.record(items as f64);
            self.flushes[reason as usize].increment(1);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = (items, reason);
    }

    /// Items became pending (`delta` > 0) or left (`delta` < 0).
    #[inline]
    pub(crate) fn pending_moved(&self, delta: f64) {
        #[cfg(feature = "metrics")]
        self.pending.increment(delta);
        #[cfg(not(feature = "metrics"))]
        let _ = delta;
    }
}
