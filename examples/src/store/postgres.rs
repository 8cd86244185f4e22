//! The PostgreSQL store (plain PostgreSQL, or a TimescaleDB hypertable):
//! `connections` connections (one by default), a transaction per batch, written as multi-row INSERTs
//! or by binary COPY into a staging table, `ON CONFLICT DO NOTHING`
//! either way. A failed write drops the connection when it broke; the
//! next write connects again.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use iot_core::mqtt::TlsConfig;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Config, NoTls, Statement};

use super::{
    Batch, BoxFuture, COLUMNS, Columns, DEFAULT_TABLE, Kind, Row, RowValue, Store, StoreError,
    WriteReport, check_table, chunk_sizes, insert_sql,
};

/// The schema for the default table `readings`, as SQL text to ship (e.g.
/// `psql -f`, an init container): idempotent, and safe to run by several
/// writers at once (an advisory lock orders concurrent runs; without it,
/// two `CREATE TABLE IF NOT EXISTS` racing can fail on the catalog's
/// unique index). [`migration_sql`] gives it for another table name.
///
/// The key leads with `(device, channel, ts)`, which serves the common
/// query "one device's channel over a time range", and includes `ts`
/// because TimescaleDB requires the partitioning column in every unique
/// index (`docs/sinks.md`).
pub const MIGRATION_SQL: &str = "\
-- iot-rs store: PostgreSQL schema v1 (examples/src/store, docs/sinks.md).
-- Idempotent; concurrent runs wait for each other.
BEGIN;
SELECT pg_advisory_xact_lock(7597418834956676978);
CREATE TABLE IF NOT EXISTS readings (
    device  text             NOT NULL,
    epoch   bigint           NOT NULL,
    seq     bigint           NOT NULL,
    channel text             NOT NULL,
    ts      timestamptz      NOT NULL,
    kind    text             NOT NULL
            CHECK (kind IN ('f64', 'f32', 'i64', 'u64', 'bool', 'str', 'bytes')),
    v_float double precision,
    v_int   bigint,
    v_uint  numeric(20, 0)   CHECK (v_uint >= 0),
    v_bool  boolean,
    v_text  text,
    v_bytes bytea,
    unit    text,
    PRIMARY KEY (device, channel, ts, epoch, seq)
);
CREATE INDEX IF NOT EXISTS readings_ts_brin ON readings USING brin (ts);
COMMIT;
";

/// [`MIGRATION_SQL`] for `table` (checked: `[a-z_][a-z0-9_]*`).
pub fn migration_sql(table: &str) -> Result<String, StoreError> {
    check_table(table)?;
    Ok(MIGRATION_SQL.replace(DEFAULT_TABLE, table))
}

/// How a batch travels to the server. Measured on a 2-core machine with
/// a local server: see `docs/sinks.md` ("COPY or INSERT").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WriteMode {
    /// Multi-row `INSERT ... VALUES (...), ... ON CONFLICT DO NOTHING`,
    /// prepared per statement size (at most 256 rows each).
    #[default]
    Insert,
    /// Binary `COPY` into a per-connection temporary staging table, then
    /// `INSERT INTO ... SELECT ... ON CONFLICT DO NOTHING` (COPY itself
    /// cannot skip existing rows).
    Copy,
}

