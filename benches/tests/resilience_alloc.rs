//! Zero heap allocations per call in steady state for every iot-resilience
//! layer and the composed stack, in exactly the benchmark's setups, under a
//! counting global allocator (counts are per thread, so parallel tests do
//! not disturb each other). The peers' counts are printed for
//! `docs/benchmarks.md`:
//!
//! ```sh
//! cargo test -p iot-benches --test resilience_alloc -- --nocapture
//! ```

use iot_benches::alloc_count::{CountingAlloc, allocations_during};
use iot_benches::resilience_driver::runtime;
use iot_benches::resilience_setup::{Direct, Layered, direct_caller, layered_caller};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const WARM_UP: usize = 1_000;
const CALLS: usize = 10_000;

/// Allocations over [`CALLS`] calls after [`WARM_UP`] calls.
fn steady_state(mut f: Box<dyn FnMut() -> u64>) -> usize {
    for _ in 0..WARM_UP {
        f();
    }
    allocations_during(|| {
        for _ in 0..CALLS {
            f();
        }
    })
    .0
}

#[test]
fn our_layers_do_not_allocate_per_call() {
    let rt = runtime();
    let _context = rt.enter();
    println!("\n| variant | allocations per call |");
    println!("| --- | ---: |");
    let mut failures = Vec::new();
    for which in Layered::ALL {
        let n = steady_state(layered_caller(which));
        println!("| {} | {} |", which.label(), per_call(n));
        if which.ours() && n != 0 {
            failures.push(format!("{}: {n} allocations in {CALLS} calls", which.id()));
        }
    }
    for which in Direct::ALL {
        let n = steady_state(direct_caller(which));
        println!("| {} | {} |", which.label(), per_call(n));
        if which.ours() && n != 0 {
            failures.push(format!("{}: {n} allocations in {CALLS} calls", which.id()));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

fn per_call(n: usize) -> String {
    let v = n as f64 / CALLS as f64;
    if v == v.trunc() {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

#[test]
fn the_counter_sees_allocations() {
    let (n, v) = allocations_during(|| vec![1u8; 16]);
    assert_eq!(n, 1);
    drop(v);
}
