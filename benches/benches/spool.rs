//! The publisher spool (`iot_core::mqtt::spool`): append throughput and
//! append-to-durable latency per fsync policy, with 1 and with 8
//! producers, against a bare `write` + `fdatasync` loop on the same disk in
//! the same run, variants interleaved.
//!
//! ```sh
//! cargo bench -p iot-benches --bench spool
//! ```
//!
//! Each producer appends a record, waits for it to be durable as its
//! policy promises (`wait_durable_blocking`: an `fdatasync` round under
//! `Always`, nothing under `Interval` and `Os`) and releases it, as a
//! publisher does when the broker acknowledges at once; latency is timed
//! from before `append` to after the wait. Producers are threads, except
//! the `async` row: 8 Tokio tasks awaiting `wait_durable` on a 2-worker
//! runtime. The bare loop is what a serial durable writer cannot beat: one
//! file, `write` then `fdatasync` per record; its 8-thread variant is 8
//! threads doing the same on one file, without group commit.
//!
//! Environment overrides: `SPOOL_BENCH_SECONDS` (2, per variant and round),
//! `SPOOL_BENCH_ROUNDS` (3), `SPOOL_BENCH_PAYLOAD` (256 bytes),
//! `SPOOL_BENCH_DIR` (a fresh directory under the system temp dir: put it
//! on the disk to measure), `SPOOL_BENCH_ONLY` (comma-separated variant
//! ids, see `VARIANTS`).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use iot_core::mqtt::spool::{FsyncPolicy, Spool, SpoolConfig};

/// What writes.
#[derive(Debug, Clone, Copy)]
enum Writer {
    /// `write` + `fdatasync` per record, no spool.
    Bare,
    /// The spool with this policy, producers on threads.
    Spool(FsyncPolicy),
    /// The spool under `Always`, producers as Tokio tasks.
    SpoolAsync,
}

/// `(id, writer, producers)`.
const VARIANTS: &[(&str, Writer, usize)] = &[
    ("bare1", Writer::Bare, 1),
    ("always1", Writer::Spool(FsyncPolicy::Always), 1),
    ("bare8", Writer::Bare, 8),
    ("always8", Writer::Spool(FsyncPolicy::Always), 8),
    ("async8", Writer::SpoolAsync, 8),
    (
        "interval1",
        Writer::Spool(FsyncPolicy::Interval(Duration::from_millis(10))),
        1,
    ),
    (
        "interval8",
        Writer::Spool(FsyncPolicy::Interval(Duration::from_millis(10))),
        8,
    ),
    ("os1", Writer::Spool(FsyncPolicy::Os), 1),
    ("os8", Writer::Spool(FsyncPolicy::Os), 8),
];

/// One run's result.
#[derive(Default)]
struct Run {
    records: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
    fsyncs: u64,
}

impl Run {
    fn absorb(&mut self, other: Run) {
        self.records += other.records;
        self.elapsed += other.elapsed;
        self.latencies.extend(other.latencies);
        self.fsyncs += other.fsyncs;
    }

    fn rate(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64()
    }

