//! Heap allocations on the observe benchmark's request paths, under a
//! counting global allocator (per thread). Printed for
//! `docs/benchmarks.md`:
//!
//! ```sh
//! cargo test -p iot-benches --test observe_alloc -- --nocapture
//! ```
//!
//! `MetricsLayer` itself allocates nothing; the Prometheus histogram it
//! records into appends each sample to a lock-free bucket that allocates a
//! new block every 64 samples until the upkeep drains it.

use iot_benches::alloc_count::{CountingAlloc, allocations_during};
use iot_benches::observe_setup::{
    HEALTH, LIVE, OPERATION, READY, get, health, metered, metrics_layer, prometheus,
};
use iot_benches::resilience_driver::{Echo, call, runtime};
use iot_benches::resilience_setup::REQUEST;
use iot_observe::metrics_layer::MetricsLayer;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const CALLS: usize = 64 * 1_000;

#[test]
fn metrics_layer_allocations() {
    let rt = runtime();
    let _context = rt.enter();
    let (exporter, recorder) = prometheus();
    let layer = metrics_layer(&recorder);
    let mut svc = metered(&layer, Echo);
    let noop =
        metrics::with_local_recorder(&metrics::NoopRecorder, || MetricsLayer::new(OPERATION));
    let mut bare = metered(&noop, Echo);
    for _ in 0..1_000 {
        call(&mut svc, REQUEST).unwrap();
        call(&mut bare, REQUEST).unwrap();
    }
    exporter.run_upkeep();

    let (without, ()) = allocations_during(|| {
        for _ in 0..CALLS {
            call(&mut bare, REQUEST).unwrap();
        }
    });
    let (with, ()) = allocations_during(|| {
        for _ in 0..CALLS {
            call(&mut svc, REQUEST).unwrap();
        }
    });
    println!(
        "\nMetricsLayer allocations per request: {:.4} with the Prometheus recorder (histogram sample blocks), {} with no-op handles",
        with as f64 / CALLS as f64,
        without as f64 / CALLS as f64
    );
    assert_eq!(without, 0, "the layer itself does not allocate");
    assert!(
        with <= CALLS / 64 + 2,
        "{with} allocations in {CALLS} calls: more than one block per 64 samples"
    );
}

#[test]
fn health_endpoint_allocations() {
    let rt = runtime();
    let _context = rt.enter();
    let setup = health();
    rt.block_on(setup.registry.refresh());
    let mut endpoint = setup.endpoint.clone();
    println!();
    for path in [HEALTH, READY, LIVE] {
        for _ in 0..10 {
            call(&mut endpoint, get(path)).unwrap();
        }
        let (n, ()) = allocations_during(|| {
            for _ in 0..100 {
                call(&mut endpoint, get(path)).unwrap();
            }
        });
        println!(
            "GET {path}: {:.1} allocations per request",
            n as f64 / 100.0
        );
        assert!(n > 0, "a JSON body is built per request");
    }
}
