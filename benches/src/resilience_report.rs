//! Tables for the middleware benchmarks (`benches/resilience.rs`,
//! `benches/observe.rs`): per-call times from criterion's saved medians with
//! the overhead over a baseline, and overheads measured interleaved.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use crate::report::median_ns;

/// One row of a [`print_table`]: criterion id and label.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// The benchmark id inside the group.
    pub id: &'a str,
    /// What the row shows.
    pub label: &'a str,
}

/// Prints `| variant | ns/call | overhead ns |` for `rows` of criterion
/// group `group`, the overhead taken over the row with id `baseline`.
pub fn print_table(dir: &Path, group: &str, baseline: &str, rows: &[Row<'_>]) {
    let base = median_ns(dir, group, baseline);
    println!("\n`{group}` (criterion medians; overhead = row - `{baseline}`)\n");
    println!("| variant | ns/call | overhead ns |");
    println!("| --- | ---: | ---: |");
    for row in rows {
        let ns = median_ns(dir, group, row.id);
        let overhead = match (ns, base) {
            (Some(ns), Some(base)) if row.id != baseline => format!("{:.1}", ns - base),
            _ => "-".to_owned(),
        };
        let ns = ns.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
        println!("| {} | {ns} | {overhead} |", row.label);
    }
}

/// Prints `| variant | ns/call |` for `rows` of criterion group `group`.
pub fn print_times(dir: &Path, group: &str, rows: &[Row<'_>]) {
    println!("\n`{group}` (criterion medians)\n");
    println!("| variant | ns/call |");
    println!("| --- | ---: |");
    for row in rows {
        let ns =
            median_ns(dir, group, row.id).map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
        println!("| {} | {ns} |", row.label);
    }
}

/// The result of [`paired_overhead`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Overhead {
    /// Median per-call time with the layer, ns.
    pub layer_ns: f64,
    /// Median per-call time of the baseline, ns.
    pub bare_ns: f64,
    /// Median of the per-round differences `layer - bare`, ns.
    pub overhead_ns: f64,
    /// 25th percentile of the differences.
    pub p25: f64,
    /// 75th percentile of the differences.
    pub p75: f64,
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

/// Times `layer` and `bare` alternately, `rounds` rounds of `iters` calls
/// each (order swapped every round), and returns the median per-round
/// difference: an overhead that a compile starting on the other core
/// halfway through distorts far less than two separate measurements.
pub fn paired_overhead(
    mut layer: impl FnMut() -> u64,
    mut bare: impl FnMut() -> u64,
    iters: u32,
    rounds: usize,
) -> Overhead {
    batch(&mut layer, iters);
    batch(&mut bare, iters);
    let (mut tl, mut tb, mut diffs) = (
        Vec::with_capacity(rounds),
        Vec::with_capacity(rounds),
        Vec::with_capacity(rounds),
    );
    for round in 0..rounds {
        let (l, b) = if round % 2 == 0 {
            let l = batch(&mut layer, iters);
            (l, batch(&mut bare, iters))
        } else {
            let b = batch(&mut bare, iters);
            (batch(&mut layer, iters), b)
        };
        tl.push(l);
        tb.push(b);
        diffs.push(l - b);
    }
    for v in [&mut tl, &mut tb, &mut diffs] {
        v.sort_by(f64::total_cmp);
    }
    Overhead {
        layer_ns: quantile(&tl, 0.5),
        bare_ns: quantile(&tb, 0.5),
        overhead_ns: quantile(&diffs, 0.5),
        p25: quantile(&diffs, 0.25),
        p75: quantile(&diffs, 0.75),
    }
}

/// Prints the header of a table of [`paired_overhead`] rows.
pub fn print_paired_header(title: &str) {
    println!("\n{title}\n");
    println!("| variant | ns/call | baseline ns | overhead ns | p25 | p75 | target |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | --- |");
}

/// Prints one row of a [`paired_overhead`] table.
pub fn print_paired_row(label: &str, o: Overhead, target: &str) {
    println!(
        "| {label} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {target} |",
        o.layer_ns, o.bare_ns, o.overhead_ns, o.p25, o.p75
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_work_shows_as_overhead() {
        let light = || black_box(1u64);
        let heavy = || (0..200u64).fold(0, |a, x| black_box(a ^ x));
        let o = paired_overhead(heavy, light, 200, 21);
        assert!(o.overhead_ns > 0.0, "{o:?}");
        assert!(o.p25 <= o.overhead_ns && o.overhead_ns <= o.p75);
    }
}
