//! End-to-end MQTT transport throughput and latency: iot-core's
//! `Publisher` -> Mosquitto -> `Consumer` against bare rumqttc with the
//! same payload bytes, through a private loopback Mosquitto, in one run.
//!
//! ```sh
//! cargo bench -p iot-benches --bench mqtt
//! ```
//!
//! Not a criterion benchmark: each variant sends a fixed number of
//! messages (default 200,000) and reports messages received per second
//! (first publish to last receipt); every variant runs `repeats` times
//! (default 3), interleaved, and the median is reported. Then the
//! end-to-end latency at a fixed rate (default 10,000 msg/s for 5 s at
//! QoS 1) is measured for both paths, p50/p99 per run. What is sent and
//! how it is timed: `iot_benches::mqtt_e2e`.
//!
//! All of it runs twice, in two Tokio runtimes of the client process: a
//! multi-threaded one with 2 workers (what `#[tokio::main]` gives on a
//! 2-core machine) and a current-thread one. On a 2-core machine with a
//! single-threaded broker the choice decides the result (see
//! `docs/benchmarks.md`).
//!
//! Environment overrides:
//!
//! * `MQTT_BENCH_MESSAGES` (200000), `MQTT_BENCH_REPEATS` (5),
//!   `MQTT_BENCH_INFLIGHT` (100, iot-core's default `max_inflight`),
//!   `MQTT_BENCH_RATE` (10000), `MQTT_BENCH_LATENCY_SECS` (5; 0 skips the
//!   latency part);
//! * `MQTT_BENCH_RUNTIMES`: comma-separated worker counts, 0 meaning a
//!   current-thread runtime (`2,0`);
//! * `MQTT_BENCH_TLS=1`: the TLS variants too (see below), and
//!   `MQTT_BENCH_CONNECTS` (20): connects and reconnects timed per
//!   transport;
//! * `MQTT_BENCH_BROKER_INFLIGHT`: Mosquitto `max_inflight_messages`
//!   (1000);
//! * for diagnosis: `MQTT_BENCH_ONLY`, a comma-separated subset of the
//!   variant ids `ours0,bare0,ours1,bare1,o2b0,b2o0,o2b1,b2o1,tls0,tls1`
//!   (`none`: latency only), `MQTT_BENCH_LATENCY_MIXED=1` (latency of the mixed
//!   paths too) and `MQTT_BENCH_NODELAY=1` (`TCP_NODELAY` on the
//!   broker's and the bare clients' sockets too; iot-core's clients set
//!   it by default, `MqttConfig::tcp_nodelay`), `MQTT_BENCH_OURS_NODELAY`
//!   (`0`/`1`: override iot-core's `tcp_nodelay` default),
//!   `MQTT_BENCH_LATENCY_QOS` (`1`, or `0`), `MQTT_BENCH_ACK_ON_RECV=1`
//!   (iot-core's consumer with `AckMode::OnRecv`), `MQTT_BENCH_COALESCE`
//!   (iot-core's consumer's `ReadCoalescing`: `off`, or
//!   `<window µs>,<max thin reads>`; default iot-core's default).
//!
//! TLS (issue #18): with `MQTT_BENCH_TLS=1` (or `tls0`/`tls1` in
//! `MQTT_BENCH_ONLY`) the broker also serves TLS on a second loopback
//! port (same process, same settings; a throwaway CA and an ECDSA P-256
//! server certificate, verified by the client), and iot-core's path runs
//! over it too, as variants `tls0` and `tls1`, interleaved with `ours0`
//! and `ours1` (the order alternates between repeats). A table compares
//! plaintext and TLS: msg/s, the ratio, client and broker CPU per
//! message. Then the connection set-up is timed,
//! `MQTT_BENCH_CONNECTS` (20; 0 skips) times per transport, interleaved:
//! *connect*, from `Publisher::start` to `wait_connected` returning `Ok`
//! for a fresh publisher; *reconnect*, from restarting the killed broker
//! (`start_again`, which spawns Mosquitto and returns when both listeners
//! accept connections) to the publisher's state turning `Connected`,
//! with the publisher retrying every 1 ms (not iot-core's default
//! backoff, which would dominate). Reconnects restart the broker, so they
//! run after the throughput and latency parts of a runtime.
//!
//! Prints Markdown tables and the target checklist at the end. Without a
//! `mosquitto` binary it prints "SKIPPED" (fails with `CI=true`).

