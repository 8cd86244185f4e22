//! iot-observe on the request path: `MetricsLayer` overhead per request
//! over a bare service (two labels, `operation` and `outcome`, recorded
//! into a real metrics-exporter-prometheus recorder built by iot-observe),
//! and the latency of `HealthEndpoint` answering probes from ten cached
//! checks.
//!
//! ```sh
//! cargo bench -p iot-benches --bench observe -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Groups (setups in `iot_benches::observe_setup`):
//!
//! * `observe/metrics/<variant>`: one request through the variant around
//!   `resilience_driver::Echo` with the same driver as the resilience
//!   benchmark. The recorder is the thread's local recorder
//!   (`metrics::with_local_recorder`) while the layer is built and called.
//!   Every 65,536 calls the exporter's upkeep (draining histogram samples,
//!   normally a background task every 5 s) runs *outside* the timed
//!   section; its cost per sample is printed separately.
//! * `observe/health/<variant>`: `GET` through `HealthEndpoint`'s
//!   `Service::call` (the request built from a static URI, the response
//!   dropped inside the timed loop), plus the report and JSON steps alone.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use iot_benches::observe_setup::{
    ALL_CHECKS, HEALTH, LIVE, OPERATION, READY, get, health, metered, metrics_layer, prometheus,
};
use iot_benches::report;
use iot_benches::resilience_driver::{Echo, call, runtime};
use iot_benches::resilience_report::{
    Row, paired_overhead, print_paired_header, print_paired_row, print_table, print_times,
};
use iot_benches::resilience_setup::REQUEST;
use iot_observe::metrics_layer::MetricsLayer;
use iot_observe::prometheus::PrometheusExporter;

const METRICS_GROUP: &str = "observe/metrics";
const HEALTH_GROUP: &str = "observe/health";

/// Upkeep runs after this many calls, untimed.
const CHUNK: u64 = 1 << 16;

/// Times `iters` calls of `f`, running the exporter's upkeep between
/// chunks of [`CHUNK`] calls without timing it.
fn timed_with_upkeep(
    exporter: &PrometheusExporter,
    iters: u64,
    mut f: impl FnMut() -> u64,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(CHUNK);
        let start = Instant::now();
        for _ in 0..n {
            black_box(f());
        }
        total += start.elapsed();
        exporter.run_upkeep();
        left -= n;
    }
    total
}

const METRICS_ROWS: [Row<'static>; 6] = [
    Row {
        id: "bare",
        label: "bare service (baseline)",
    },
    Row {
        id: "metrics_layer",
        label: "`MetricsLayer`, Prometheus recorder (2 labels)",
    },
    Row {
        id: "metrics_layer_no_recorder",
        label: "diagnostic: `MetricsLayer` built without a recorder (no-op handles)",
    },
    Row {
        id: "counter_increment",
        label: "diagnostic: Prometheus `Counter::increment(1)` on a held handle",
    },
    Row {
        id: "histogram_record",
        label: "diagnostic: Prometheus `Histogram::record` on a held handle",
    },
    Row {
        id: "gauge_increment_decrement",
        label: "diagnostic: Prometheus `Gauge::increment` + `decrement` on a held handle",
    },
];

const HEALTH_ROWS: [Row<'static>; 5] = [
    Row {
        id: "get_health",
        label: "`GET /health` (10 checks)",
    },
    Row {
        id: "get_health_ready",
        label: "`GET /health/ready` (7 checks)",
    },
    Row {
        id: "get_health_live",
        label: "`GET /health/live` (3 checks)",
    },
    Row {
        id: "report_all",
        label: "diagnostic: `HealthRegistry::report_all()` (10 checks, no JSON)",
    },
    Row {
        id: "to_json_all",
        label: "diagnostic: `HealthReport::to_json` of that report",
    },
];

