//! Arbitrary durations for the configuration round-trip property tests of
//! every crate (issue #16, "one duration format"): nanosecond precision
//! up to `Duration::MAX`, whole milliseconds, and the two ends.

use std::time::Duration;

use proptest::prelude::*;

/// Any `Duration`, weighted towards the shapes configurations hold.
pub fn any_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (any::<u64>(), 0..1_000_000_000u32).prop_map(|(s, n)| Duration::new(s, n)),
        // Up to a day or so, with nanoseconds: what timeouts hold.
        (0..100_000u64, 0..1_000_000_000u32).prop_map(|(s, n)| Duration::new(s, n)),
        (0..1_000_000_000_000u64).prop_map(Duration::from_nanos),
        (0..10_000_000u64).prop_map(Duration::from_millis),
        // Whole milliseconds of any size (a unit change at every scale).
        (0..u64::MAX / 1000).prop_map(Duration::from_millis),
        Just(Duration::ZERO),
        Just(Duration::MAX),
    ]
}