use std::time::{Duration, Instant};

use iot_benches::mqtt_broker::{Broker, BrokerOptions};
use iot_benches::mqtt_e2e::{self, Latency, Path, Reconnecting, Setup, Throughput, qos_name};
use iot_benches::threads;
use iot_core::mqtt::{AckMode, Qos, ReadCoalescing};
use tokio::runtime::Runtime;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn cores(x: Option<f64>) -> String {
    x.map_or("?".into(), |c| format!("{c:.2}"))
}

fn thousands(x: f64) -> String {
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Variant ids (for `MQTT_BENCH_ONLY`), paths, QoS and whether over
/// TLS. The first four are the target comparison; the mixed paths split
/// the difference between the publishing and the consuming half; the
/// last two are iot-core's path over TLS (issue #18).
const VARIANTS: [(&str, Path, Qos, bool); 10] = [
    ("ours0", Path::OURS, Qos::AtMostOnce, false),
    ("bare0", Path::BARE, Qos::AtMostOnce, false),
    ("ours1", Path::OURS, Qos::AtLeastOnce, false),
    ("bare1", Path::BARE, Qos::AtLeastOnce, false),
    ("o2b0", Path::OURS_TO_BARE, Qos::AtMostOnce, false),
    ("b2o0", Path::BARE_TO_OURS, Qos::AtMostOnce, false),
    ("o2b1", Path::OURS_TO_BARE, Qos::AtLeastOnce, false),
    ("b2o1", Path::BARE_TO_OURS, Qos::AtLeastOnce, false),
    ("tls0", Path::OURS, Qos::AtMostOnce, true),
    ("tls1", Path::OURS, Qos::AtLeastOnce, true),
];

/// Indices of the TLS variants and the plaintext ones they compare with.
const TLS_PAIRS: [(usize, usize); 2] = [(0, 8), (2, 9)];

/// The run order of one repeat: variants in groups, each group reversed
/// in odd repeats (so every pair compared swaps places).
const GROUPS: [&[usize]; 4] = [&[0, 1, 8], &[2, 3, 9], &[4, 5], &[6, 7]];

/// A variant's name for tables.
fn variant_name(i: usize) -> String {
    let (_, path, _, tls) = VARIANTS[i];
    if tls {
        format!("{} over TLS", path.name())
    } else {
        path.name().to_owned()
    }
}

fn log_throughput(name: &str, r: &Throughput) {
    eprintln!(
        "  {:<13} {}: {:>9.0} msg/s, received {}/{} in {:.3} s (publishing took {:.3} s), \
         lost {}, corrupt {}, CPU client {} broker {} ({} / {} µs/msg){}",
        name,
        qos_name(r.qos),
        r.rate(),
        r.received,
        r.sent,
        r.elapsed.as_secs_f64(),
        r.publish_elapsed.as_secs_f64(),
        r.lost(),
        r.corrupt,
        cores(r.client_cpu),
        cores(r.broker_cpu),
        cores(r.client_us_per_msg()),
        cores(r.broker_us_per_msg()),
        match (&r.publisher, &r.consumer) {
            (Some(p), Some(c)) => format!(
                "; publisher sent {} resent {} dropped {} rejected {} max queue {}; consumer duplicates {} errors {} read pauses {}",
                p.sent,
                p.resent,
                p.dropped,
                p.rejected,
                p.queue_depth_max,
                c.duplicates,
                c.decode_errors,
                c.read_pauses
            ),
            _ => String::new(),
        }
    );
    eprintln!(
        "    threads (cores, voluntary/involuntary switches): client {}; broker {}",
        threads::summary(&r.client_threads),
        threads::summary(&r.broker_threads)
    );
}

fn log_latency(r: &Latency) {
    eprintln!(
        "  {:<13} {}: p50 {} us, p90 {} us, p99 {} us, p99.9 {} us, max {} us; \
         received {}/{}, corrupt {}, achieved {:.0} msg/s",
        r.path.name(),
        qos_name(r.qos),
        r.percentile(50.0),
        r.percentile(90.0),
        r.percentile(99.0),
        r.percentile(99.9),
        r.percentile(100.0),
        r.received(),
        r.sent,
        r.corrupt,
        r.achieved_rate
    );
}

/// Paths of the latency part; the mixed ones only with
/// `MQTT_BENCH_LATENCY_MIXED=1`.
const LATENCY_PATHS: [Path; 4] = [
    Path::OURS,
    Path::BARE,
    Path::OURS_TO_BARE,
    Path::BARE_TO_OURS,
];

/// The benchmark's parameters.
struct Params {
    latency_mixed: bool,
    messages: u64,
    repeats: usize,
    inflight: u16,
    rate: u64,
    latency_secs: f64,
    nodelay: bool,
    ours_nodelay: Option<bool>,
    latency_qos: Qos,
    ack_on_recv: bool,
    coalesce: ReadCoalescing,
    only: Option<String>,
    /// `MQTT_BENCH_TLS=1`: the TLS variants too (and the connect times).
    tls: bool,
    connects: usize,
}

impl Params {
    fn selected(&self, i: usize) -> bool {
        match self.only.as_deref() {
            Some(o) => o.split(',').any(|v| v.trim() == VARIANTS[i].0),
            None => !VARIANTS[i].3 || self.tls,
        }
    }

    /// Whether the broker needs its TLS listener.
    fn any_tls(&self) -> bool {
        (0..VARIANTS.len()).any(|i| VARIANTS[i].3 && self.selected(i))
    }
}

/// What one runtime configuration measured, for the checklist.
struct Summary {
    runtime: String,
    medians: [f64; VARIANTS.len()],
    latency: [(f64, f64); 2],
    complete: bool,
}

/// Connection set-up times of one runtime, in milliseconds: connect and
/// reconnect, plain and TLS.
#[derive(Default)]
struct ConnectTimes {
    connect: [Vec<f64>; 2],
    reconnect: [Vec<f64>; 2],
}

fn runtime_name(workers: usize) -> String {
    if workers == 0 {
        "current-thread runtime".into()
    } else {
        format!("multi-thread runtime, {workers} workers")
    }
}

fn build_runtime(workers: usize) -> Runtime {
    if workers == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
    }
    .expect("tokio runtime")
}

