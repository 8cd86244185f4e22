//! COPY or INSERT? Times `Store::write` for batches of 100 and 1000 rows
//! against a real PostgreSQL (durable commits: PostgreSQL's defaults),
//! interleaving the two write modes round by round, and SQLite for
//! comparison. New rows every round, then the same batch again (what a
//! redelivery costs).
//!
//! By default a 3-round smoke run (both paths work at both sizes); for
//! numbers:
//!
//! ```text
//! STORE_BENCH_ROUNDS=40 cargo test --release -p iot-examples --test store_bench -- --nocapture
//! ```

use std::time::Duration;

use iot_core::codec::{Channel, FrameHeader, Limits, NoAliases, Reading, Value, decode_frame};
use iot_examples::store::{
    Batch, PostgresOptions, PostgresStore, SqliteOptions, SqliteStore, Store, Synchronous,
    WriteMode,
};
use iot_testkit::postgres::Postgres;

/// A batch of `rows` rows: frames of 10 readings shaped like the reference
/// frame (5 floats, 2 integers, a bool, a string, bytes), sequence numbers
/// from `first_seq`.
fn batch(rows: usize, first_seq: u64) -> Batch {
    const NAMES: [&str; 10] = ["t0", "t1", "t2", "t3", "t4", "i0", "i1", "b", "s", "raw"];
    let mut batch = Batch::new();
    let mut buf = vec![0u8; 4096];
    for f in 0..(rows / 10) as u64 {
        let seq = first_seq + f;
        let readings: Vec<Reading<'_>> = NAMES
            .iter()
            .enumerate()
            .map(|(i, &name)| {
                let value = match i {
                    0..=4 => Value::F64(20.0 + seq as f64 / 7.0 + i as f64),
                    5 => Value::I64(-(seq as i64)),
                    6 => Value::U64(seq * 1000),
                    7 => Value::Bool(seq % 2 == 0),
                    8 => Value::Str("ok"),
                    _ => Value::Bytes(&[0xde, 0xad, 0xbe, 0xef]),
                };
                Reading::new(Channel::Name(name), value)
            })
            .collect();
        let header = FrameHeader::new("dev-4f2a9c01", seq, 1_700_000_000_000 + seq * 1000)
            .with_epoch(1_700_000_000_000);
        let n = iot_core::codec::encode_frame(&header, &readings, &mut buf).unwrap();
        let view = decode_frame(&buf[..n], &Limits::default()).unwrap();
        batch.push_frame(&view, &NoAliases);
    }
    assert_eq!(batch.len(), rows);
    batch
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

struct Line {
    store: String,
    rows: usize,
    new: Vec<Duration>,
    again: Vec<Duration>,
}

impl Line {
    fn print(self) {
        let (new, again) = (median(self.new), median(self.again));
        let per_s = |d: Duration| self.rows as f64 / d.as_secs_f64();
        println!(
            "{:<22} {:>5} rows  new: {:>8.2} ms ({:>8.0} rows/s)  again: {:>8.2} ms ({:>8.0} rows/s)",
            self.store,
            self.rows,
            new.as_secs_f64() * 1e3,
            per_s(new),
            again.as_secs_f64() * 1e3,
            per_s(again),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_vs_insert() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let rounds: usize = std::env::var("STORE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let dir = pg.dir().join("sqlite");
    std::fs::create_dir_all(&dir).unwrap();
    let mut stores: Vec<(String, Box<dyn Store>)> = Vec::new();
    for (name, mode) in [("insert", WriteMode::Insert), ("copy", WriteMode::Copy)] {
        let opts = PostgresOptions {
            table: format!("bench_{name}"),
            mode,
            ..Default::default()
        };
        let store = PostgresStore::connect(&pg.url(), opts).await.unwrap();
        stores.push((format!("postgres {name}"), Box::new(store)));
    }
    for (name, synchronous) in [("FULL", Synchronous::Full), ("NORMAL", Synchronous::Normal)] {
        let opts = SqliteOptions {
            synchronous,
            ..Default::default()
        };
        let path = dir.join(format!("{name}.db"));
        let store = SqliteStore::open_with(path, opts).await.unwrap();
        stores.push((format!("sqlite {name}"), Box::new(store)));
    }

    println!("{rounds} rounds, median per write (PostgreSQL 15, local, fsync on)");
    let mut seq = 0u64;
    for rows in [100, 1000] {
        let mut lines: Vec<Line> = stores
            .iter()
            .map(|(name, _)| Line {
                store: name.clone(),
                rows,
                new: Vec::new(),
                again: Vec::new(),
            })
            .collect();
        // Warm-up: connections, prepared statements, staging tables.
        for (_, store) in &stores {
            store.write(&batch(rows, 1 << 30)).await.unwrap();
        }
        for round in 0..rounds {
            // Every store writes the same rows (own tables/files); the order
            // rotates so none always goes first.
            let b = batch(rows, seq);
            seq += (rows / 10) as u64;
            for k in 0..stores.len() {
                let i = (k + round) % stores.len();
                let store = &stores[i].1;
                let first = store.write(&b).await.unwrap();
                assert_eq!(first.inserted, rows as u64, "{}", stores[i].0);
                let again = store.write(&b).await.unwrap();
                assert_eq!(again.duplicates, rows as u64, "{}", stores[i].0);
                lines[i].new.push(first.elapsed);
                lines[i].again.push(again.elapsed);
            }
        }
        for line in lines {
            line.print();
        }
    }

    // Sizing: bytes per stored row, indexes included.
    for name in ["insert", "copy"] {
        let out = pg.psql(&format!(
            "SELECT pg_total_relation_size('bench_{name}') / count(*) FROM bench_{name}"
        ));
        println!("postgres {name}: {out} bytes per row (table + primary key + BRIN)");
    }
    for name in ["FULL", "NORMAL"] {
        let path = dir.join(format!("{name}.db"));
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        let rows: i64 = db
            .query_row("SELECT count(*) FROM readings", [], |r| r.get(0))
            .unwrap();
        let bytes = std::fs::metadata(&path).unwrap().len();
        println!(
            "sqlite {name}: {} bytes per row (file)",
            bytes / rows as u64
        );
    }
}