    /// Nearest-rank quantile in microseconds.
    fn quantile_us(&mut self, q: f64) -> f64 {
        self.latencies.sort_unstable();
        let len = self.latencies.len();
        if len == 0 {
            return f64::NAN;
        }
        let rank = ((q * len as f64).ceil() as usize).clamp(1, len);
        self.latencies[rank - 1].as_secs_f64() * 1e6
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `producers` threads running `work` until `seconds` pass; each returns
/// its record count and latencies.
fn threads<F>(producers: usize, seconds: Duration, work: F) -> Run
where
    F: Fn(&mut Vec<Duration>) + Sync,
{
    let started = Instant::now();
    let deadline = started + seconds;
    let mut run = Run::default();
    let runs: Vec<Vec<Duration>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..producers)
            .map(|_| {
                let work = &work;
                s.spawn(move || {
                    let mut latencies = Vec::with_capacity(1 << 16);
                    while Instant::now() < deadline {
                        work(&mut latencies);
                    }
                    latencies
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    run.elapsed = started.elapsed();
    for l in runs {
        run.records += l.len() as u64;
        run.latencies.extend(l);
    }
    run
}

fn bare(dir: &Path, producers: usize, seconds: Duration, record: &[u8]) -> Run {
    let path = dir.join("bare.log");
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    let file = Mutex::new(file);
    let mut run = threads(producers, seconds, |latencies| {
        let t = Instant::now();
        // The lock only orders the two calls per record; `fdatasync`
        // runs outside it, as concurrent writers' would.
        let f: File = {
            let mut f = file.lock().unwrap();
            f.write_all(record).unwrap();
            f.try_clone().unwrap()
        };
        f.sync_data().unwrap();
        latencies.push(t.elapsed());
    });
    run.fsyncs = run.records;
    std::fs::remove_file(&path).unwrap();
    run
}

fn spool_config(dir: &Path, policy: FsyncPolicy) -> SpoolConfig {
    SpoolConfig::new(dir.join("spool")).fsync(policy)
}

fn spool(
    dir: &Path,
    policy: FsyncPolicy,
    producers: usize,
    seconds: Duration,
    payload: &[u8],
) -> Run {
    let (spool, _) = Spool::open(spool_config(dir, policy)).unwrap();
    let mut run = threads(producers, seconds, |latencies| {
        let t = Instant::now();
        let id = spool.append(payload).unwrap().id;
        spool.wait_durable_blocking(id).unwrap();
        latencies.push(t.elapsed());
        spool.release(id).unwrap();
    });
    run.fsyncs = spool.stats().snapshot().fsyncs;
    drop(spool);
    std::fs::remove_dir_all(dir.join("spool")).unwrap();
    run
}

fn spool_async(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    producers: usize,
    seconds: Duration,
    payload: &[u8],
) -> Run {
    let (spool, _) = Spool::open(spool_config(dir, FsyncPolicy::Always)).unwrap();
    let started = Instant::now();
    let deadline = started + seconds;
    let per_task: Vec<Vec<Duration>> = rt.block_on(async {
        let tasks: Vec<_> = (0..producers)
            .map(|_| {
                let spool = spool.clone();
                let payload = payload.to_vec();
                tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(1 << 16);
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        let id = spool.append(&payload).unwrap().id;
                        spool.wait_durable(id).await.unwrap();
                        latencies.push(t.elapsed());
                        spool.release(id).unwrap();
                    }
                    latencies
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    let mut run = Run {
        elapsed: started.elapsed(),
        fsyncs: spool.stats().snapshot().fsyncs,
        ..Run::default()
    };
    for l in per_task {
        run.records += l.len() as u64;
        run.latencies.extend(l);
    }
    drop(spool);
    std::fs::remove_dir_all(dir.join("spool")).unwrap();
    run
}

fn main() {
    let seconds = Duration::from_secs(env_or("SPOOL_BENCH_SECONDS", 2));
    let rounds = env_or("SPOOL_BENCH_ROUNDS", 3) as usize;
    let payload = vec![0x5A; env_or("SPOOL_BENCH_PAYLOAD", 256) as usize];
    // The bare loop writes what the spool writes: 8 bytes of length and
    // checksum, then the payload.
    let record = vec![0x5A; payload.len() + 8];
    let only: Option<Vec<String>> = std::env::var("SPOOL_BENCH_ONLY")
        .ok()
        .map(|s| s.split(',').map(str::to_owned).collect());
    let variants: Vec<&(&str, Writer, usize)> = VARIANTS
        .iter()
        .filter(|(id, ..)| only.as_ref().is_none_or(|o| o.iter().any(|x| x == id)))
        .collect();
    let dir: PathBuf = std::env::var_os("SPOOL_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("iot-spool-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    println!(
        "spool: {} B payloads, {rounds} rounds x {seconds:?} per variant, interleaved; dir {}\n",
        payload.len(),
        dir.display()
    );
    let mut totals: Vec<Run> = variants.iter().map(|_| Run::default()).collect();
    for round in 0..rounds {
        // Rotate the order, so no variant always follows the same one.
        for k in 0..variants.len() {
            let i = (k + round) % variants.len();
            let (_, writer, producers) = *variants[i];
            let run = match writer {
                Writer::Bare => bare(&dir, producers, seconds, &record),
                Writer::Spool(policy) => spool(&dir, policy, producers, seconds, &payload),
                Writer::SpoolAsync => spool_async(&rt, &dir, producers, seconds, &payload),
            };
            totals[i].absorb(run);
        }
    }
    let rates: Vec<f64> = totals.iter().map(Run::rate).collect();
    let bare_rate = |producers: usize| {
        variants
            .iter()
            .zip(&rates)
            .find(|((_, w, p), _)| matches!(w, Writer::Bare) && *p == producers)
            .map(|(_, rate)| *rate)
    };
    println!(
        "| variant | writer | producers | records/s | p50 µs | p99 µs | fsyncs/record | vs bare, same producers |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for ((id, writer, producers), run) in variants.iter().zip(&mut totals) {
        let name = match writer {
            Writer::Bare => "write + fdatasync".to_owned(),
            Writer::Spool(p) => format!("spool {p:?}"),
            Writer::SpoolAsync => "spool Always, async tasks".to_owned(),
        };
        let vs = match bare_rate(*producers) {
            Some(b) => format!("{:.2}x", run.rate() / b),
            None => "-".to_owned(),
        };
        println!(
            "| {id} | {name} | {producers} | {:.0} | {:.1} | {:.1} | {:.3} | {vs} |",
            run.rate(),
            run.quantile_us(0.50),
            run.quantile_us(0.99),
            run.fsyncs as f64 / run.records.max(1) as f64,
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