/// The pipeline setup of the benchmark's parameters: plain TCP to
/// `broker.port()`, or TLS to its TLS listener.
fn setup(p: &Params, broker: &Broker, qos: Qos, tls: bool) -> Setup {
    let port = if tls {
        broker.tls_port().expect("the broker has a TLS listener")
    } else {
        broker.port()
    };
    let defaults = Setup::new(port, qos);
    Setup {
        inflight: p.inflight,
        broker_pid: Some(broker.pid()),
        bare_tcp_nodelay: p.nodelay,
        ours_tcp_nodelay: p.ours_nodelay.unwrap_or(defaults.ours_tcp_nodelay),
        coalesce: p.coalesce,
        ack: if p.ack_on_recv {
            AckMode::OnRecv
        } else {
            AckMode::OnReceipt
        },
        tls_ca: if tls {
            broker.ca_file().map(ToOwned::to_owned)
        } else {
            None
        },
        ..defaults
    }
}

/// Times connects and reconnects (see the module documentation), plain
/// and TLS interleaved, `p.connects` of each.
fn connect_times(p: &Params, runtime: &Runtime, broker: &mut Broker) -> ConnectTimes {
    let mut out = ConnectTimes::default();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for rep in 0..p.connects {
        let order = if rep % 2 == 1 { [1, 0] } else { [0, 1] };
        for t in order {
            let s = setup(p, broker, Qos::AtLeastOnce, t == 1);
            out.connect[t].push(ms(runtime.block_on(mqtt_e2e::connect_time(&s))));
        }
    }
    for rep in 0..p.connects {
        let order = if rep % 2 == 1 { [1, 0] } else { [0, 1] };
        for t in order {
            let s = setup(p, broker, Qos::AtLeastOnce, t == 1);
            let publisher = runtime.block_on(Reconnecting::connect(&s));
            broker.kill();
            runtime.block_on(publisher.wait_disconnected());
            let reconnected = {
                let _runtime = runtime.enter();
                publisher.reconnected()
            };
            let start = Instant::now();
            broker.start_again();
            let at = runtime.block_on(reconnected).expect("reconnect watcher");
            out.reconnect[t].push(ms(at.saturating_duration_since(start)));
            runtime.block_on(publisher.close());
        }
    }
    eprintln!(
        "connect ms: plain {:?}; TLS {:?}",
        out.connect[0], out.connect[1]
    );
    eprintln!(
        "reconnect ms: plain {:?}; TLS {:?}",
        out.reconnect[0], out.reconnect[1]
    );
    out
}