/// How the store connects and writes.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// The table (default `readings`).
    pub table: String,
    /// INSERT or COPY.
    pub mode: WriteMode,
    /// Connection attempt limit, unless the URL sets `connect_timeout`.
    pub connect_timeout: Duration,
    /// Limit for one write, connecting included; beyond it the
    /// connection is dropped and the write fails with
    /// [`StoreError::ConnectionLost`].
    pub write_timeout: Duration,
    /// Connections at most (at least 1): concurrent writes each take a
    /// free one, so the server works on several batches at once. Each is
    /// opened on its first use.
    pub connections: usize,
    /// How the server's certificate is checked (and the client's
    /// certificate, for mutual TLS), whenever the connection uses TLS: with
    /// the URL's `sslmode=prefer` (tokio-postgres's default: TLS if the
    /// server offers it) or `sslmode=require` (TLS or no connection); never
    /// with `sslmode=disable`. The default trusts the platform's CAs;
    /// [`TlsConfig::ca_file`] a private CA. The files are read again for
    /// every connection, so rotated certificates are picked up. Checks are
    /// never skipped: a server whose certificate does not verify is not
    /// connected to, also with `prefer`.
    pub tls: TlsConfig,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            table: DEFAULT_TABLE.to_string(),
            mode: WriteMode::default(),
            connect_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(30),
            connections: 1,
            tls: TlsConfig::default(),
        }
    }
}

/// Rows per INSERT statement at most (13 parameters each; PostgreSQL
/// allows 65535 parameters).
const MAX_ROWS_PER_STATEMENT: usize = 256;

/// Column types in [`COLUMNS`] order.
const TYPES: [Type; 13] = [
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::TIMESTAMPTZ,
    Type::TEXT,
    Type::FLOAT8,
    Type::INT8,
    Type::NUMERIC,
    Type::BOOL,
    Type::TEXT,
    Type::BYTEA,
    Type::TEXT,
];

/// A PostgreSQL table of readings, written through up to
/// [`PostgresOptions::connections`] connections (one write per connection
/// at a time).
pub struct PostgresStore {
    config: Config,
    /// Whether connections try TLS (checked at `new`).
    tls: bool,
    described: String,
    options: PostgresOptions,
    conns: Vec<Mutex<Option<Conn>>>,
    /// Where the search for a free connection starts (round robin).
    next: AtomicUsize,
    connects: AtomicU64,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.described)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// One live connection and what was prepared on it.
