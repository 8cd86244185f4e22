//! Per-call overhead of iot-resilience's layers in their happy path over a
//! bare always-ready service, in the same run as tower's own `RateLimit`
//! and `Timeout`, governor's direct limiter, failsafe's breaker and
//! tower-resilience's breaker and rate limiter.
//!
//! ```sh
//! cargo bench -p iot-benches --bench resilience -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Groups (setups in `iot_benches::resilience_setup`):
//!
//! * `resilience/service/<variant>`: one `poll_ready` + `call` + one poll
//!   of the response future through the variant wrapped around
//!   `resilience_driver::Echo`, with a no-op waker and no executor
//!   (`resilience_driver::call`), the same driver for every variant.
//!   Overhead = variant - `bare`.
//! * `resilience/direct/<variant>`: plain calls without tower: the bare
//!   limiters' checks and the breakers guarding a closure, plus clock
//!   reads as diagnostics. Overhead = variant - `bare_closure`.
//!
//! After the run the tables are printed from criterion's medians, then the
//! targets measured again interleaved with their baseline (201 rounds of
//! 2,000 calls), which a busy shared machine distorts less.

use std::hint::black_box;

use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
use iot_benches::resilience_driver::{Echo, call, runtime};
use iot_benches::resilience_report::{
    Row, paired_overhead, print_paired_header, print_paired_row, print_table,
};
use iot_benches::resilience_setup::{
    BENCH_RATE, Direct, FnVisitor, Layered, REQUEST, ServiceVisitor, StackConfig, breaker_config,
    build_direct, build_layered, bulkhead_config, governor_bench_quota, governor_limiter,
    iot_breaker, iot_breaker_leaked, iot_bulkhead, iot_limiter, iot_limiter_quanta, iot_rate_limit,
    iot_retry, iot_stack, iot_stack_quanta, iot_timeout, rate_limit_config, retry_config,
    timeout_config, tower_rate_limit, tower_timeout, tr_breaker, tr_rate_limiter,
};
use iot_benches::{paired, report};
use tower::Service;

const SERVICE_GROUP: &str = "resilience/service";
const DIRECT_GROUP: &str = "resilience/direct";
/// Interleaved measurements: calls per batch, and rounds.
const ITERS: u32 = 2_000;
const ROUNDS: usize = 201;

struct ServiceBench<'a, 'b>(&'a mut BenchmarkGroup<'b, WallTime>);

impl ServiceVisitor for ServiceBench<'_, '_> {
    fn visit<S>(&mut self, which: Layered, mut service: S)
    where
        S: Service<u64, Response = u64> + 'static,
        S::Error: std::fmt::Debug,
    {
        self.0.bench_function(which.id(), |b| {
            b.iter(|| call(&mut service, black_box(REQUEST)).unwrap())
        });
    }
}

struct DirectBench<'a, 'b>(&'a mut BenchmarkGroup<'b, WallTime>);

impl FnVisitor for DirectBench<'_, '_> {
    fn visit<F: FnMut() -> u64 + 'static>(&mut self, which: Direct, mut f: F) {
        self.0.bench_function(which.id(), |b| b.iter(&mut f));
    }
}

