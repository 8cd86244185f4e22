//! Lock-free sliding windows of call outcomes.
//!
//! Both windows keep running totals in two packed `AtomicU64`s so that
//! evaluating the thresholds after a call is O(1):
//!
//! * `a = calls << 32 | failures`
//! * `b = slow << 32 | slow_failures`
//!
//! Modular addition on a packed word is exact as long as each field's true
//! value stays within `[0, 2^32)`. Fields never go below zero because every
//! writer adds a value to the totals *before* publishing it (in a ring slot
//! or a bucket, with release ordering) and subtracts a value only *after*
//! taking it out of a slot or bucket (with acquire ordering): the addition
//! then happens-before the subtraction, so it precedes it in the total's
//! modification order. Readers may transiently see calls still being
//! recorded (a slight over-count), never a negative or torn field.

mod count;
mod time;

use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) use count::CountWindow;
pub(crate) use time::TimeWindow;

use super::config::SlidingWindow;

/// A recorded call, as stored in a slot (0 means empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Sample {
    Success = 1,
    Failure = 2,
    SlowSuccess = 3,
    SlowFailure = 4,
}

impl Sample {
    pub(crate) fn new(failed: bool, slow: bool) -> Self {
        match (failed, slow) {
            (false, false) => Sample::Success,
            (true, false) => Sample::Failure,
            (false, true) => Sample::SlowSuccess,
            (true, true) => Sample::SlowFailure,
        }
    }
}

const LOW: u64 = u32::MAX as u64;

/// The packed increments of slot value `v` (0 = empty adds nothing).
#[inline]
fn deltas(v: u8) -> (u64, u64) {
    match v {
        1 => (1 << 32, 0),
        2 => ((1 << 32) | 1, 0),
        3 => (1 << 32, 1 << 32),
        4 => ((1 << 32) | 1, (1 << 32) | 1),
        _ => (0, 0),
    }
}

/// Counts of calls in a window (or of half-open probes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) calls: u32,
    pub(crate) failures: u32,
    pub(crate) slow: u32,
    pub(crate) slow_failures: u32,
}

impl Counts {
    fn unpack(a: u64, b: u64) -> Self {
        Counts {
            calls: (a >> 32) as u32,
            failures: (a & LOW) as u32,
            slow: (b >> 32) as u32,
            slow_failures: (b & LOW) as u32,
        }
    }

    pub(crate) fn add(&mut self, sample: Sample) {
        let (a, b) = deltas(sample as u8);
        let packed_a = (u64::from(self.calls) << 32 | u64::from(self.failures)).wrapping_add(a);
        let packed_b = (u64::from(self.slow) << 32 | u64::from(self.slow_failures)).wrapping_add(b);
        *self = Counts::unpack(packed_a, packed_b);
    }
}

/// Aligns a window's running totals to their own cache line, so the `Arc`
/// reference count allocated next to them does not bounce it.
#[derive(Debug, Default)]
#[repr(align(64))]
pub(crate) struct Padded<T>(pub(crate) T);

/// Running totals in two packed words.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    a: AtomicU64,
    b: AtomicU64,
}

impl Totals {
    #[inline]
    fn add(&self, v: u8) {
        let (a, b) = deltas(v);
        self.add_raw(a, b);
    }

    #[inline]
    fn add_raw(&self, a: u64, b: u64) {
        if a != 0 {
            self.a.fetch_add(a, Ordering::Relaxed);
        }
        if b != 0 {
            self.b.fetch_add(b, Ordering::Relaxed);
        }
    }

    #[inline]
    fn sub(&self, v: u8) {
        let (a, b) = deltas(v);
        self.sub_raw(a, b);
    }

    #[inline]
    fn sub_raw(&self, a: u64, b: u64) {
        if a != 0 {
            self.a.fetch_sub(a, Ordering::Relaxed);
        }
        if b != 0 {
            self.b.fetch_sub(b, Ordering::Relaxed);
        }
    }

    /// Takes everything out (used for buckets).
    fn take(&self) -> (u64, u64) {
        (
            self.a.swap(0, Ordering::AcqRel),
            self.b.swap(0, Ordering::AcqRel),
        )
    }

    #[inline]
    fn load(&self) -> Counts {
        Counts::unpack(
            self.a.load(Ordering::Relaxed),
            self.b.load(Ordering::Relaxed),
        )
    }
}

/// The closed state's window.
#[derive(Debug)]
pub(crate) enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Window {
    pub(crate) fn new(config: &SlidingWindow) -> Self {
        match *config {
            SlidingWindow::CountBased { size } => Window::Count(CountWindow::new(size)),
            SlidingWindow::TimeBased { duration, bucket } => {
                Window::Time(TimeWindow::new(duration, bucket))
            }
        }
    }

    /// Whether recording and reading need the current time.
    pub(crate) fn needs_time(&self) -> bool {
        matches!(self, Window::Time(_))
    }

    /// Records a call and returns the counts afterwards. `now_nanos` is only
    /// read by the time window.
    #[inline]
    pub(crate) fn record(&self, sample: Sample, now_nanos: u64) -> Counts {
        match self {
            Window::Count(w) => w.record(sample),
            Window::Time(w) => w.record(sample, now_nanos),
        }
    }

    /// The counts at `now_nanos` (expired buckets dropped first).
    pub(crate) fn counts(&self, now_nanos: u64) -> Counts {
        match self {
            Window::Count(w) => w.counts(),
            Window::Time(w) => w.counts(now_nanos),
        }
    }

    /// Empties the window. Safe against concurrent recorders.
    pub(crate) fn reset(&self) {
        match self {
            Window::Count(w) => w.reset(),
            Window::Time(w) => w.reset(),
        }
    }
}