/// `min`–`max` of `v`, formatted with `f`.
fn spread(v: &[f64], f: impl Fn(f64) -> String) -> String {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if v.is_empty() {
        "-".into()
    } else {
        format!("{}–{}", f(min), f(max))
    }
}

/// Plaintext against TLS, iot-core's path (issue #18).
fn print_tls(results: &[Vec<Throughput>]) {
    println!();
    println!("### iot-core over TLS against plaintext (same broker process)");
    println!();
    println!(
        "| QoS | plain median msg/s (range) | TLS median msg/s (range) | TLS / plain (medians) | per-repeat ratios: median (range) | client CPU µs/msg plain / TLS (median) | broker CPU µs/msg plain / TLS (median) |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let ratio = |x: f64| format!("{x:.2}");
    for (plain, tls) in TLS_PAIRS {
        let (rp, rt) = (&results[plain], &results[tls]);
        if rp.is_empty() || rt.is_empty() {
            continue;
        }
        let rates = |rs: &[Throughput]| rs.iter().map(Throughput::rate).collect::<Vec<_>>();
        let (mp, mt) = (median(rates(rp)), median(rates(rt)));
        let ratios: Vec<f64> = rp
            .iter()
            .zip(rt)
            .map(|(a, b)| b.rate() / a.rate())
            .collect();
        let us = |rs: &[Throughput], f: fn(&Throughput) -> Option<f64>| {
            median(rs.iter().filter_map(f).collect())
        };
        println!(
            "| {} | {} ({}) | {} ({}) | {:.2} | {:.2} ({}) | {:.1} / {:.1} | {:.1} / {:.1} |",
            qos_name(VARIANTS[plain].2),
            thousands(mp),
            spread(&rates(rp), thousands),
            thousands(mt),
            spread(&rates(rt), thousands),
            mt / mp,
            median(ratios.clone()),
            spread(&ratios, ratio),
            us(rp, Throughput::client_us_per_msg),
            us(rt, Throughput::client_us_per_msg),
            us(rp, Throughput::broker_us_per_msg),
            us(rt, Throughput::broker_us_per_msg),
        );
    }
}

fn print_connect_times(c: &ConnectTimes) {
    let ms = |x: f64| format!("{x:.1}");
    println!();
    println!(
        "### Connection set-up, ms (median of {}, range; publisher, retry every 1 ms)",
        c.connect[0].len()
    );
    println!();
    println!("| what | plain TCP | TLS | TLS − plain (medians) |");
    println!("| --- | ---: | ---: | ---: |");
    for (what, v) in [
        (
            "connect: `Publisher::start` to `wait_connected` Ok",
            &c.connect,
        ),
        (
            "reconnect: killed broker's `start_again` to `Connected`",
            &c.reconnect,
        ),
    ] {
        let (p, t) = (median(v[0].clone()), median(v[1].clone()));
        println!(
            "| {what} | {p:.1} ({}) | {t:.1} ({}) | {:.1} |",
            spread(&v[0], ms),
            spread(&v[1], ms),
            t - p
        );
    }
}

/// Runs every selected variant and the latency part in one runtime and
/// prints their tables.
fn run_config(p: &Params, workers: usize, broker: &mut Broker) -> Summary {
    let runtime = build_runtime(workers);
    let name = runtime_name(workers);
    let setup = |qos, tls: bool| setup(p, broker, qos, tls);
    let load_start = loadavg();
    eprintln!("== {name} (load {load_start})");

    // Warm-up (connections, allocator, page cache), discarded.
    runtime.block_on(async {
        for path in [Path::OURS, Path::BARE] {
            let r =
                mqtt_e2e::throughput(path, &setup(Qos::AtLeastOnce, false), p.messages / 10).await;
            eprint!("warm-up");
            log_throughput(path.name(), &r);
        }
        if p.any_tls() {
            let r =
                mqtt_e2e::throughput(Path::OURS, &setup(Qos::AtLeastOnce, true), p.messages / 10)
                    .await;
            eprint!("warm-up");
            log_throughput(&variant_name(9), &r);
        }
    });

    let mut results: Vec<Vec<Throughput>> = vec![Vec::new(); VARIANTS.len()];
    for rep in 0..p.repeats {
        eprintln!(
            "throughput, repeat {}/{} (load {})",
            rep + 1,
            p.repeats,
            loadavg()
        );
        // Alternate the order within each group between repeats.
        let order = GROUPS.iter().flat_map(|g| {
            let g = g.iter().copied();
            if rep % 2 == 1 {
                g.rev().collect::<Vec<_>>()
            } else {
                g.collect()
            }
        });
        for i in order.filter(|&i| p.selected(i)) {
            let (_, path, qos, tls) = VARIANTS[i];
            let r = runtime.block_on(mqtt_e2e::throughput(path, &setup(qos, tls), p.messages));
            log_throughput(&variant_name(i), &r);
            results[i].push(r);
        }
    }

    let duration = Duration::from_secs_f64(p.latency_secs);
    let mut latencies: Vec<Vec<Latency>> = vec![Vec::new(); LATENCY_PATHS.len()];
    let latency_repeats = if p.latency_secs > 0.0 { p.repeats } else { 0 };
    for rep in 0..latency_repeats {
        eprintln!(
            "latency at {} msg/s for {} s, repeat {}/{} (load {})",
            p.rate,
            p.latency_secs,
            rep + 1,
            p.repeats,
            loadavg()
        );
        let paths = if p.latency_mixed { 4 } else { 2 };
        let order = (0..paths).map(|i| if rep % 2 == 1 { i ^ 1 } else { i });
        for i in order {
            let path = LATENCY_PATHS[i];
            let r = runtime.block_on(mqtt_e2e::latency(
                path,
                &setup(p.latency_qos, false),
                p.rate,
                duration,
            ));
            log_latency(&r);
            latencies[i].push(r);
        }
    }
    let load_end = loadavg();
    assert!(
        broker.is_running(),
        "mosquitto died; log:\n{}",
        broker.log()
    );
    let connects = (p.any_tls() && p.connects > 0).then(|| {
        eprintln!(
            "connection set-up, {} of each (load {})",
            p.connects,
            loadavg()
        );
        connect_times(p, &runtime, broker)
    });

    let payload = results.iter().flatten().next().map_or(0, |r| r.payload_len);
    println!();
    println!("## {name}");
    println!();
    println!(
        "### Throughput: {} messages of {payload} bytes per run, median of {} \
         (load average {load_start} at start, {load_end} at end)",
        p.messages, p.repeats
    );
    println!();
    println!(
        "| path | QoS | median msg/s | runs, msg/s | lost | corrupt | client CPU (cores) | broker CPU (cores) | client CPU µs/msg | broker CPU µs/msg |"
    );
    println!("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut medians = [f64::NAN; VARIANTS.len()];
    for (i, (_, _, qos, _)) in VARIANTS.iter().enumerate() {
        let rs = &results[i];
        if rs.is_empty() {
            continue;
        }
        if i == 4 {
            println!("| *diagnostic: one half ours, the other bare* | | | | | | | | | |");
        }
        if i == 8 {
            println!(
                "| *iot-core over TLS (same broker process, TLS listener)* | | | | | | | | | |"
            );
        }
        medians[i] = median(rs.iter().map(Throughput::rate).collect());
        let runs: Vec<String> = rs.iter().map(|r| thousands(r.rate())).collect();
        let lost: u64 = rs.iter().map(Throughput::lost).sum();
        let corrupt: u64 = rs.iter().map(|r| r.corrupt).sum();
        let client = median(rs.iter().filter_map(|r| r.client_cpu).collect());
        let brk = median(rs.iter().filter_map(|r| r.broker_cpu).collect());
        let client_us = median(rs.iter().filter_map(|r| r.client_us_per_msg()).collect());
        let broker_us = median(rs.iter().filter_map(|r| r.broker_us_per_msg()).collect());
        println!(
            "| {} | {} | {} | {} | {lost} | {corrupt} | {client:.2} | {brk:.2} | {client_us:.1} | {broker_us:.1} |",
            variant_name(i),
            qos_name(*qos),
            thousands(medians[i]),
            runs.join(", ")
        );
    }
    // Ratios: of the medians, and the median of per-repeat ratios.
    let paired = |ours: usize, bare: usize| {
        median(
            results[ours]
                .iter()
                .zip(&results[bare])
                .map(|(o, b)| o.rate() / b.rate())
                .collect(),
        )
    };
    println!();
    println!("| QoS | iot-core / bare (medians) | median of per-repeat ratios |");
    println!("| --- | ---: | ---: |");
    println!(
        "| QoS 0 | {:.2} | {:.2} |",
        medians[0] / medians[1],
        paired(0, 1)
    );
    println!(
        "| QoS 1 | {:.2} | {:.2} |",
        medians[2] / medians[3],
        paired(2, 3)
    );

    print_tls(&results);
    if let Some(c) = &connects {
        print_connect_times(c);
    }

    let mut latency = [(f64::NAN, f64::NAN); 2];
    if latency_repeats > 0 {
        println!();
        println!(
            "### Latency at {} msg/s for {} s, {} (publish call to receipt by the application)",
            p.rate,
            p.latency_secs,
            qos_name(p.latency_qos)
        );
        println!();
        println!(
            "| path | run | received | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | achieved msg/s |"
        );
        println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for (i, rs) in latencies.iter().enumerate() {
            for (k, r) in rs.iter().enumerate() {
                println!(
                    "| {} | {} | {}/{} | {} | {} | {} | {} | {} | {} |",
                    r.path.name(),
                    k + 1,
                    r.received(),
                    r.sent,
                    r.percentile(50.0),
                    r.percentile(90.0),
                    r.percentile(99.0),
                    r.percentile(99.9),
                    r.percentile(100.0),
                    thousands(r.achieved_rate)
                );
            }
            if let Some(l) = latency.get_mut(i) {
                *l = (
                    median(rs.iter().map(|r| f64::from(r.percentile(50.0))).collect()),
                    median(rs.iter().map(|r| f64::from(r.percentile(99.0))).collect()),
                );
            }
        }
        println!();
        println!("| path | median p50 µs | median p99 µs |");
        println!("| --- | ---: | ---: |");
        for (path, rs) in LATENCY_PATHS.iter().zip(&latencies) {
            if rs.is_empty() {
                continue;
            }
            println!(
                "| {} | {:.0} | {:.0} |",
                path.name(),
                median(rs.iter().map(|r| f64::from(r.percentile(50.0))).collect()),
                median(rs.iter().map(|r| f64::from(r.percentile(99.0))).collect()),
            );
        }
    }
    let complete = results
        .iter()
        .flatten()
        .all(|r| r.lost() == 0 && r.corrupt == 0)
        && latencies
            .iter()
            .flatten()
            .all(|r| r.lost() == 0 && r.corrupt == 0);
    Summary {
        runtime: name,
        medians,
        latency,
        complete,
    }
}

fn print_targets(summaries: &[Summary], rate: u64) {
    let check = |ok: bool| if ok { "met" } else { "**missed**" };
    println!();
    println!("## Targets");
    println!();
    println!("| target | client runtime | measured | status |");
    println!("| --- | --- | --- | --- |");
    for s in summaries {
        let m = &s.medians;
        for (label, ours, bare) in [("QoS 0", 0, 1), ("QoS 1", 2, 3)] {
            if m[ours].is_nan() || m[bare].is_nan() {
                // Not selected (`MQTT_BENCH_ONLY`).
                continue;
            }
            let ratio = m[ours] / m[bare];
            println!(
                "| {label}: iot-core >= 0.9x bare | {} | {ratio:.2}x ({} vs {} msg/s) | {} |",
                s.runtime,
                thousands(m[ours]),
                thousands(m[bare]),
                check(ratio >= 0.9)
            );
        }
        if !m[9].is_nan() {
            let ratio = m[9] / m[2];
            println!(
                "| QoS 1: iot-core over TLS >= 0.8x plaintext | {} | {ratio:.2}x ({} vs {} msg/s) | {} |",
                s.runtime,
                thousands(m[9]),
                thousands(m[2]),
                check(ratio >= 0.8)
            );
        }
        println!(
            "| >= 50,000 msg/s at QoS 1, one connection | {} | {} msg/s (bare: {}) | {} |",
            s.runtime,
            thousands(m[2]),
            thousands(m[3]),
            check(m[2] >= 50_000.0)
        );
        println!(
            "| p50/p99 latency at a fixed rate recorded | {} | iot-core {:.0}/{:.0} µs, bare {:.0}/{:.0} µs at {rate} msg/s | {} |",
            s.runtime,
            s.latency[0].0,
            s.latency[0].1,
            s.latency[1].0,
            s.latency[1].1,
            if s.latency[0].0.is_nan() {
                "not run"
            } else {
                "recorded"
            }
        );
        println!(
            "| every message received, none corrupt | {} | {} | {} |",
            s.runtime,
            if s.complete {
                "all runs complete"
            } else {
                "losses or corrupt frames (see above)"
            },
            check(s.complete)
        );
    }
}

/// `MQTT_BENCH_COALESCE`: `off`, or `<window µs>,<max thin reads>`.
fn coalesce_from_env() -> ReadCoalescing {
    let Ok(v) = std::env::var("MQTT_BENCH_COALESCE") else {
        return ReadCoalescing::default();
    };
    if v.trim() == "off" {
        return ReadCoalescing::off();
    }
    let parsed = v.split_once(',').and_then(|(window, max)| {
        Some(ReadCoalescing {
            window: Duration::from_micros(window.trim().parse().ok()?),
            max_thin_reads: max.trim().parse().ok()?,
        })
    });
    parsed.unwrap_or_else(|| {
        panic!("MQTT_BENCH_COALESCE={v:?}: expected `off` or `<window µs>,<max thin reads>`")
    })
}

fn main() {
    // `cargo bench` passes `--bench`: nothing to parse.
    let params = Params {
        messages: env("MQTT_BENCH_MESSAGES", 200_000),
        repeats: env("MQTT_BENCH_REPEATS", 5),
        inflight: env("MQTT_BENCH_INFLIGHT", 100),
        rate: env("MQTT_BENCH_RATE", 10_000),
        latency_secs: env("MQTT_BENCH_LATENCY_SECS", 5.0),
        nodelay: env("MQTT_BENCH_NODELAY", 0u8) == 1,
        ours_nodelay: std::env::var("MQTT_BENCH_OURS_NODELAY")
            .ok()
            .map(|v| v.trim() == "1"),
        latency_qos: if env("MQTT_BENCH_LATENCY_QOS", 1u8) == 0 {
            Qos::AtMostOnce
        } else {
            Qos::AtLeastOnce
        },
        ack_on_recv: env("MQTT_BENCH_ACK_ON_RECV", 0u8) == 1,
        coalesce: coalesce_from_env(),
        latency_mixed: env("MQTT_BENCH_LATENCY_MIXED", 0u8) == 1,
        only: std::env::var("MQTT_BENCH_ONLY").ok(),
        tls: env("MQTT_BENCH_TLS", 0u8) == 1,
        connects: env("MQTT_BENCH_CONNECTS", 20),
    };
    let runtimes: Vec<usize> = std::env::var("MQTT_BENCH_RUNTIMES")
        .unwrap_or_else(|_| "2,0".into())
        .split(',')
        .map(|w| {
            w.trim()
                .parse()
                .unwrap_or_else(|_| panic!("MQTT_BENCH_RUNTIMES: {w:?} is not a number"))
        })
        .collect();
    let options = BrokerOptions {
        max_inflight_messages: env("MQTT_BENCH_BROKER_INFLIGHT", 1000),
        extra: if params.nodelay {
            vec!["set_tcp_nodelay true".into()]
        } else {
            Vec::new()
        },
        tls: params.any_tls(),
        ..BrokerOptions::default()
    };
    let Some(mut broker) = Broker::start(&options) else {
        return;
    };
    eprintln!(
        "MQTT transport benchmark: {} messages x {} repeats, inflight {}; \
         Mosquitto pid {} on port {}; load average {}",
        params.messages,
        params.repeats,
        params.inflight,
        broker.pid(),
        broker.port(),
        loadavg()
    );
    eprintln!("broker configuration:\n{}", broker.config().trim_end());
    if params.nodelay {
        eprintln!("TCP_NODELAY on the broker's and the bare clients' sockets");
    }
    if let Some(on) = params.ours_nodelay {
        eprintln!("iot-core's clients: tcp_nodelay {on} (not the default)");
    }
    if params.coalesce != ReadCoalescing::default() {
        eprintln!(
            "iot-core's consumer: {:?} (not the default)",
            params.coalesce
        );
    }
    let summaries: Vec<Summary> = runtimes
        .iter()
        .map(|&w| run_config(&params, w, &mut broker))
        .collect();
    let log = broker.log();
    if !log.trim().is_empty() {
        eprintln!("mosquitto log:\n{log}");
    }
    print_targets(&summaries, params.rate);
}
