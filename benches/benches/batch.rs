//! iot-resilience's batch layer against calling the inner service once per
//! item, with an inner service that costs what a database round trip does,
//! and the layer's own cost per item with an inner service that is free.
//!
//! ```sh
//! cargo bench -p iot-benches --bench batch -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Every iteration moves [`ITEMS`] items on a current-thread tokio runtime
//! (throughput is in items). Groups:
//!
//! * `batch/db/<variant>`: the inner service is a simulated database whose
//!   call completes 50 us + 1 us per item after it is made (one
//!   connection: one call at a time). The completion is awaited by
//!   re-polling (the runtime's thread spins), because tokio's timer has
//!   millisecond resolution. Variants: `per_item_calls` (one call per item,
//!   in turn), `vec_calls_<n>` (the caller cuts the items into `Vec`s of
//!   `n` itself: the floor for batching), `batch_layer_<n>` (every item is
//!   its own caller, `call`ed at once through `BatchLayer` with `max_items`
//!   = `n`; each caller awaits its own outcome).
//! * `batch/overhead/<variant>`: the inner service answers at once.
//!   `per_item_calls` and `vec_calls_100` as above; `batch_layer_burst_100`:
//!   all items `call`ed at once, then awaited; `batch_layer_one_caller`:
//!   one caller, each item awaited before the next is `call`ed (with
//!   `max_age` zero, so each is a batch of one: the round trip through the
//!   worker). Overhead per item = variant - `vec_calls_100` (burst) or
//!   `per_item_calls` (one caller).
//!
//! After the run a table of the medians per item is printed.

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, Throughput, measurement::WallTime};
use iot_benches::report::{criterion_dir, median_ns};
use iot_resilience::batch::{Batch, BatchConfig, BatchLayer};
use tokio::runtime::Runtime;
use tower::{Layer, Service, ServiceExt};

/// Items per iteration.
const ITEMS: u32 = 1_000;
const DB_GROUP: &str = "batch/db";
const OVERHEAD_GROUP: &str = "batch/overhead";

type Outcomes = Vec<Result<u32, Infallible>>;

/// A simulated database: a call of `n` items completes `per_call + n *
/// per_item` after it is made. One connection: calls never overlap (the
/// loops await each call, the layer runs one batch at a time, its default).
/// Always ready; the outcome of item `x` is `Ok(x)`.
#[derive(Clone, Copy)]
struct Db {
    per_call: Duration,
    per_item: Duration,
}

const ROUND_TRIP: Db = Db {
    per_call: Duration::from_micros(50),
    per_item: Duration::from_micros(1),
};
const FREE: Db = Db {
    per_call: Duration::ZERO,
    per_item: Duration::ZERO,
};

struct DbCall {
    items: Option<Vec<u32>>,
    /// `None`: completes at once.
    done_at: Option<Instant>,
}

impl Future for DbCall {
    type Output = Result<Outcomes, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(at) = self.done_at {
            if Instant::now() < at {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
        let items = self.items.take().expect("polled after completion");
        Poll::Ready(Ok(items.into_iter().map(Ok).collect()))
    }
}

impl Service<Vec<u32>> for Db {
    type Response = Outcomes;
    type Error = Infallible;
    type Future = DbCall;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, items: Vec<u32>) -> DbCall {
        let cost = self.per_call + self.per_item * items.len() as u32;
        DbCall {
            done_at: (!cost.is_zero()).then(|| Instant::now() + cost),
            items: Some(items),
        }
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}

/// One call per item, each awaited before the next.
async fn per_item_calls(mut db: Db) -> u32 {
    let mut sum = 0;
    for x in 0..ITEMS {
        let out = db.ready().await.unwrap().call(vec![black_box(x)]).await;
        sum += out.unwrap()[0].unwrap();
    }
    sum
}

/// The items cut into `Vec`s of `n` by the caller.
async fn vec_calls(mut db: Db, n: u32) -> u32 {
    let mut sum = 0;
    for start in (0..ITEMS).step_by(n as usize) {
        let items: Vec<u32> = (start..(start + n).min(ITEMS)).map(black_box).collect();
        for r in db.ready().await.unwrap().call(items).await.unwrap() {
            sum += r.unwrap();
        }
    }
    sum
}

type Batched = Batch<u32, u32, Infallible>;

/// Every item `call`ed at once, then every outcome awaited.
async fn burst(svc: &mut Batched) -> u32 {
    let mut futures = Vec::with_capacity(ITEMS as usize);
    for x in 0..ITEMS {
        futures.push(svc.ready().await.unwrap().call(black_box(x)));
    }
    let mut sum = 0;
    for f in futures {
        sum += f.await.unwrap();
    }
    sum
}

/// One caller: each item awaited before the next.
async fn one_caller(svc: &mut Batched) -> u32 {
    let mut sum = 0;
    for x in 0..ITEMS {
        sum += svc.ready().await.unwrap().call(black_box(x)).await.unwrap();
    }
    sum
}

/// A batch service on `rt` (its worker spawned there) around `db`.
fn batch_layer(rt: &Runtime, db: Db, max_items: usize, max_age: Duration) -> Batched {
    let config = BatchConfig::new(max_items, max_age).max_pending(ITEMS as usize);
    let layer = BatchLayer::new(config).expect("valid config");
    rt.block_on(async { layer.layer(db) })
}

fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(u64::from(ITEMS)));
    g
}