struct Conn {
    client: Client,
    task: JoinHandle<()>,
    inserts: HashMap<usize, Statement>,
    /// `COPY stage FROM STDIN` and `INSERT ... SELECT FROM stage`, once
    /// the staging table exists on this connection.
    copy: Option<(Statement, Statement)>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PostgresStore {
    /// A store for `url` (`postgres://user[:password]@host:port/db`, or
    /// the key=value form) that connects on its first write: a gateway can
    /// start while the database is down.
    pub fn new(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        check_table(&options.table)?;
        let mut config: Config = url
            .parse()
            .map_err(|e| StoreError::Config(format!("PostgreSQL URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        // Without a password in the URL: the file iot-deploy's manifests
        // mount (never a password on a command line or in a ConfigMap).
        if config.get_password().is_none() {
            if let Some(file) = std::env::var_os("POSTGRES_PASSWORD_FILE") {
                let password = std::fs::read_to_string(&file).map_err(|e| {
                    StoreError::Config(format!(
                        "POSTGRES_PASSWORD_FILE {}: {e}",
                        std::path::Path::new(&file).display()
                    ))
                })?;
                config.password(password.trim_end_matches(['\r', '\n']));
            }
        }
        let tls = uses_tls(&config)?;
        if tls {
            // The files now, so a bad one fails the start; they are read
            // again for every connection (rotated certificates).
            options.tls.client_config().map_err(tls_error)?;
        }
        Ok(Self {
            described: describe(&config),
            config,
            tls,
            conns: (0..options.connections.max(1))
                .map(|_| Mutex::new(None))
                .collect(),
            options,
            next: AtomicUsize::new(0),
            connects: AtomicU64::new(0),
        })
    }

    /// Connects to `url` and migrates the schema now: the error says at
    /// once whether the database is reachable and usable.
    pub async fn connect(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        let store = Self::new(url, options)?;
        let mut conn = store.conns[0].lock().await;
        *conn = Some(store.open().await?);
        drop(conn);
        Ok(store)
    }

    /// The table.
    pub fn table(&self) -> &str {
        &self.options.table
    }

    /// The write mode.
    pub fn mode(&self) -> WriteMode {
        self.options.mode
    }

    /// Connections opened so far (each slot once, plus reconnections).
    pub fn connects(&self) -> u64 {
        self.connects.load(Relaxed)
    }

    /// Connects and runs the migration.
    async fn open(&self) -> Result<Conn, StoreError> {
        let (client, task) = if !self.tls {
            let (client, connection) = self.config.connect(NoTls).await.map_err(connect_error)?;
            (client, spawn_connection(connection))
        } else {
            let tls = self.options.tls.client_config().map_err(tls_error)?;
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
            let (client, connection) = self.config.connect(tls).await.map_err(connect_error)?;
            (client, spawn_connection(connection))
        };
        let conn = Conn {
            client,
            task,
            inserts: HashMap::new(),
            copy: None,
        };
        let sql = migration_sql(&self.options.table)?;
        conn.client
            .batch_execute(&sql)
            .await
            .map_err(connect_error)?;
        self.connects.fetch_add(1, Relaxed);
        Ok(conn)
    }

    /// Runs `op` on the connection (connecting first if there is none),
    /// within the write timeout; drops the connection when it broke.
    async fn run(&self, op: Op<'_>) -> Result<Done, StoreError> {
        let mut guard = self.free_connection().await;
        let timeout = self.options.write_timeout;
        let table = self.options.table.as_str();
        let result = tokio::time::timeout(timeout, async {
            if guard.as_ref().is_none_or(|c| c.client.is_closed()) {
                *guard = None;
                *guard = Some(self.open().await?);
            }
            let conn = guard.as_mut().expect("connected above");
            match op {
                Op::Insert(rows) => insert_rows(conn, table, rows).await.map(Done::Count),
                Op::Copy(rows) => copy_rows(conn, table, rows).await.map(Done::Count),
                Op::Read(device) => read_rows(&conn.client, table, device).await.map(Done::Rows),
                Op::Totals(prefix) => {
                    let sql = super::totals_sql(table, "$1");
                    conn.client.query_one(&sql, &[&prefix]).await.map(|r| {
                        Done::Totals(super::Totals {
                            rows: r.get::<_, i64>(0).unsigned_abs(),
                            frames: r.get::<_, i64>(1).unsigned_abs(),
                        })
                    })
                }
            }
            .map_err(write_error)
        })
        .await
        .unwrap_or_else(|_| {
            Err(StoreError::ConnectionLost(format!(
                "no answer within {timeout:?}"
            )))
        });
        let broken = match &result {
            Ok(_) => false,
            Err(StoreError::Database { .. }) => {
                guard.as_ref().is_some_and(|c| c.client.is_closed())
            }
            Err(_) => true,
        };
        if broken {
            *guard = None;
        }
        result
    }
}

impl PostgresStore {
    /// A free connection slot, or (all busy) the next one in turn once it
    /// is free.
    async fn free_connection(&self) -> tokio::sync::MutexGuard<'_, Option<Conn>> {
        let n = self.conns.len();
        let start = self.next.fetch_add(1, Relaxed) % n;
        for i in 0..n {
            if let Ok(guard) = self.conns[(start + i) % n].try_lock() {
                return guard;
            }
        }
        self.conns[start].lock().await
    }
}

/// What [`PostgresStore::run`] does on the connection.
enum Op<'a> {
    Insert(&'a [Row]),
    Copy(&'a [Row]),
    Read(&'a str),
    Totals(&'a str),
}

/// What it gives back.
enum Done {
    Count(u64),
    Rows(Vec<Row>),
    Totals(super::Totals),
}

/// `postgres://user@host:port/db`, without the password.
fn describe(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("");
    let db = config.get_dbname().unwrap_or(user);
    format!("postgres://{user}@{host}:{port}/{db}")
}

/// Whether connections to `config`'s hosts try TLS. Never with
/// `sslmode=disable`, nor to Unix sockets (PostgreSQL has no TLS there);
/// otherwise yes, and the certificate must be checked against a name: a
/// `hostaddr` without a `host` has none and is refused.
fn uses_tls(config: &Config) -> Result<bool, StoreError> {
    if config.get_ssl_mode() == SslMode::Disable {
        return Ok(false);
    }
    let hosts = config.get_hosts();
    if hosts.is_empty() && !config.get_hostaddrs().is_empty() {
        return Err(StoreError::Config(
            "PostgreSQL TLS: hostaddr without host leaves no name to check the server's \
             certificate against: add host=<its name>, or sslmode=disable"
                .into(),
        ));
    }
    Ok(hosts.iter().any(|h| matches!(h, Host::Tcp(_))))
}

/// A TLS file or setting the store cannot use.
fn tls_error(e: iot_core::mqtt::TlsError) -> StoreError {
    StoreError::Config(format!(
        "PostgreSQL TLS (the server's certificate is checked whenever TLS is used, with \
         sslmode=prefer too): {e}; set --db-ca-file, or sslmode=disable"
    ))
}

/// Drives a connection until it ends.
fn spawn_connection<S, T>(connection: tokio_postgres::Connection<S, T>) -> JoinHandle<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "PostgreSQL connection ended");
        }
    })
}

/// A failure to connect (or to migrate right after): the server's
/// "starting up", "shutting down" and "too many connections" answers are
/// unavailability too.
fn connect_error(e: tokio_postgres::Error) -> StoreError {
    match write_error(e) {
        StoreError::ConnectionLost(m) => StoreError::Unavailable(m),
        db @ StoreError::Database { .. } if db.is_transient() => {
            StoreError::Unavailable(db.to_string())
        }
        other => other,
    }
}

fn write_error(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => StoreError::Database {
            code: db.code().code().to_string(),
            message: db.message().to_string(),
        },
        None => {
            // The source (an io::Error) says more than the wrapper.
            let detail = e.source().map(|s| format!(": {s}")).unwrap_or_default();
            StoreError::ConnectionLost(format!("{e}{detail}"))
        }
    }
}

/// Milliseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_MS: i64 = 946_684_800_000;

/// A `timestamptz` as ms since the Unix epoch (binary format: i64
/// microseconds since 2000-01-01).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgTimestamp(pub i64);

impl ToSql for PgTimestamp {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        let us = self
            .0
            .checked_sub(PG_EPOCH_MS)
            .and_then(|ms| ms.checked_mul(1000))
            .ok_or("timestamp out of range")?;
        out.extend_from_slice(&us.to_be_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for PgTimestamp {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        let us = i64::from_be_bytes(raw.try_into()?);
        Ok(PgTimestamp(us.div_euclid(1000) + PG_EPOCH_MS))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }
}

/// A `numeric` holding a `u64` exactly (binary format: base-10000
/// digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgNumeric(pub u64);

impl ToSql for PgNumeric {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        // Base-10000 digits, most significant first; trailing zero digits
        // are implied by the weight.
        let mut digits = Vec::with_capacity(5);
        let mut v = self.0;
        while v > 0 {
            digits.push((v % 10_000) as i16);
            v /= 10_000;
        }
        digits.reverse();
        let weight = digits.len().saturating_sub(1) as i16;
        while digits.last() == Some(&0) {
            digits.pop();
        }
        for field in [
            digits.len() as i16,
            weight,
            0, /* sign + */
            0, /* dscale */
        ] {
            out.extend_from_slice(&field.to_be_bytes());
        }
        for d in digits {
            out.extend_from_slice(&d.to_be_bytes());
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for PgNumeric {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        let field = |i: usize| -> Result<i16, Box<dyn StdError + Sync + Send>> {
            let b = raw.get(2 * i..2 * i + 2).ok_or("numeric: truncated")?;
            Ok(i16::from_be_bytes([b[0], b[1]]))
        };
        let (ndigits, weight, sign) = (field(0)?, field(1)?, field(2)? as u16);
        if sign != 0 {
            return Err("numeric: negative or NaN, not a u64".into());
        }
        let mut value: u128 = 0;
        for i in 0..i32::from(ndigits) {
            let digit = field(4 + i as usize)?;
            if i > i32::from(weight) {
                if digit != 0 {
                    return Err("numeric: has a fraction, not a u64".into());
                }
                continue;
            }
            value = value * 10_000 + digit as u128;
            if value > u128::from(u64::MAX) {
                return Err("numeric: above u64::MAX".into());
            }
        }
        // Digits omitted at the end stand for zeros up to the weight.
        for _ in i32::from(ndigits)..=i32::from(weight) {
            value *= 10_000;
            if value > u128::from(u64::MAX) {
                return Err("numeric: above u64::MAX".into());
            }
        }
        Ok(PgNumeric(value as u64))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

/// One row's parameters, borrowed from the row.
struct Params<'a> {
    device: &'a str,
    epoch: i64,
    seq: i64,
    channel: &'a str,
    ts: PgTimestamp,
    kind: &'static str,
    float: Option<f64>,
    int: Option<i64>,
    uint: Option<PgNumeric>,
    boolean: Option<bool>,
    text: Option<&'a str>,
    bytes: Option<&'a [u8]>,
    unit: Option<&'a str>,
}

impl<'a> Params<'a> {
    fn new(row: &'a Row) -> Self {
        let c = row.value.columns();
        Self {
            device: &row.device,
            epoch: row.epoch,
            seq: row.seq,
            channel: &row.channel,
            ts: PgTimestamp(row.ts_ms),
            kind: row.value.kind().as_str(),
            float: c.float,
            int: c.int,
            uint: c.uint.map(PgNumeric),
            boolean: c.boolean,
            text: c.text,
            bytes: c.bytes,
            unit: row.unit.as_deref(),
        }
    }

    /// In [`COLUMNS`] order.
    fn refs(&self) -> [&(dyn ToSql + Sync); 13] {
        [
            &self.device,
            &self.epoch,
            &self.seq,
            &self.channel,
            &self.ts,
            &self.kind,
            &self.float,
            &self.int,
            &self.uint,
            &self.boolean,
            &self.text,
            &self.bytes,
            &self.unit,
        ]
    }
}

async fn insert_rows(
    conn: &mut Conn,
    table: &str,
    rows: &[Row],
) -> Result<u64, tokio_postgres::Error> {
    let Conn {
        client, inserts, ..
    } = conn;
    let tx = client.transaction().await?;
    let mut inserted = 0;
    let mut rest = rows;
    for size in chunk_sizes(rows.len(), MAX_ROWS_PER_STATEMENT) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let stmt = match inserts.get(&size) {
            Some(s) => s.clone(),
            None => {
                let types: Vec<Type> = TYPES.iter().cycle().take(13 * size).cloned().collect();
                let sql = insert_sql(table, size, |n| format!("${n}"));
                let s = tx.prepare_typed(&sql, &types).await?;
                inserts.insert(size, s.clone());
                s
            }
        };
        let params: Vec<Params<'_>> = chunk.iter().map(Params::new).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().flat_map(Params::refs).collect();
        inserted += tx.execute(&stmt, &refs).await?;
    }
    tx.commit().await?;
    Ok(inserted)
}

async fn copy_rows(
    conn: &mut Conn,
    table: &str,
    rows: &[Row],
) -> Result<u64, tokio_postgres::Error> {
    let columns = COLUMNS.join(", ");
    let stage = format!("{table}_stage");
    if conn.copy.is_none() {
        // Temporary: private to this connection, gone with it; emptied at
        // every commit.
        conn.client
            .batch_execute(&format!(
                "CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table}) ON COMMIT DELETE ROWS"
            ))
            .await?;
        let copy = conn
            .client
            .prepare(&format!(
                "COPY {stage} ({columns}) FROM STDIN (FORMAT binary)"
            ))
            .await?;
        let insert = conn
            .client
            .prepare(&format!(
                "INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage} \
                 ON CONFLICT DO NOTHING"
            ))
            .await?;
        conn.copy = Some((copy, insert));
    }
    let Some((copy, insert)) = conn.copy.clone() else {
        unreachable!("prepared above");
    };
    let tx = conn.client.transaction().await?;
    let sink = tx.copy_in(&copy).await?;
    let mut writer = pin!(BinaryCopyInWriter::new(sink, &TYPES));
    for row in rows {
        writer.as_mut().write(&Params::new(row).refs()).await?;
    }
    writer.finish().await?;
    let inserted = tx.execute(&insert, &[]).await?;
    tx.commit().await?;
    Ok(inserted)
}

async fn read_rows(
    client: &Client,
    table: &str,
    device: &str,
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT {} FROM {table} WHERE device = $1 ORDER BY channel, ts, epoch, seq",
        COLUMNS.join(", ")
    );
    let device_arc: Arc<str> = Arc::from(device);
    let mut out = Vec::new();
    for r in client.query(&sql, &[&device]).await? {
        let kind_text: &str = r.try_get(5)?;
        let text: Option<&str> = r.try_get(10)?;
        let bytes: Option<&[u8]> = r.try_get(11)?;
        let columns = Columns {
            float: r.try_get(6)?,
            int: r.try_get(7)?,
            uint: r.try_get::<_, Option<PgNumeric>>(8)?.map(|n| n.0),
            boolean: r.try_get(9)?,
            text,
            bytes,
        };
        // An unknown kind or a missing value column cannot come from this
        // module's writes; show it as text rather than failing the read.
        let value = Kind::parse(kind_text)
            .ok_or_else(|| format!("unknown kind {kind_text:?}"))
            .and_then(|k| RowValue::from_columns(k, columns))
            .unwrap_or_else(|e| RowValue::Str(format!("<unreadable: {e}>")));
        out.push(Row {
            device: device_arc.clone(),
            epoch: r.try_get(1)?,
            seq: r.try_get(2)?,
            channel: r.try_get(3)?,
            ts_ms: r.try_get::<_, PgTimestamp>(4)?.0,
            value,
            unit: r.try_get(12)?,
        });
    }
    Ok(out)
}

impl Store for PostgresStore {
    fn write<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<WriteReport, StoreError>> {
        Box::pin(async move {
            let started = Instant::now();
            if batch.is_empty() {
                return Ok(WriteReport::new(batch, 0, started.elapsed()));
            }
            let op = match self.options.mode {
                WriteMode::Insert => Op::Insert(batch.rows()),
                WriteMode::Copy => Op::Copy(batch.rows()),
            };
            match self.run(op).await? {
                Done::Count(inserted) => Ok(WriteReport::new(batch, inserted, started.elapsed())),
                _ => unreachable!("a write counts rows"),
            }
        })
    }

