//! The embedded store: one SQLite file in WAL mode, a transaction per
//! batch, prepared multi-row inserts, on a blocking thread.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Connection, OpenFlags};

use super::{
    Batch, BoxFuture, Columns, DEFAULT_TABLE, Kind, Row, RowValue, Store, StoreError, WriteReport,
    check_table, chunk_sizes, insert_sql,
};

/// `PRAGMA user_version` of the schema this module writes.
pub const SCHEMA_VERSION: i64 = 1;

/// Rows per INSERT statement at most (13 parameters each; SQLite allows
/// 32766 since 3.32).
const MAX_ROWS_PER_STATEMENT: usize = 64;

/// The SQLite schema for `table` (idempotent; `docs/sinks.md`).
///
/// `STRICT` makes SQLite check the declared types; `v_uint` is `ANY` so a
/// `u64` above `i64::MAX` keeps its exact digits (as 20-digit,
/// zero-padded text, which sorts after every integer and among itself in
/// numeric order) while smaller ones are plain integers. `WITHOUT ROWID`
/// stores the rows in the primary key's b-tree (no second copy of the
/// key).
pub fn schema_sql(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (
    device  TEXT    NOT NULL,
    epoch   INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    channel TEXT    NOT NULL,
    ts      INTEGER NOT NULL, -- ms since 1970-01-01T00:00:00Z
    kind    TEXT    NOT NULL CHECK (kind IN ('f64', 'f32', 'i64', 'u64', 'bool', 'str', 'bytes')),
    v_float REAL,             -- f64, f32; NULL with a float kind: NaN
    v_int   INTEGER,          -- i64
    v_uint  ANY,              -- u64: integer up to i64::MAX, else 20-digit text
    v_bool  INTEGER CHECK (v_bool IN (0, 1)),
    v_text  TEXT,
    v_bytes BLOB,
    unit    TEXT,
    PRIMARY KEY (device, channel, ts, epoch, seq)
) STRICT, WITHOUT ROWID;"
    )
}

/// `PRAGMA synchronous` in WAL mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// Every commit is on disk when `write` returns: a power cut loses
    /// nothing acknowledged (the right setting when frames are
    /// acknowledged to the broker after the write).
    #[default]
    Full,
    /// Commits are on disk at the next checkpoint: a process crash loses
    /// nothing, a power cut may lose the last commits. Faster.
    Normal,
}

/// How the store opens its file.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The table (default `readings`).
    pub table: String,
    /// Durability of commits.
    pub synchronous: Synchronous,
    /// How long a write waits for another connection's lock.
    pub busy_timeout: Duration,
    /// SQLite's page cache, KiB (default 65,536: 64 MiB). Rows arrive in
    /// time order but the key leads with `(device, channel)`, so a batch
    /// touches a leaf page per device and channel; SQLite's default 2 MiB
    /// cache cannot hold them for a fleet of hundreds of devices (measured:
    /// 2.4 M rows in arrival order loaded in 27.5 to 31.2 s with the
    /// default, 12.7 to 12.9 s with 256 MiB; `docs/benchmarks.md`).
    pub cache_kib: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            table: DEFAULT_TABLE.to_string(),
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(5),
            cache_kib: 65_536,
        }
    }
}

/// A SQLite file of readings. Cheap to clone (one shared connection;
/// writes are serialised).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    path: PathBuf,
    table: Arc<str>,
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the file at `path` with the defaults:
    /// WAL, `synchronous = FULL`, the schema migrated.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, SqliteOptions::default()).await
    }

    /// Opens the file at `path` with `options`, on a blocking thread.
    pub async fn open_with(
        path: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(path, options))
            .await
            .map_err(|e| StoreError::Internal(e.to_string()))?
    }

    /// Opens the file at `path` with `options` on this thread.
    pub fn open_blocking(path: PathBuf, options: SqliteOptions) -> Result<Self, StoreError> {
        check_table(&options.table)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(sqlite)?;
        conn.busy_timeout(options.busy_timeout).map_err(sqlite)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(sqlite)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Config(format!(
                "{}: journal_mode stayed {mode} (WAL needs a file on a local file system)",
                path.display()
            )));
        }
        let sync = match options.synchronous {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        };
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {sync}; PRAGMA cache_size = -{};",
            options.cache_kib.max(64)
        ))
        .map_err(sqlite)?;
        migrate(&conn, &options.table)?;
        Ok(Self {
            path,
            table: options.table.into(),
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The table.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Runs `f` with the connection on a blocking thread.
    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))?
    }
}

/// Creates the table if needed and records the schema version.
fn migrate(conn: &Connection, table: &str) -> Result<(), StoreError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sqlite)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Config(format!(
            "schema version {version} is newer than this store's ({SCHEMA_VERSION})"
        )));
    }
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE;\n{}\nPRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;",
        schema_sql(table)
    ))
    .map_err(sqlite)
}

fn sqlite(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, message) => StoreError::Sqlite {
            code: f.extended_code,
            message: message.unwrap_or_else(|| f.to_string()),
        },
        other => StoreError::Sqlite {
            code: -1,
            message: other.to_string(),
        },
    }
}

/// `v_uint`: an integer up to `i64::MAX`, else its 20 zero-padded digits.
fn uint_param(v: u64) -> ToSqlOutput<'static> {
    match i64::try_from(v) {
        Ok(i) => ToSqlOutput::Owned(SqlValue::Integer(i)),
        Err(_) => ToSqlOutput::Owned(SqlValue::Text(format!("{v:020}"))),
    }
}

