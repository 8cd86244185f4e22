//! Paired, interleaved timing of two functions, for ratios that hold up on
//! a shared machine.
//!
//! criterion measures one benchmark after another, so a compile starting on
//! the other core halfway through a run skews the ratio of two benchmarks
//! measured minutes apart. Here the two functions alternate in short
//! batches (order swapped every round); each round yields one ratio, and
//! the median over the rounds is reported with its interquartile range.

use std::hint::black_box;
use std::time::Instant;

/// The result of [`compare`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Paired {
    /// Median per-call time of `a`, ns.
    pub a_ns: f64,
    /// Median per-call time of `b`, ns.
    pub b_ns: f64,
    /// Median of the per-round ratios `a / b`.
    pub ratio: f64,
    /// 25th percentile of the per-round ratios.
    pub ratio_p25: f64,
    /// 75th percentile of the per-round ratios.
    pub ratio_p75: f64,
}

fn batch(f: &mut impl FnMut() -> u64, iters: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        black_box(f());
    }
    start.elapsed().as_nanos() as f64 / f64::from(iters)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

/// Times `a` and `b` alternately: `rounds` rounds of `iters` calls each.
pub fn compare(
    mut a: impl FnMut() -> u64,
    mut b: impl FnMut() -> u64,
    iters: u32,
    rounds: usize,
) -> Paired {
    // Warm up caches and branch predictors.
    batch(&mut a, iters);
    batch(&mut b, iters);
    let mut ta = Vec::with_capacity(rounds);
    let mut tb = Vec::with_capacity(rounds);
    let mut ratios = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let (x, y) = if round % 2 == 0 {
            let x = batch(&mut a, iters);
            (x, batch(&mut b, iters))
        } else {
            let y = batch(&mut b, iters);
            (batch(&mut a, iters), y)
        };
        ta.push(x);
        tb.push(y);
        ratios.push(x / y);
    }
    for v in [&mut ta, &mut tb, &mut ratios] {
        v.sort_by(f64::total_cmp);
    }
    Paired {
        a_ns: quantile(&ta, 0.5),
        b_ns: quantile(&tb, 0.5),
        ratio: quantile(&ratios, 0.5),
        ratio_p25: quantile(&ratios, 0.25),
        ratio_p75: quantile(&ratios, 0.75),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_work_has_a_ratio_near_one() {
        let work = || (0..200u64).fold(0, |a, x| black_box(a ^ x));
        let p = compare(work, work, 200, 21);
        assert!(p.ratio > 0.5 && p.ratio < 2.0, "{p:?}");
        assert!(p.ratio_p25 <= p.ratio && p.ratio <= p.ratio_p75);
    }
}
