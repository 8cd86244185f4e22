//! Metric handles, registered once per limiter so the hot path only
//! increments. Without the `metrics` feature these are empty.

/// `resilience_rate_limit_decisions_total{name, decision}`.
#[derive(Debug, Clone)]
pub(crate) struct DecisionMetrics {
    #[cfg(feature = "metrics")]
    allowed: metrics::Counter,
    #[cfg(feature = "metrics")]
    rejected: metrics::Counter,
    #[cfg(feature = "metrics")]
    waited: metrics::Counter,
}

#[cfg(feature = "metrics")]
const DECISIONS: &str = "resilience_rate_limit_decisions_total";

impl DecisionMetrics {
    pub(crate) fn new(name: &str) -> Self {
        #[cfg(feature = "metrics")]
        {
            metrics::describe_counter!(
                DECISIONS,
                metrics::Unit::Count,
                "Rate limiter decisions: allowed at once, allowed after waiting, or rejected."
            );
            let counter = |decision: &'static str| metrics::counter!(DECISIONS, "name" => name.to_owned(), "decision" => decision);
            Self {
                allowed: counter("allowed"),
                rejected: counter("rejected"),
                waited: counter("waited"),
            }
        }
        #[cfg(not(feature = "metrics"))]
        {
            let _ = name;
            Self {}
        }
    }

    #[inline]
    pub(crate) fn allowed(&self) {
        #[cfg(feature = "metrics")]
        self.allowed.increment(1);
    }

    #[inline]
    pub(crate) fn rejected(&self) {
        #[cfg(feature = "metrics")]
        self.rejected.increment(1);
    }

    #[inline]
    pub(crate) fn waited(&self) {
        #[cfg(feature = "metrics")]
        self.waited.increment(1);
    }
}

/// `resilience_rate_limit_keys{name}` and
/// `resilience_rate_limit_evictions_total{name, reason}`.
#[derive(Debug, Clone)]
pub(crate) struct KeyMetrics {
    #[cfg(feature = "metrics")]
    keys: metrics::Gauge,
    #[cfg(feature = "metrics")]
    idle_evictions: metrics::Counter,
    #[cfg(feature = "metrics")]
    busy_evictions: metrics::Counter,
}

#[cfg(feature = "metrics")]
const KEYS: &str = "resilience_rate_limit_keys";
#[cfg(feature = "metrics")]
const EVICTIONS: &str = "resilience_rate_limit_evictions_total";

impl KeyMetrics {
    pub(crate) fn new(name: &str) -> Self {
        #[cfg(feature = "metrics")]
        {
            metrics::describe_gauge!(
                KEYS,
                metrics::Unit::Count,
                "Keys currently tracked by a keyed rate limiter."
            );
            metrics::describe_counter!(
                EVICTIONS,
                metrics::Unit::Count,
                "Keys evicted from a keyed rate limiter: idle (full bucket, lossless) or busy (least recently used, gets a fresh burst)."
            );
            let evictions = |reason: &'static str| metrics::counter!(EVICTIONS, "name" => name.to_owned(), "reason" => reason);
            Self {
                keys: metrics::gauge!(KEYS, "name" => name.to_owned()),
                idle_evictions: evictions("idle"),
                busy_evictions: evictions("busy"),
            }
        }
        #[cfg(not(feature = "metrics"))]
        {
            let _ = name;
            Self {}
        }
    }

    #[inline]
    pub(crate) fn inserted(&self) {
        #[cfg(feature = "metrics")]
        self.keys.increment(1.0);
    }

    pub(crate) fn evicted(&self, idle: usize, busy: usize) {
        #[cfg(feature = "metrics")]
        {
            self.keys.decrement((idle + busy) as f64);
            self.idle_evictions.increment(idle as u64);
            self.busy_evictions.increment(busy as u64);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = (idle, busy);
    }
}