/// The layers again, each interleaved with the bare service.
fn paired_targets() {
    let second = std::time::Duration::from_secs(1);
    macro_rules! pair {
        ($label:expr, $service:expr, $target:expr) => {{
            let mut service = $service;
            let mut bare = Echo;
            let o = paired_overhead(
                || call(&mut service, black_box(REQUEST)).unwrap(),
                || call(&mut bare, black_box(REQUEST)).unwrap(),
                ITERS,
                ROUNDS,
            );
            print_paired_row($label, o, $target);
        }};
    }
    print_paired_header(
        "Overhead over the bare service, interleaved (median of 201 rounds of 2,000 calls, [p25, p75])",
    );
    pair!(
        "iot-resilience circuit breaker, closed",
        iot_breaker(Echo, breaker_config()).0,
        "<= 50 ns"
    );
    pair!(
        "iot-resilience circuit breaker, closed, leaked handle",
        iot_breaker_leaked(Echo, breaker_config()).0,
        "<= 50 ns"
    );
    pair!(
        "iot-resilience rate limit layer",
        iot_rate_limit(Echo, rate_limit_config()).0,
        "-"
    );
    pair!(
        "iot-resilience retry",
        iot_retry(Echo, retry_config()).0,
        "-"
    );
    pair!(
        "iot-resilience timeout",
        iot_timeout(Echo, timeout_config()),
        "-"
    );
    pair!(
        "iot-resilience bulkhead",
        iot_bulkhead(Echo, bulkhead_config()),
        "-"
    );
    pair!(
        "iot-resilience stack",
        iot_stack(Echo, StackConfig::default()).0,
        "<= 100 ns"
    );
    pair!(
        "iot-resilience stack, breaker leaked",
        iot_stack(
            Echo,
            StackConfig {
                leak_breaker: true,
                ..StackConfig::default()
            }
        )
        .0,
        "<= 100 ns"
    );
    pair!(
        "iot-resilience stack, breaker leaked, `QuantaClock`",
        iot_stack_quanta(Echo, StackConfig::default()),
        "<= 100 ns"
    );
    pair!(
        "tower `RateLimit`",
        tower_rate_limit(Echo, u64::from(BENCH_RATE), second),
        "-"
    );
    pair!("tower `Timeout`", tower_timeout(Echo, second), "-");
    pair!("tower-resilience circuit breaker", tr_breaker(Echo).0, "-");
    pair!(
        "tower-resilience rate limiter",
        tr_rate_limiter(
            Echo,
            BENCH_RATE as usize,
            second,
            std::time::Duration::from_millis(100)
        ),
        "-"
    );

    println!();
    let ours = iot_limiter(rate_limit_config());
    against_governor("", || ours.check(1).expect("never rejects"));
    // Both on the same clock source (the TSC through quanta).
    let ours = iot_limiter_quanta(rate_limit_config());
    against_governor(" on `QuantaClock`", || {
        ours.check(1).expect("never rejects")
    });
}

/// Our check (`check`, monomorphised, no indirect call) interleaved with
/// governor's direct limiter.
fn against_governor(label: &str, check: impl Fn()) {
    let governor = governor_limiter(governor_bench_quota());
    let r = paired::compare(
        || {
            check();
            1
        },
        || {
            governor.check().expect("never rejects");
            1
        },
        ITERS,
        ROUNDS,
    );
    println!(
        "Rate-limit check, interleaved: iot-resilience `check(1)`{label} {:.1} ns, governor `check()` {:.1} ns, ratio {:.3} [p25 {:.3}, p75 {:.3}] (target <= 1.0)",
        r.a_ns, r.b_ns, r.ratio, r.ratio_p25, r.ratio_p75
    );
}

fn main() {
    // Timeouts create tokio sleeps: run everything inside a runtime
    // context (nothing is spawned or blocked on).
    let rt = runtime();
    let _context = rt.enter();
    // What users' release builds run: tokio without `test-util`, so the
    // default clock reads the time-stamp counter.
    println!(
        "default clock: TokioClock::FOLLOWS_PAUSED_TIME = {} ({})",
        iot_resilience::TokioClock::FOLLOWS_PAUSED_TIME,
        if iot_resilience::TokioClock::FOLLOWS_PAUSED_TIME {
            "tokio's test-util is compiled in: the default clock calls tokio's clock, as in tests"
        } else {
            "reads the monotonic time through the time-stamp counter, as release builds do"
        }
    );

    let mut c = Criterion::default().configure_from_args();
    {
        let mut g = c.benchmark_group(SERVICE_GROUP);
        for which in Layered::ALL {
            build_layered(which, &mut ServiceBench(&mut g));
        }
        g.finish();
    }
    {
        let mut g = c.benchmark_group(DIRECT_GROUP);
        for which in Direct::ALL {
            build_direct(which, &mut DirectBench(&mut g));
        }
        g.finish();
    }
    c.final_summary();

    // `cargo bench` passes `--bench`; `cargo test --benches` runs each
    // benchmark once without it and saves no estimates.
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--profile-time") {
        let dir = report::criterion_dir();
        let rows: Vec<Row<'_>> = Layered::ALL
            .iter()
            .map(|v| Row {
                id: v.id(),
                label: v.label(),
            })
            .collect();
        print_table(&dir, SERVICE_GROUP, Layered::Bare.id(), &rows);
        let rows: Vec<Row<'_>> = Direct::ALL
            .iter()
            .map(|v| Row {
                id: v.id(),
                label: v.label(),
            })
            .collect();
        print_table(&dir, DIRECT_GROUP, Direct::BareClosure.id(), &rows);
        paired_targets();
    }
}