    fn read_device<'a>(&'a self, device: &'a str) -> BoxFuture<'a, Result<Vec<Row>, StoreError>> {
        Box::pin(async move {
            match self.run(Op::Read(device)).await? {
                Done::Rows(rows) => Ok(rows),
                _ => unreachable!("a read returns rows"),
            }
        })
    }

    fn totals<'a>(
        &'a self,
        device_prefix: &'a str,
    ) -> BoxFuture<'a, Result<super::Totals, StoreError>> {
        Box::pin(async move {
            match self.run(Op::Totals(device_prefix)).await? {
                Done::Totals(t) => Ok(t),
                _ => unreachable!("totals return totals"),
            }
        })
    }

    fn describe(&self) -> String {
        self.described.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TLS is tried on TCP hosts unless `sslmode=disable`, never on Unix
    /// sockets; a `hostaddr` alone leaves no name to check and is refused;
    /// TLS files are read at `new`, so a bad one fails the start.
    #[test]
    fn which_connections_try_tls() {
        let tls = |url: &str| uses_tls(&url.parse::<Config>().unwrap());
        assert!(tls("postgres://iot@db.example/iot").unwrap());
        assert!(tls("host=db.example dbname=iot sslmode=require").unwrap());
        assert!(!tls("postgres://iot@db.example/iot?sslmode=disable").unwrap());
        assert!(!tls("host=/var/run/postgresql dbname=iot").unwrap());
        let e = tls("hostaddr=10.0.0.5 dbname=iot").unwrap_err();
        assert!(e.to_string().contains("host=<its name>"), "{e}");
        assert!(!tls("hostaddr=10.0.0.5 dbname=iot sslmode=disable").unwrap());
        let options = PostgresOptions {
            tls: TlsConfig::default().ca_file("/nonexistent/ca.pem"),
            ..PostgresOptions::default()
        };
        let e = PostgresStore::new("postgres://iot@db.example/iot", options.clone()).unwrap_err();
        assert!(
            matches!(&e, StoreError::Config(m) if m.contains("/nonexistent/ca.pem")),
            "{e}"
        );
        assert!(
            PostgresStore::new("postgres://iot@db.example/iot?sslmode=disable", options).is_ok()
        );
    }

    fn round_trip(v: u64) -> u64 {
        let mut buf = BytesMut::new();
        PgNumeric(v).to_sql(&Type::NUMERIC, &mut buf).unwrap();
        PgNumeric::from_sql(&Type::NUMERIC, &buf).unwrap().0
    }

    #[test]
    fn numeric_encoding_round_trips() {
        for v in [0, 1, 9_999, 10_000, 10_001, 100_000_000, 1 << 63, u64::MAX] {
            assert_eq!(round_trip(v), v);
        }
        for _ in 0..10_000 {
            let v = fastrand::u64(..);
            assert_eq!(round_trip(v), v);
        }
    }

    #[test]
    fn numeric_encoding_matches_postgres_layout() {
        // 10000 = one digit `1` of weight 1: ndigits 1, weight 1, sign 0,
        // dscale 0, digit 1.
        let mut buf = BytesMut::new();
        PgNumeric(10_000).to_sql(&Type::NUMERIC, &mut buf).unwrap();
        assert_eq!(&buf[..], &[0, 1, 0, 1, 0, 0, 0, 0, 0, 1]);
        // 0: no digits.
        let mut buf = BytesMut::new();
        PgNumeric(0).to_sql(&Type::NUMERIC, &mut buf).unwrap();
        assert_eq!(&buf[..], &[0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn timestamps_convert_both_ways() {
        for ms in [
            super::super::MIN_TS_MS,
            -1,
            0,
            1_700_000_000_123,
            super::super::MAX_TS_MS,
        ] {
            let mut buf = BytesMut::new();
            PgTimestamp(ms)
                .to_sql(&Type::TIMESTAMPTZ, &mut buf)
                .unwrap();
            assert_eq!(
                PgTimestamp::from_sql(&Type::TIMESTAMPTZ, &buf).unwrap().0,
                ms
            );
        }
    }

    #[test]
    fn migration_sql_for_another_table() {
        let sql = migration_sql("t1").unwrap();
        assert!(sql.contains("CREATE TABLE IF NOT EXISTS t1 ("));
        assert!(sql.contains("t1_ts_brin ON t1 USING"));
        assert!(!sql.contains(DEFAULT_TABLE));
        assert!(migration_sql("bad name").is_err());
    }

    #[test]
    fn urls_are_described_without_password() {
        let store = PostgresStore::new(
            "postgres://u:secret@db.example:6543/telemetry",
            Default::default(),
        )
        .unwrap();
        assert_eq!(store.describe(), "postgres://u@db.example:6543/telemetry");
        assert!(matches!(
            PostgresStore::new("nonsense://", Default::default()),
            Err(StoreError::Config(_))
        ));
    }
}
