//! Cost per frame of the consumer's ledger (`iot_core::mqtt::SequenceLedger`,
//! the structure the consumer asks once per frame), against the least any
//! per-device accounting costs: one lookup of the device in a `HashMap`
//! and a store of its highest sequence number.
//!
//! ```sh
//! cargo bench -p iot-benches --bench ledger -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Each iteration observes one frame; devices take turns (1,000 or 100,000
//! of them, ids of 11 bytes), sequence numbers grow, and in the `gaps` case
//! one frame in 1,000 never arrives (a gap, reported by the next one).

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{Criterion, Throughput};
use iot_core::mqtt::{DedupConfig, SequenceLedger};

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|d| format!("dev-{d:07}")).collect()
}

fn bench(c: &mut Criterion) {
    for devices in [1_000usize, 100_000] {
        let ids = ids(devices);
        let mut g = c.benchmark_group(format!("ledger/{devices}-devices"));
        g.throughput(Throughput::Elements(1));

        g.bench_function("hashmap-baseline", |b| {
            let mut map: HashMap<String, u64> = HashMap::new();
            let mut i = 0usize;
            let mut seq = 0u64;
            b.iter(|| {
                let id = &ids[i];
                match map.get_mut(id.as_str()) {
                    Some(max) => *max = (*max).max(seq),
                    None => {
                        map.insert(id.clone(), seq);
                    }
                }
                i += 1;
                if i == ids.len() {
                    i = 0;
                    seq += 1;
                }
            })
        });

        for (name, gap_every) in [("in-order", u64::MAX), ("gaps", 1_000)] {
            g.bench_function(name, |b| {
                let mut ledger = SequenceLedger::new(DedupConfig::default());
                let mut i = 0usize;
                let mut seq = 0u64;
                let mut n = 0u64;
                b.iter(|| {
                    n += 1;
                    // A frame that never arrives: the device's next one
                    // reveals the gap.
                    let o = (n % gap_every != 0)
                        .then(|| ledger.observe(black_box(&ids[i]), 1, seq, 1_000 + seq));
                    i += 1;
                    if i == ids.len() {
                        i = 0;
                        seq += 1;
                    }
                    o
                })
            });
        }
        g.finish();
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
