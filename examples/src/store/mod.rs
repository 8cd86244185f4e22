//! Durable sinks: readings written to SQLite (embedded) or PostgreSQL
//! (also as a TimescaleDB hypertable), one row per reading, idempotently.
//!
//! ```text
//! frames --Batch::push_request/push_received/push_frame--> Batch (rows + rejected)
//!        --Store::write--> one transaction: INSERT ... ON CONFLICT DO NOTHING
//! ```
//!
//! * [`Batch`] converts frames to [`Row`]s in one place: aliases resolved
//!   (an unknown one is stored as `#<alias>` and counted), reading time =
//!   frame timestamp + offset, the unit of the reading or of its alias.
//!   Readings that cannot be stored are set aside with a [`RejectReason`]
//!   and counted, never truncated or silently dropped.
//! * [`Store`] writes a batch in one transaction and reports how many
//!   rows were new ([`WriteReport`]). The key `(device, channel, ts,
//!   epoch, seq)` makes a second write of the same frame (a redelivery
//!   after a crash) store nothing: at-least-once delivery from the broker
//!   becomes effectively-once per reading.
//! * [`SqliteStore`] (WAL, one transaction per batch, prepared multi-row
//!   inserts on a blocking thread) and [`PostgresStore`] (multi-row INSERT
//!   or binary COPY through a staging table; reconnects on the next write
//!   after a failure).
//!
//! The schema of both dialects, delivery semantics, sizing and a
//! TimescaleDB setup are in `docs/sinks.md`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use iot_resilience::{Hint, RetryHint};

pub mod postgres;
mod row;
pub mod sqlite;

pub use postgres::{PostgresOptions, PostgresStore, WriteMode};
pub use row::{
    Batch, Columns, FrameOutcome, KeyField, Kind, MAX_TS_MS, MIN_TS_MS, RejectReason, Rejected,
    Row, RowValue, TextField,
};
pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};

/// The table both stores use unless told otherwise.
pub const DEFAULT_TABLE: &str = "readings";

/// A boxed future, so [`Store`] can be used as `dyn Store`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A durable, idempotent destination for readings.
///
/// `write` stores a whole batch or nothing (one transaction). Writing the
/// same rows again stores nothing new, so a batch whose write failed, or
/// whose outcome is unknown (the connection broke during the commit), can
/// simply be written again. Acknowledge frames to the broker only after
/// `write` returned `Ok`.
pub trait Store: Send + Sync {
    /// Writes `batch` in one transaction.
    fn write<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<WriteReport, StoreError>>;

    /// The rows of `device`, ordered by channel, time, epoch and sequence
    /// number: for checks and tools, not for bulk reads.
    fn read_device<'a>(&'a self, device: &'a str) -> BoxFuture<'a, Result<Vec<Row>, StoreError>>;

    /// Rows and distinct frames `(device, epoch, seq)` stored of devices
    /// whose id starts with `device_prefix` (`""`: all): how a run checks
    /// what reached the database.
    fn totals<'a>(&'a self, device_prefix: &'a str) -> BoxFuture<'a, Result<Totals, StoreError>>;

    /// Where the rows go, for logs: `sqlite:<path>` or a PostgreSQL URL
    /// without its password.
    fn describe(&self) -> String;
}

/// What [`Store::totals`] counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Rows (readings).
    pub rows: u64,
    /// Distinct frames.
    pub frames: u64,
}

/// The query behind [`Store::totals`], with `param` the dialect's first
/// placeholder.
pub(crate) fn totals_sql(table: &str, param: &str) -> String {
    format!(
        "SELECT (SELECT count(*) FROM {table} WHERE substr(device, 1, length({param})) = {param}), \
         (SELECT count(*) FROM (SELECT DISTINCT device, epoch, seq FROM {table} \
         WHERE substr(device, 1, length({param})) = {param}) AS f)"
    )
}

/// What one [`Store::write`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// Rows offered (the batch's rows).
    pub rows: u64,
    /// Rows that were new and are now stored.
    pub inserted: u64,
    /// Rows already stored (redeliveries, or repeats within the batch).
    pub duplicates: u64,
    /// Readings the batch had set aside ([`Batch::rejected`]), for
    /// accounting: `readings = inserted + duplicates + rejected`.
    pub rejected: u64,
    /// Time spent, connecting included.
    pub elapsed: Duration,
}

impl WriteReport {
    pub(crate) fn new(batch: &Batch, inserted: u64, elapsed: Duration) -> Self {
        let rows = batch.len() as u64;
        Self {
            rows,
            inserted,
            duplicates: rows.saturating_sub(inserted),
            rejected: batch.rejected().len() as u64,
            elapsed,
        }
    }
}

/// Why a write (or opening a store) failed. Nothing of the batch is
/// stored unless said otherwise; writing it again is always safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The database could not be reached (connection refused, timed out,
    /// starting up): nothing was written. The next write tries again.
    Unavailable(String),
    /// The connection broke or timed out during the write: the batch may
    /// or may not have been committed. The next write reconnects; writing
    /// the batch again stores what is missing and nothing twice.
    ConnectionLost(String),
    /// PostgreSQL refused a statement: SQLSTATE `code` and message.
    Database {
        /// The SQLSTATE, e.g. `42P01` (undefined table), `53100` (disk full).
        code: String,
        /// The server's message.
        message: String,
    },
    /// SQLite failed: its extended result code and message.
    Sqlite {
        /// The extended result code, e.g. 5 (`SQLITE_BUSY`), 13 (`SQLITE_FULL`).
        code: i32,
        /// The message.
        message: String,
    },
    /// Invalid settings: URL, table name, path.
    Config(String),
    /// The store's blocking task failed (panicked or was cancelled).
    Internal(String),
}

