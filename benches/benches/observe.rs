//! Placeholder: filled by the observe benchmark.
fn main() {}
