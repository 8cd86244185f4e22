//! Time-based window: a ring of per-bucket counters stamped with their
//! bucket number.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{Counts, Padded, Sample, Totals};

/// Stamp of a bucket being cleared; writers wait for it to go away.
const LOCKED: u64 = u64::MAX;

// The memory budgets of per-key breakers count this size.
const _: () =
    assert!(std::mem::size_of::<Bucket>() == crate::circuit_breaker::config::TIME_BUCKET_BYTES);

#[derive(Debug, Default)]
struct Bucket {
    /// Bucket number + 1 of the counts held (0: never used).
    stamp: AtomicU64,
    counts: Totals,
}

/// The calls of the last `n` buckets (the current one included).
#[derive(Debug)]
pub(crate) struct TimeWindow {
    totals: Padded<Totals>,
    /// Highest bucket number + 1 the window has been moved to.
    head: AtomicU64,
    bucket_nanos: u64,
    buckets: Box<[Bucket]>,
}

impl TimeWindow {
    pub(crate) fn new(duration: Duration, bucket: Duration) -> Self {
        let bucket_nanos = u64::try_from(bucket.as_nanos()).unwrap_or(u64::MAX).max(1);
        let n = (duration.as_nanos() / u128::from(bucket_nanos)).max(1);
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        Self {
            totals: Padded::default(),
            head: AtomicU64::new(0),
            bucket_nanos,
            buckets: (0..n).map(|_| Bucket::default()).collect(),
        }
    }

    #[inline]
    fn bucket(&self, number: u64) -> &Bucket {
        &self.buckets[(number % self.buckets.len() as u64) as usize]
    }

    #[inline]
    pub(crate) fn record(&self, sample: Sample, now_nanos: u64) -> Counts {
        let number = now_nanos / self.bucket_nanos;
        self.advance(number);
        let v = sample as u8;
        // Totals first, bucket second: see the module docs of `window`.
        self.totals.0.add(v);
        let bucket = self.bucket(number);
        let stamp = number + 1;
        loop {
            let s = bucket.stamp.load(Ordering::Acquire);
            if s == LOCKED {
                backoff();
            } else if s >= stamp {
                // Current bucket (or a newer one if this thread was stalled
                // for a whole window: the call is then counted as newer).
                bucket.counts.add(v);
                break;
            } else {
                self.clear(bucket, s, stamp);
            }
        }
        self.totals.0.load()
    }

    /// Moves the window to bucket `number`, clearing buckets that fell out.
    #[inline]
    fn advance(&self, number: u64) {
        let head = self.head.load(Ordering::Acquire);
        if number < head {
            return;
        }
        self.advance_slow(head, number);
    }

    #[cold]
    fn advance_slow(&self, mut head: u64, number: u64) {
        loop {
            match self.head.compare_exchange_weak(
                head,
                number + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(h) if h > number => return,
                Err(h) => head = h,
            }
        }
        let n = self.buckets.len() as u64;
        let first = head.max((number + 1).saturating_sub(n));
        for x in first..=number {
            let bucket = self.bucket(x);
            let s = bucket.stamp.load(Ordering::Acquire);
            if s != LOCKED && s < x + 1 {
                self.clear(bucket, s, x + 1);
            }
        }
    }

    /// Empties `bucket` (seen with stamp `seen`) and stamps it `stamp`.
    /// Gives up if someone else moved the stamp meanwhile.
    fn clear(&self, bucket: &Bucket, seen: u64, stamp: u64) {
        if bucket
            .stamp
            .compare_exchange(seen, LOCKED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            let (a, b) = bucket.counts.take();
            self.totals.0.sub_raw(a, b);
            bucket.stamp.store(stamp, Ordering::Release);
        }
    }

    pub(crate) fn counts(&self, now_nanos: u64) -> Counts {
        self.advance(now_nanos / self.bucket_nanos);
        self.totals.0.load()
    }

    pub(crate) fn reset(&self) {
        for bucket in self.buckets.iter() {
            loop {
                let s = bucket.stamp.load(Ordering::Acquire);
                if s == LOCKED {
                    backoff();
                    continue;
                }
                if bucket
                    .stamp
                    .compare_exchange(s, LOCKED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    let (a, b) = bucket.counts.take();
                    self.totals.0.sub_raw(a, b);
                    // Keep the stamp: the bucket is empty but current.
                    bucket.stamp.store(s, Ordering::Release);
                    break;
                }
            }
        }
    }
}

/// A clearing thread holds a bucket for two swaps and a store; spin briefly,
/// then yield in case it was preempted.
#[cold]
fn backoff() {
    thread_local! {
        static SPINS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }
    SPINS.with(|s| {
        let n = s.get().wrapping_add(1);
        s.set(n);
        if n % 64 == 0 {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const S: u64 = 1_000_000_000;

    #[test]
    fn expires_buckets_as_time_moves() {
        let w = TimeWindow::new(Duration::from_secs(3), Duration::from_secs(1));
        w.record(Sample::Failure, 0);
        w.record(Sample::Success, S / 2);
        w.record(Sample::SlowSuccess, S + 1);
        assert_eq!(w.counts(2 * S).calls, 3);
        // At 3 s the window covers buckets 1..=3: bucket 0 expired.
        let c = w.counts(3 * S);
        assert_eq!((c.calls, c.failures, c.slow), (1, 0, 1));
        // A long silence empties it.
        assert_eq!(w.counts(100 * S), Counts::default());
        let c = w.record(Sample::SlowFailure, 100 * S);
        assert_eq!((c.calls, c.failures, c.slow, c.slow_failures), (1, 1, 1, 1));
        w.reset();
        assert_eq!(w.counts(100 * S), Counts::default());
        assert_eq!(w.record(Sample::Success, 100 * S).calls, 1);
    }

    #[test]
    fn sub_second_buckets() {
        let w = TimeWindow::new(Duration::from_secs(1), Duration::from_millis(100));
        for i in 0..10 {
            w.record(Sample::Failure, i * S / 10);
        }
        assert_eq!(w.counts(S - 1).calls, 10);
        assert_eq!(w.counts(S).calls, 9);
        // At 1.5 s the window is buckets 6..=15: calls at 0.6 s to 0.9 s.
        assert_eq!(w.counts(S + S / 2).calls, 4);
    }

    #[test]
    fn concurrent_writers_at_rollover_count_exactly() {
        let w = Arc::new(TimeWindow::new(
            Duration::from_secs(1000),
            Duration::from_secs(1),
        ));
        let threads: Vec<_> = (0..8u64)
            .map(|t| {
                let w = Arc::clone(&w);
                std::thread::spawn(move || {
                    for i in 0..10_000u64 {
                        // Everyone crosses bucket boundaries at once.
                        w.record(Sample::Failure, (i / 100) * S + t);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let c = w.counts(100 * S);
        assert_eq!((c.calls, c.failures), (80_000, 80_000));
    }
}
