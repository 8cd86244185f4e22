//! Arbitrary durations for the configuration round-trip property tests of
//! every crate (issue #16, "one duration format"): nanosecond precision
//! up to `Duration::MAX`, whole milliseconds, and the two ends.

use std::time::Duration;

use proptest::prelude::*;

/// Any `Duration`, weighted towards the shapes configurations hold.
pub fn any_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (any::<u64>(), 0..1_000_000_000u32).prop_map(|(s, n)| Duration::new(s, n)),
        (0..1_000_000_000_000u64).prop_map(Duration::from_nanos),
        (0..10_000_000u64).prop_map(Duration::from_millis),
        Just(Duration::ZERO),
        Just(Duration::MAX),
    ]
}
