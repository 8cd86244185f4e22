//! A metrics recorder for tests.

use std::collections::BTreeMap;

/// A recorder whose counters and gauges are readable atomics, keyed by
/// `name{label=value,...}`.
#[derive(Default)]
pub struct Values(std::sync::Mutex<BTreeMap<String, std::sync::Arc<std::sync::atomic::AtomicU64>>>);

impl Values {
    fn cell(&self, key: &::metrics::Key) -> std::sync::Arc<std::sync::atomic::AtomicU64> {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        self.0.lock().unwrap().entry(name).or_default().clone()
    }

    pub fn get(&self, name: &str) -> u64 {
        let cells = self.0.lock().unwrap();
        let cell = cells
            .get(name)
            .unwrap_or_else(|| panic!("{name} not registered"));
        cell.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn gauge(&self, name: &str) -> f64 {
        f64::from_bits(self.get(name))
    }
}

impl ::metrics::Recorder for Values {
    fn describe_counter(
        &self,
        _: ::metrics::KeyName,
        _: Option<::metrics::Unit>,
        _: ::metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: ::metrics::KeyName,
        _: Option<::metrics::Unit>,
        _: ::metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: ::metrics::KeyName,
        _: Option<::metrics::Unit>,
        _: ::metrics::SharedString,
    ) {
    }
    fn register_counter(
        &self,
        key: &::metrics::Key,
        _: &::metrics::Metadata<'_>,
    ) -> ::metrics::Counter {
        ::metrics::Counter::from_arc(self.cell(key))
    }
    fn register_gauge(
        &self,
        key: &::metrics::Key,
        _: &::metrics::Metadata<'_>,
    ) -> ::metrics::Gauge {
        ::metrics::Gauge::from_arc(self.cell(key))
    }
    fn register_histogram(
        &self,
        _: &::metrics::Key,
        _: &::metrics::Metadata<'_>,
    ) -> ::metrics::Histogram {
        ::metrics::Histogram::noop()
    }
}