fn db_group(c: &mut Criterion, rt: &Runtime) {
    let mut g = group(c, DB_GROUP);
    g.sample_size(10);
    g.bench_function("per_item_calls", |b| {
        b.iter(|| rt.block_on(per_item_calls(ROUND_TRIP)))
    });
    for n in [10, 100] {
        g.bench_function(format!("vec_calls_{n}"), |b| {
            b.iter(|| rt.block_on(vec_calls(ROUND_TRIP, n)))
        });
        // An age long enough never to fire: ITEMS is a multiple of `n`.
        let mut svc = batch_layer(rt, ROUND_TRIP, n as usize, Duration::from_secs(1));
        g.bench_function(format!("batch_layer_{n}"), |b| {
            b.iter(|| rt.block_on(burst(&mut svc)))
        });
    }
    g.finish();
}

fn overhead_group(c: &mut Criterion, rt: &Runtime) {
    let mut g = group(c, OVERHEAD_GROUP);
    g.bench_function("per_item_calls", |b| {
        b.iter(|| rt.block_on(per_item_calls(FREE)))
    });
    g.bench_function("vec_calls_100", |b| {
        b.iter(|| rt.block_on(vec_calls(FREE, 100)))
    });
    let mut svc = batch_layer(rt, FREE, 100, Duration::from_secs(1));
    g.bench_function("batch_layer_burst_100", |b| {
        b.iter(|| rt.block_on(burst(&mut svc)))
    });
    let mut svc = batch_layer(rt, FREE, 100, Duration::ZERO);
    g.bench_function("batch_layer_one_caller", |b| {
        b.iter(|| rt.block_on(one_caller(&mut svc)))
    });
    g.finish();
}

/// Medians per item, from what criterion saved.
fn print_table() {
    let dir = criterion_dir();
    let per_item =
        |group: &str, id: &str| median_ns(&dir, group, id).map(|ns| ns / f64::from(ITEMS));
    let show = |ns: Option<f64>| ns.map_or("-".to_string(), |ns| format!("{ns:.0}"));
    println!("\n| group | variant | ns per item (median) | items/s |");
    println!("| --- | --- | ---: | ---: |");
    for (group, ids) in [
        (
            DB_GROUP,
            &[
                "per_item_calls",
                "vec_calls_10",
                "batch_layer_10",
                "vec_calls_100",
                "batch_layer_100",
            ][..],
        ),
        (
            OVERHEAD_GROUP,
            &[
                "per_item_calls",
                "vec_calls_100",
                "batch_layer_burst_100",
                "batch_layer_one_caller",
            ][..],
        ),
    ] {
        for id in ids {
            let ns = per_item(group, id);
            let rate = ns.map_or("-".to_string(), |ns| format!("{:.0}", 1e9 / ns));
            println!("| {group} | {id} | {} | {rate} |", show(ns));
        }
    }
}

fn main() {
    let rt = runtime();
    let mut c = Criterion::default().configure_from_args();
    db_group(&mut c, &rt);
    overhead_group(&mut c, &rt);
    c.final_summary();
    print_table();
}