fn insert_rows(conn: &mut Connection, table: &str, rows: &[Row]) -> Result<u64, StoreError> {
    let tx = conn.transaction().map_err(sqlite)?;
    let mut inserted = 0u64;
    let mut rest = rows;
    for size in chunk_sizes(rows.len(), MAX_ROWS_PER_STATEMENT) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let sql = insert_sql(table, size, |n| format!("?{n}"));
        let mut stmt = tx.prepare_cached(&sql).map_err(sqlite)?;
        let mut n = 0;
        for row in chunk {
            let c = row.value.columns();
            let params: [ToSqlOutput<'_>; 13] = [
                ToSqlOutput::Borrowed(ValueRef::Text(row.device.as_bytes())),
                ToSqlOutput::Owned(SqlValue::Integer(row.epoch)),
                ToSqlOutput::Owned(SqlValue::Integer(row.seq)),
                ToSqlOutput::Borrowed(ValueRef::Text(row.channel.as_bytes())),
                ToSqlOutput::Owned(SqlValue::Integer(row.ts_ms)),
                ToSqlOutput::Borrowed(ValueRef::Text(row.value.kind().as_str().as_bytes())),
                c.float
                    .map_or(NULL, |v| ToSqlOutput::Owned(SqlValue::Real(v))),
                c.int
                    .map_or(NULL, |v| ToSqlOutput::Owned(SqlValue::Integer(v))),
                c.uint.map_or(NULL, uint_param),
                c.boolean
                    .map_or(NULL, |v| ToSqlOutput::Owned(SqlValue::Integer(v.into()))),
                c.text.map_or(NULL, |v| {
                    ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes()))
                }),
                c.bytes
                    .map_or(NULL, |v| ToSqlOutput::Borrowed(ValueRef::Blob(v))),
                row.unit.as_deref().map_or(NULL, |v| {
                    ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes()))
                }),
            ];
            for p in params {
                n += 1;
                stmt.raw_bind_parameter(n, p).map_err(sqlite)?;
            }
        }
        inserted += stmt.raw_execute().map_err(sqlite)? as u64;
    }
    tx.commit().map_err(sqlite)?;
    Ok(inserted)
}

const NULL: ToSqlOutput<'static> = ToSqlOutput::Borrowed(ValueRef::Null);

fn read_rows(conn: &Connection, table: &str, device: &str) -> Result<Vec<Row>, StoreError> {
    let sql = format!(
        "SELECT {} FROM {table} WHERE device = ?1 ORDER BY channel, ts, epoch, seq",
        super::COLUMNS.join(", ")
    );
    let mut stmt = conn.prepare(&sql).map_err(sqlite)?;
    let mut rows = stmt.query([device]).map_err(sqlite)?;
    let mut out = Vec::new();
    let device: Arc<str> = Arc::from(device);
    while let Some(r) = rows.next().map_err(sqlite)? {
        let kind_text: String = r.get(5).map_err(sqlite)?;
        let kind = Kind::parse(&kind_text)
            .ok_or_else(|| StoreError::Internal(format!("unknown kind {kind_text:?}")))?;
        let uint = match r.get_ref(8).map_err(sqlite)? {
            ValueRef::Null => None,
            ValueRef::Integer(i) => u64::try_from(i).ok(),
            ValueRef::Text(t) => std::str::from_utf8(t).ok().and_then(|t| t.parse().ok()),
            _ => None,
        };
        let text: Option<String> = r.get(10).map_err(sqlite)?;
        let bytes: Option<Vec<u8>> = r.get(11).map_err(sqlite)?;
        let columns = Columns {
            float: r.get(6).map_err(sqlite)?,
            int: r.get(7).map_err(sqlite)?,
            uint,
            boolean: r.get(9).map_err(sqlite)?,
            text: text.as_deref(),
            bytes: bytes.as_deref(),
        };
        out.push(Row {
            device: device.clone(),
            epoch: r.get(1).map_err(sqlite)?,
            seq: r.get(2).map_err(sqlite)?,
            channel: r.get(3).map_err(sqlite)?,
            ts_ms: r.get(4).map_err(sqlite)?,
            value: RowValue::from_columns(kind, columns).map_err(StoreError::Internal)?,
            unit: r.get(12).map_err(sqlite)?,
        });
    }
    Ok(out)
}

impl Store for SqliteStore {
    fn write<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<WriteReport, StoreError>> {
        Box::pin(async move {
            let started = Instant::now();
            if batch.is_empty() {
                return Ok(WriteReport::new(batch, 0, started.elapsed()));
            }
            let rows = batch.shared_rows();
            let table = self.table.clone();
            let inserted = self
                .with_conn(move |conn| insert_rows(conn, &table, &rows))
                .await?;
            Ok(WriteReport::new(batch, inserted, started.elapsed()))
        })
    }

    fn read_device<'a>(&'a self, device: &'a str) -> BoxFuture<'a, Result<Vec<Row>, StoreError>> {
        let table = self.table.clone();
        let device = device.to_owned();
        Box::pin(self.with_conn(move |conn| read_rows(conn, &table, &device)))
    }

    fn totals<'a>(
        &'a self,
        device_prefix: &'a str,
    ) -> BoxFuture<'a, Result<super::Totals, StoreError>> {
        let sql = super::totals_sql(&self.table, "?1");
        let prefix = device_prefix.to_owned();
        Box::pin(self.with_conn(move |conn| {
            let (rows, frames): (i64, i64) = conn
                .query_row(&sql, [prefix], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(sqlite)?;
            Ok(super::Totals {
                rows: rows.unsigned_abs(),
                frames: frames.unsigned_abs(),
            })
        }))
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}
