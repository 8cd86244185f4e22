//! Placeholder: filled by the resilience benchmark.
fn main() {}