fn main() {
    // The exporter spawns its upkeep task on the current runtime; this one
    // is only entered, never driven, so upkeep runs where we call it.
    let rt = runtime();
    let _context = rt.enter();
    let (exporter, recorder) = prometheus();
    let setup = health();
    rt.block_on(setup.registry.refresh());
    assert_eq!(setup.runs(), ALL_CHECKS, "every check ran once");

    let mut c = Criterion::default().configure_from_args();
    metrics::with_local_recorder(&recorder, || {
        let layer = metrics_layer(&recorder);
        let mut g = c.benchmark_group(METRICS_GROUP);
        g.bench_function("bare", |b| {
            let mut svc = Echo;
            b.iter_custom(|n| {
                timed_with_upkeep(&exporter, n, || call(&mut svc, black_box(REQUEST)).unwrap())
            })
        });
        g.bench_function("metrics_layer", |b| {
            let mut svc = metered(&layer, Echo);
            b.iter_custom(|n| {
                timed_with_upkeep(&exporter, n, || call(&mut svc, black_box(REQUEST)).unwrap())
            })
        });
        g.bench_function("metrics_layer_no_recorder", |b| {
            let noop = metrics::with_local_recorder(&metrics::NoopRecorder, || {
                MetricsLayer::new(OPERATION)
            });
            let mut svc = metered(&noop, Echo);
            b.iter_custom(|n| {
                timed_with_upkeep(&exporter, n, || call(&mut svc, black_box(REQUEST)).unwrap())
            })
        });
        g.bench_function("counter_increment", |b| {
            let counter = metrics::counter!("bench_counter_total", "operation" => OPERATION, "outcome" => "success");
            b.iter_custom(|n| {
                timed_with_upkeep(&exporter, n, || {
                    counter.increment(1);
                    1
                })
            })
        });
        g.bench_function("histogram_record", |b| {
            let histogram = metrics::histogram!("bench_seconds", "operation" => OPERATION, "outcome" => "success");
            b.iter_custom(|n| {
                timed_with_upkeep(&exporter, n, || {
                    histogram.record(black_box(0.000_05));
                    1
                })
            })
        });
        g.bench_function("gauge_increment_decrement", |b| {
            let gauge = metrics::gauge!("bench_in_flight", "operation" => OPERATION);
            b.iter_custom(|n| {
                timed_with_upkeep(&exporter, n, || {
                    gauge.increment(1.0);
                    gauge.decrement(1.0);
                    1
                })
            })
        });
        g.finish();
    });

    {
        let mut g = c.benchmark_group(HEALTH_GROUP);
        let mut endpoint = setup.endpoint.clone();
        for (id, path) in [
            ("get_health", HEALTH),
            ("get_health_ready", READY),
            ("get_health_live", LIVE),
        ] {
            g.bench_function(id, |b| b.iter(|| call(&mut endpoint, get(path)).unwrap()));
        }
        g.bench_function("report_all", |b| b.iter(|| setup.registry.report_all()));
        let report = setup.registry.report_all();
        let config = setup.registry.config();
        g.bench_function("to_json_all", |b| b.iter(|| report.to_json(config)));
        g.finish();
    }
    c.final_summary();
    assert_eq!(setup.runs(), ALL_CHECKS, "requests never ran a check");

    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--profile-time") {
        let dir = report::criterion_dir();
        print_table(&dir, METRICS_GROUP, "bare", &METRICS_ROWS);
        print_times(&dir, HEALTH_GROUP, &HEALTH_ROWS);

        // The same overhead interleaved with the bare service.
        let layer = metrics::with_local_recorder(&recorder, || metrics_layer(&recorder));
        let mut svc = metered(&layer, Echo);
        let mut bare = Echo;
        print_paired_header(
            "MetricsLayer overhead, interleaved (median of 201 rounds of 2,000 calls, [p25, p75])",
        );
        let o = paired_overhead(
            || call(&mut svc, black_box(REQUEST)).unwrap(),
            || call(&mut bare, black_box(REQUEST)).unwrap(),
            2_000,
            201,
        );
        print_paired_row("`MetricsLayer`, Prometheus recorder", o, "<= 100 ns");
        exporter.run_upkeep();

        // What the background upkeep pays per recorded request.
        let mut per_sample = Vec::new();
        for _ in 0..7 {
            let n = 1u32 << 18;
            for _ in 0..n {
                call(&mut svc, black_box(REQUEST)).unwrap();
            }
            let start = Instant::now();
            exporter.run_upkeep();
            per_sample.push(start.elapsed().as_nanos() as f64 / f64::from(n));
        }
        per_sample.sort_by(f64::total_cmp);
        println!(
            "\nUpkeep (background, not on the request path): {:.1} ns per recorded request (median of 7 drains of 262,144 samples)",
            per_sample[3]
        );

        for path in [HEALTH, READY, LIVE] {
            let response = setup.endpoint.respond(&get(path));
            let length = &response.headers()[http::header::CONTENT_LENGTH];
            println!(
                "{path}: status {}, body {length:?} bytes",
                response.status()
            );
        }
    }
}
