//! Placeholder: filled by the mqtt benchmark.
fn main() {}