impl StoreError {
    /// Whether writing again later may succeed: the database was
    /// unreachable, busy, full, shutting down or restarting. `false` for
    /// errors a retry cannot fix (bad SQL, permissions, bad settings).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Unavailable(_) | StoreError::ConnectionLost(_) => true,
            // Classes 08 connection exception, 40 transaction rollback
            // (serialization, deadlock), 53 insufficient resources, 57
            // operator intervention (shutdown, starting up).
            StoreError::Database { code, .. } => {
                ["08", "40", "53", "57"].iter().any(|c| code.starts_with(c))
            }
            // SQLITE_BUSY (5), SQLITE_LOCKED (6), SQLITE_FULL (13) and
            // their extended codes.
            StoreError::Sqlite { code, .. } => matches!(code & 0xff, 5 | 6 | 13),
            StoreError::Config(_) | StoreError::Internal(_) => false,
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(e) => write!(f, "database unavailable: {e}"),
            StoreError::ConnectionLost(e) => write!(f, "database connection lost: {e}"),
            StoreError::Database { code, message } => {
                write!(f, "database error {code}: {message}")
            }
            StoreError::Sqlite { code, message } => write!(f, "SQLite error {code}: {message}"),
            StoreError::Config(e) => write!(f, "store configuration: {e}"),
            StoreError::Internal(e) => write!(f, "store task failed: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl RetryHint for StoreError {
    /// Permanent errors are not retried; transient ones are left to the
    /// retry policy.
    fn retry_hint(&self) -> Hint {
        if self.is_transient() {
            Hint::None
        } else {
            Hint::DoNotRetry
        }
    }
}

/// The value columns in table order, after the key and `ts`/`kind`.
pub(crate) const COLUMNS: [&str; 13] = [
    "device", "epoch", "seq", "channel", "ts", "kind", "v_float", "v_int", "v_uint", "v_bool",
    "v_text", "v_bytes", "unit",
];

/// Checks a table name: `[a-z_][a-z0-9_]*`, at most 48 bytes (it is
/// spliced into SQL, and prefixes index and staging-table names).
pub(crate) fn check_table(table: &str) -> Result<(), StoreError> {
    let mut bytes = table.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
    let rest_ok = bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if first_ok && rest_ok && table.len() <= 48 {
        Ok(())
    } else {
        Err(StoreError::Config(format!(
            "table name {table:?}: expected [a-z_][a-z0-9_]*, at most 48 bytes"
        )))
    }
}

/// Splits `n` rows into statement sizes: as many `max`-row statements as
/// fit, then powers of two, so at most `log2(max) + 1` distinct prepared
/// statements serve every batch size.
pub(crate) fn chunk_sizes(mut n: usize, max: usize) -> Vec<usize> {
    debug_assert!(max.is_power_of_two());
    let mut sizes = Vec::new();
    while n >= max {
        sizes.push(max);
        n -= max;
    }
    let mut size = max / 2;
    while n > 0 {
        if n >= size {
            sizes.push(size);
            n -= size;
        }
        size /= 2;
    }
    sizes
}

/// `INSERT INTO <table> (<columns>) VALUES (...), ... ON CONFLICT DO
/// NOTHING` for `rows` rows, each placeholder made by `placeholder(n)`
/// (1-based).
pub(crate) fn insert_sql(
    table: &str,
    rows: usize,
    placeholder: impl Fn(usize) -> String,
) -> String {
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", COLUMNS.join(", "));
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..COLUMNS.len() {
            if c > 0 {
                sql.push_str(", ");
            }
            n += 1;
            sql.push_str(&placeholder(n));
        }
        sql.push(')');
    }
    sql.push_str(" ON CONFLICT DO NOTHING");
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes_cover_every_count() {
        for n in 0..600 {
            let sizes = chunk_sizes(n, 128);
            assert_eq!(sizes.iter().sum::<usize>(), n);
            assert!(sizes.iter().all(|s| s.is_power_of_two() && *s <= 128));
        }
        assert_eq!(chunk_sizes(1000, 256), vec![256, 256, 256, 128, 64, 32, 8]);
    }

    #[test]
    fn table_names() {
        assert!(check_table("readings").is_ok());
        assert!(check_table("_t2").is_ok());
        for bad in ["", "2t", "Readings", "a-b", "a;drop", &"x".repeat(49)] {
            assert!(check_table(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn insert_sql_numbers_placeholders() {
        let sql = insert_sql("t", 2, |n| format!("${n}"));
        assert!(sql.starts_with("INSERT INTO t (device, epoch, seq, channel, ts, kind, "));
        assert!(sql.contains("($1, $2,"));
        assert!(sql.contains("$26) ON CONFLICT DO NOTHING"));
    }
}
