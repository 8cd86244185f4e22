//! The gateway demo: an MQTT broker (embedded or not), a simulated fleet,
//! a consumer feeding a resilient tower stack into a sink, health and
//! metrics endpoints, live progress and a summary.
//!
//! [`Gateway::start`] runs everything on the current Tokio runtime and
//! returns once frames flow; [`Gateway::wait`] returns the [`Summary`]
//! after `--duration` or a [`stop`](Gateway::stop) (Ctrl-C in the binary).

mod console;
mod durable;
pub mod layered;

/// The gateway's log filter by default: quiet, since the demo prints its
/// own events and the transport's and layers' warnings would repeat them
/// once per client.
pub const DEFAULT_LOG_FILTER: &str =
    "warn,rumqttd=off,iot_core=error,iot_resilience=error,iot_observe::health=error";

/// The flags (by id) a running gateway changes on a reload (SIGHUP or a
/// changed `--config` file): the sink timeout, the device limit, the
/// breaker's settings and the retry attempts by [`Reloader::reload`], `log_filter` by the binary,
/// which owns the log handle. Any other changed flag is reported as needing a restart.
pub const RELOADABLE: &[&str] = &[
    "sink_timeout",
    "device_limit",
    "breaker_failure_rate",
    "breaker_open",
    "retry_attempts",
    "log_filter",
];
mod pipeline;
mod reloadable;
mod summary;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use iot_core::device::DeviceStatus;
use iot_core::fleet::{FleetConfig, FleetRegistry};
use iot_core::mqtt::{
    AckMode, BackoffConfig, ConnectionState as MqttState, Consumer, ConsumerConfig, DedupConfig,
    MqttConfig, ReadCoalescing, TlsConfig, Transport,
};
use iot_observe::endpoint::{HealthEndpoint, ServerHandle, serve};
use iot_observe::health::{
    CheckOptions, CircuitBreakerCheck, ConnectionReporter, Group, HealthConfig, HealthRegistry,
    RefreshHandle, StartupFlag,
};
use iot_observe::prometheus::{PrometheusConfig, PrometheusExporter};
use iot_observe::shutdown::Shutdown;
use iot_resilience::circuit_breaker::State;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use console::{Console, ProgressMode};
pub use durable::{DurableConfig, Primed, StoreCounters, prime_aliases};
pub use pipeline::{Counters, NotStored, StackError};
pub use summary::{Percentiles, Summary};

use crate::broker::{DemoPki, FaultProxy, start_embedded};
use crate::connect::BrokerArgs;
use crate::sim::{Fleet, FleetConfig as SimConfig};
use crate::sink::{Aggregator, Faults, Sink};
use crate::store::{PostgresOptions, PostgresStore, SqliteStore, Store, WriteMode};
use crate::util::{ProcStats, parse_duration};

/// Command-line options of the gateway (also the library's configuration:
/// build one with `GatewayArgs::parse_from`).
#[derive(Debug, Clone, clap::Args)]
pub struct GatewayArgs {
    /// An external broker and how to reach it (--broker URL, TLS files,
    /// credentials); without one the demo embeds a broker.
    #[command(flatten)]
    pub connect: BrokerArgs,
    /// Simulated devices publishing through the broker (0: consume only).
    #[arg(long, default_value_t = 50, env = "GATEWAY_DEVICES")]
    pub devices: usize,
    /// Frames per second per device.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Stop after this long (e.g. 30s, 2m); default: run until Ctrl-C.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Address of the /health/* and /metrics endpoints (port 0: any free).
    #[arg(long, default_value = "127.0.0.1:0", env = "GATEWAY_HTTP")]
    pub http: SocketAddr,
    /// Where frames are stored: `sqlite:PATH` (the default,
    /// `sqlite:gateway.db` in the current directory), `postgres://...`
    /// (or `postgres` alone: POSTGRES_HOST, POSTGRES_PORT, POSTGRES_DB,
    /// POSTGRES_USER, optionally POSTGRES_SSLMODE, and the password from
    /// POSTGRES_PASSWORD_FILE), or
    /// `memory` (latest value per device and channel, nothing durable).
    /// Durable sinks acknowledge a frame to the broker only after its
    /// batch committed.
    #[arg(long, default_value = "sqlite:gateway.db", value_parser = parse_sink, env = "GATEWAY_SINK")]
    pub sink: SinkSpec,
    /// POST every frame as SenML JSON to this http:// URL instead of
    /// --sink.
    #[arg(long, value_name = "URL")]
    pub sink_url: Option<String>,
    /// PostgreSQL over TLS: trust the CAs in this PEM file instead of the
    /// platform's (with `sslmode=require` in the URL, or the default
    /// `prefer`: the server's certificate is always checked when TLS is
    /// used; `sslmode=disable` turns TLS off).
    #[arg(long, value_name = "PATH", env = "GATEWAY_DB_CA_FILE")]
    pub db_ca_file: Option<PathBuf>,
    /// PostgreSQL over TLS: the client certificate chain (PEM) for mutual
    /// TLS; needs --db-client-key.
    #[arg(
        long,
        value_name = "PATH",
        env = "GATEWAY_DB_CLIENT_CERT",
        requires = "db_client_key"
    )]
    pub db_client_cert: Option<PathBuf>,
    /// PostgreSQL over TLS: the client's private key (PEM).
    #[arg(
        long,
        value_name = "PATH",
        env = "GATEWAY_DB_CLIENT_KEY",
        requires = "db_client_cert"
    )]
    pub db_client_key: Option<PathBuf>,
    /// Durable sinks: frames per batch (one transaction) at most.
    #[arg(long, default_value_t = 1000)]
    pub batch_frames: usize,
    /// Durable sinks: a batch is written when its oldest frame waited this
    /// long.
    #[arg(long, default_value = "50ms", value_parser = parse_duration)]
    pub batch_age: Duration,
    /// Durable sinks: batches written at once at most while the next one
    /// fills (PostgreSQL: one connection each). Measured best of 1, 2, 4
    /// and 8 on a 2-core machine (docs/benchmarks.md).
    #[arg(long, default_value_t = 4)]
    pub batches_in_flight: usize,
    /// PostgreSQL: how a batch travels, binary `copy` into a staging table
    /// or multi-row `insert` (docs/sinks.md, "COPY or INSERT"); COPY
    /// stored 1.6 times as many frames/s at the default batch size.
    #[arg(long, default_value = "copy", value_parser = parse_write_mode)]
    pub pg_write: WriteMode,
    /// The log filter (`tracing` directives, e.g. `info` or
    /// `warn,iot_core=debug`; `RUST_LOG` overrides it); changed on reload.
    #[arg(long, default_value = DEFAULT_LOG_FILTER)]
    pub log_filter: String,
    /// Fault injection: share of sink calls that fail (0 to 1).
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    pub sink_fail_rate: f64,
    /// Fault injection: latency added to every sink call.
    #[arg(long, default_value = "0ms", value_parser = parse_duration)]
    pub sink_latency: Duration,
    /// Timeout of one sink attempt; changed on reload.
    #[arg(long, default_value = "250ms", value_parser = parse_duration)]
    pub sink_timeout: Duration,
    /// Fault injection: take the broker down after this long (all
    /// connections dropped, port closed), for --broker-down.
    #[arg(long, value_parser = parse_duration)]
    pub kill_broker_after: Option<Duration>,
    /// How long the broker stays down.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub broker_down: Duration,
    /// Frames per second each device may send to the sink (default: twice
    /// --rate); changed on reload.
    #[arg(long, value_parser = parse_per_second)]
    pub device_limit: Option<f64>,
    /// Attempts per frame (a batch with a database), the first included;
    /// changed on reload.
    #[arg(long, default_value_t = 3)]
    pub retry_attempts: u32,
    /// The sink's circuit breaker opens when this share of its last 100
    /// calls (at least 20) failed, in percent; changed on reload.
    #[arg(long, default_value_t = 50.0)]
    pub breaker_failure_rate: f32,
    /// How long the open breaker refuses calls before it lets probes
    /// through; changed on reload (from its next opening).
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub breaker_open: Duration,
    /// Devices that misbehave and send at 4x --rate (caught by the
    /// per-device rate limit).
    #[arg(long, default_value_t = 1)]
    pub noisy_devices: usize,
    /// Shared-subscription group: gateways in one group split the frames.
    /// Default with --broker: "gateways"; with the embedded broker a plain
    /// subscription (rumqttd 0.20 drops frames sent to a shared group while
    /// its members reconnect).
    #[arg(long, value_name = "NAME")]
    pub share_group: Option<String>,
    /// Subscribe without a shared-subscription group.
    #[arg(long, conflicts_with = "share_group")]
    pub no_share: bool,
    /// Report gaps in the devices' sequences as missing frames: `on` (the
    /// default) also in a shared-subscription group, which is right while
    /// this gateway is the group's only member; `auto` only without a
    /// group (with several members each sees a share, and gaps are
    /// normal); `off` never.
    #[arg(long, default_value = "on", value_parser = ["on", "auto", "off"])]
    pub gap_reports: String,
    /// Run the embedded broker with mutual TLS: a throwaway CA, broker and
    /// client certificate are generated at start (their directory is
    /// printed), the broker requires the client certificate, and every
    /// client verifies the broker against the CA.
    #[arg(long)]
    pub tls: bool,
    /// Read every message as soon as it arrives (`ReadCoalescing::off()`):
    /// lower latency under load, more CPU per message.
    #[arg(long)]
    pub no_read_coalescing: bool,
    /// MQTT client id of the consumer (stable per replica in production);
    /// default gateway-PID.
    #[arg(long, env = "GATEWAY_CLIENT_ID")]
    pub client_id: Option<String>,
    /// Prefix of the simulated device ids (default: dev, or devPID (hex) with
    /// --broker so that two gateways' fleets do not collide).
    #[arg(long)]
    pub device_prefix: Option<String>,
    /// A device silent this long is marked offline.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub offline_after: Duration,
    /// On stop, wait at most this long for queued frames to arrive.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub drain: Duration,
    /// Frames in the sink stack at once (back-pressure beyond).
    #[arg(long, default_value_t = 1024)]
    pub max_in_flight: usize,
    /// Progress display.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// Write the summary as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub summary_json: Option<PathBuf>,
}

impl GatewayArgs {
    /// `--device-limit`, or its default: twice `--rate`.
    pub fn effective_device_limit(&self) -> f64 {
        self.device_limit.unwrap_or(self.rate * 2.0)
    }

    /// The PostgreSQL store's TLS settings from `--db-ca-file` and
    /// `--db-client-cert`/`--db-client-key`.
    fn db_tls(&self) -> iot_core::mqtt::TlsConfig {
        let mut tls = iot_core::mqtt::TlsConfig::default();
        if let Some(ca) = &self.db_ca_file {
            tls = tls.ca_file(ca);
        }
        if let (Some(cert), Some(key)) = (&self.db_client_cert, &self.db_client_key) {
            tls = tls.client_auth(cert, key);
        }
        tls
    }
}

/// Where the gateway stores frames (`--sink`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkSpec {
    /// The in-memory aggregator.
    Memory,
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string (URL or key=value).
    Postgres(String),
}

impl SinkSpec {
    /// Whether frames are acknowledged after their commit.
    pub fn is_durable(&self) -> bool {
        !matches!(self, SinkSpec::Memory)
    }
}

fn parse_write_mode(s: &str) -> Result<WriteMode, String> {
    match s {
        "insert" => Ok(WriteMode::Insert),
        "copy" => Ok(WriteMode::Copy),
        other => Err(format!("{other:?}: use insert or copy")),
    }
}

fn parse_sink(s: &str) -> Result<SinkSpec, String> {
    if s == "memory" {
        return Ok(SinkSpec::Memory);
    }
    if let Some(path) = s.strip_prefix("sqlite:") {
        if path.is_empty() {
            return Err("sqlite: needs a path, e.g. sqlite:gateway.db".into());
        }
        return Ok(SinkSpec::Sqlite(PathBuf::from(path)));
    }
    if s == "postgres" {
        return postgres_from_env().map(SinkSpec::Postgres);
    }
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        return Ok(SinkSpec::Postgres(s.to_string()));
    }
    Err(format!(
        "{s:?}: expected sqlite:PATH, postgres://..., postgres (from POSTGRES_* variables) or memory"
    ))
}

/// The connection iot-deploy's manifests describe: POSTGRES_HOST,
/// POSTGRES_PORT, POSTGRES_DB, POSTGRES_USER (the password is read by the
/// store from POSTGRES_PASSWORD_FILE, never from the command line).
fn postgres_from_env() -> Result<String, String> {
    let var =
        |name: &str| std::env::var(name).map_err(|_| format!("--sink postgres: {name} is not set"));
    let host = var("POSTGRES_HOST")?;
    let port = std::env::var("POSTGRES_PORT").unwrap_or_else(|_| "5432".into());
    let db = var("POSTGRES_DB")?;
    let user = var("POSTGRES_USER")?;
    for (name, value) in [
        ("POSTGRES_HOST", &host),
        ("POSTGRES_DB", &db),
        ("POSTGRES_USER", &user),
    ] {
        if value.is_empty() || value.contains(|c: char| c.is_whitespace() || c == '\'' || c == '\\')
        {
            return Err(format!(
                "--sink postgres: {name} {value:?} is empty or has spaces or quotes"
            ));
        }
    }
    port.parse::<u16>()
        .map_err(|_| format!("--sink postgres: POSTGRES_PORT {port:?} is not a port"))?;
    // TLS: `prefer` (the default) or `require`, the certificate checked
    // either way (--db-ca-file); `disable` for none.
    let sslmode = match std::env::var("POSTGRES_SSLMODE") {
        Ok(mode) if matches!(mode.as_str(), "disable" | "prefer" | "require") => {
            format!(" sslmode={mode}")
        }
        Ok(mode) => {
            return Err(format!(
                "--sink postgres: POSTGRES_SSLMODE {mode:?} is not disable, prefer or require"
            ));
        }
        Err(_) => String::new(),
    };
    Ok(format!(
        "host={host} port={port} dbname={db} user={user}{sslmode}"
    ))
}

/// A positive, finite rate (at start as on a reload, where
/// `DeviceLimit::check` refuses the same values).
fn parse_per_second(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "{s:?} is not a positive number of frames per second"
        )),
    }
}

/// The store's write timeout for `--sink-timeout`: a batch is many rows,
/// so the per-frame timeout would be too tight; at least 5 s.
fn store_write_timeout(sink_timeout: Duration) -> Duration {
    sink_timeout.max(Duration::from_secs(5))
}

fn parse_share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a share between 0 and 1")),
    }
}

/// The Prometheus recorder is process-global: install it once.
fn exporter() -> Result<PrometheusExporter, String> {
    static EXPORTER: Mutex<Option<PrometheusExporter>> = Mutex::new(None);
    let mut slot = EXPORTER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = slot.as_ref() {
        return Ok(e.clone());
    }
    let e = PrometheusExporter::install(PrometheusConfig::default().service("gateway"))
        .map_err(|e| format!("metrics exporter: {e}"))?;
    *slot = Some(e.clone());
    Ok(e)
}

/// A running gateway.
pub struct Gateway {
    http_addr: SocketAddr,
    broker_addr: SocketAddr,
    shutdown: Shutdown,
    task: JoinHandle<Summary>,
    server: ServerHandle,
    summary_json: Option<PathBuf>,
    reloader: Reloader,
}

/// Changes a running gateway's settings ([`Gateway::reloader`]); cheap to
/// clone, usable after the gateway is moved into [`Gateway::wait`].
#[derive(Clone)]
pub struct Reloader {
    console: Arc<Console>,
    /// The sink's (or store's) timeout, retry and device limit.
    handles: reloadable::Handles,
    /// The sink's (or store's) circuit breaker.
    breaker: iot_resilience::circuit_breaker::CircuitBreakerHandle,
    durable: bool,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("sink_timeout", &self.handles.sink_timeout.config().timeout)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("http_addr", &self.http_addr)
            .field("broker_addr", &self.broker_addr)
            .finish_non_exhaustive()
    }
}

/// What the supervising task owns.
struct Run {
    args: GatewayArgs,
    console: Arc<Console>,
    shared: Arc<pipeline::Shared>,
    shutdown: Shutdown,
    fleet: Option<Fleet>,
    fleet_prefix: String,
    dispatcher: JoinHandle<Consumer>,
    stop_tx: watch::Sender<bool>,
    proxy: Option<Arc<FaultProxy>>,
    background: Vec<JoinHandle<()>>,
    sink_stats: Arc<crate::sink::SinkStats>,
    breaker_opened: Arc<std::sync::atomic::AtomicU64>,
    /// The durable sink, if any.
    store: Option<Arc<dyn Store>>,
    store_counters: Arc<StoreCounters>,
    /// The store's totals for this fleet before the run.
    baseline: Option<crate::store::Totals>,
    sink_desc: String,
    _refresh: RefreshHandle,
}

impl Gateway {
    /// Starts the gateway on the current Tokio runtime; returns once the
    /// consumer is subscribed and the fleet publishes.
    pub async fn start(args: GatewayArgs) -> Result<Gateway, String> {
        if !(args.rate > 0.0 && args.rate.is_finite()) {
            return Err(format!("--rate {}: must be positive", args.rate));
        }
        if args.max_in_flight == 0 {
            return Err("--max-in-flight must be at least 1".into());
        }
        if args.batches_in_flight == 0 {
            return Err("--batches-in-flight must be at least 1".into());
        }
        let console = Arc::new(Console::new(args.progress));
        let reload_console = console.clone();
        let exporter = exporter()?;

        // The broker: embedded, --broker, MQTT_URL or MQTT_HOST/MQTT_PORT.
        let external = match args.connect.url() {
            Some(url) => Some(args.connect.mqtt_config(&url)?),
            None => None,
        };
        if args.tls && external.is_some() {
            return Err(
                "--tls secures the embedded broker; for an external one use an mqtts:// or wss:// --broker URL"
                    .into(),
            );
        }
        let demo_pki = args.tls.then(DemoPki::generate);
        let (upstream, broker_desc) = match &external {
            Some(mqtt) => {
                let (host, port) = (mqtt.host.as_str(), mqtt.port);
                let addr = tokio::net::lookup_host((host, port))
                    .await
                    .map_err(|e| format!("broker {host}:{port}: {e}"))?
                    .next()
                    .ok_or_else(|| format!("broker {host}:{port}: no address"))?;
                (addr, mqtt.url())
            }
            None => {
                let addr = start_embedded(args.devices + 256, demo_pki.as_ref()).await?;
                match &demo_pki {
                    Some(pki) => (
                        addr,
                        format!(
                            "embedded rumqttd on mqtts://{addr}, mutual TLS (certificates in {})",
                            pki.dir.display()
                        ),
                    ),
                    None => (addr, format!("embedded rumqttd on mqtt://{addr}")),
                }
            }
        };
        let proxy = match args.kill_broker_after {
            Some(_) => Some(Arc::new(
                FaultProxy::start(upstream)
                    .await
                    .map_err(|e| format!("fault proxy: {e}"))?,
            )),
            None => None,
        };
        let broker_addr = proxy.as_ref().map_or(upstream, |p| p.addr());
        // Clients connect to `broker_addr` (the fault proxy, if any); over
        // TLS the broker's certificate is still checked against the name
        // in the URL.
        let base = {
            let mut base = match (&external, &demo_pki) {
                (Some(external), _) => external.clone(),
                (None, Some(pki)) => MqttConfig::default().transport(Transport::Tls).tls(
                    TlsConfig::default()
                        .ca_file(&pki.ca)
                        .client_auth(&pki.client.cert, &pki.client.key),
                ),
                (None, None) => MqttConfig::default(),
            };
            if base.transport.uses_tls() && base.tls.server_name.is_none() {
                let name = base.host.clone();
                base.tls = base.tls.server_name(name);
            }
            base.host = broker_addr.ip().to_string();
            base.port = broker_addr.port();
            base
        };

        // Health, readiness and metrics.
        let client_id = args
            .client_id
            .clone()
            .unwrap_or_else(|| format!("gateway-{}", std::process::id()));
        let startup = StartupFlag::new();
        let mqtt_state = ConnectionReporter::new();
        let shutdown = Shutdown::new(args.drain);
        let registry = FleetRegistry::new(
            FleetConfig::DEFAULT
                .offline_after(args.offline_after)
                .max_devices(100_000),
        );
        let fleet_prefix = args.device_prefix.clone().unwrap_or_else(|| {
            if external.is_some() {
                format!("dev{:04x}", std::process::id() & 0xffff)
            } else {
                "dev".into()
            }
        });
        let shared = pipeline::shared(
            registry,
            args.max_in_flight,
            &fleet_prefix,
            pipeline::breaker_config(args.breaker_failure_rate, args.breaker_open),
        )?;
        let breaker_handle = shared.breaker.clone();
        // The store, before anything consumes: a bad path fails the start.
        let store: Option<Arc<dyn Store>> = match (&args.sink_url, &args.sink) {
            (Some(_), _) | (None, SinkSpec::Memory) => None,
            (None, SinkSpec::Sqlite(path)) => {
                Some(Arc::new(SqliteStore::open(path).await.map_err(|e| {
                    format!("--sink sqlite:{}: {e}", path.display())
                })?))
            }
            // Connects on the first write: the gateway starts while the
            // database is down, and holds the frames until it is up.
            (None, SinkSpec::Postgres(url)) => Some(Arc::new(
                PostgresStore::new(
                    url,
                    PostgresOptions {
                        connections: args.batches_in_flight,
                        mode: args.pg_write,
                        tls: args.db_tls(),
                        ..PostgresOptions::default()
                    },
                )
                .map_err(|e| format!("--sink postgres: {e}"))?,
            )),
        };
        let durable = store.is_some();
        // What the database held of this fleet's devices before the run.
        let baseline = match &store {
            Some(store) => store.totals(&format!("{fleet_prefix}-")).await.ok(),
            None => None,
        };
        let health = HealthRegistry::builder()
            .config(
                HealthConfig::default()
                    .version(env!("CARGO_PKG_VERSION"))
                    .service_id(client_id.clone())
                    .interval(Duration::from_secs(5)),
            )
            .check(
                "app:startup",
                startup.clone(),
                CheckOptions::startup().and(Group::Readiness),
            )
            .check(
                "mqtt:connection",
                mqtt_state.check().grace_period(Duration::from_secs(10)),
                CheckOptions::readiness(),
            )
            .check(
                "sink:circuit_breaker",
                CircuitBreakerCheck::new(shared.breaker.clone()),
                CheckOptions::readiness().critical(false),
            )
            .check(
                Shutdown::CHECK_NAME,
                shutdown.clone(),
                CheckOptions::readiness(),
            )
            .build()
            .map_err(|e| format!("health registry: {e}"))?;
        let refresh = health.start();
        let endpoint = HealthEndpoint::new(health).with_metrics(Arc::new(exporter));
        let server = serve(args.http, endpoint, shutdown.drained())
            .await
            .map_err(|e| format!("--http {}: {e}", args.http))?;
        let http_addr = server.local_addr();

        // The consumer.
        let mqtt = base
            .clone()
            .client_id(client_id.clone())
            .backoff(BackoffConfig::full_jitter(
                Duration::from_millis(100),
                Duration::from_secs(2),
            ));
        let share_group = match (&args.share_group, args.no_share) {
            (_, true) => None,
            (Some(g), false) => Some(g.clone()),
            (None, false) if external.is_some() => Some("gateways".to_string()),
            (None, false) => None,
        };
        let mut cc = ConsumerConfig::new(mqtt);
        if args.no_read_coalescing {
            cc = cc.coalesce(ReadCoalescing::off());
        }
        if let Some(group) = &share_group {
            cc = cc.share_group(group.clone());
        }
        // Room for the batches in flight and the filling one.
        let max_unacked = args
            .batch_frames
            .saturating_mul(args.batches_in_flight.saturating_add(1))
            .clamp(1024, 65_535);
        if store.is_some() {
            cc = cc.ack(AckMode::Manual).max_unacked(max_unacked);
        }
        match args.gap_reports.as_str() {
            "on" => cc = cc.dedup(DedupConfig::default().report_gaps(true)),
            "off" => cc = cc.dedup(DedupConfig::default().report_gaps(false)),
            _ => {}
        }
        // Durable sinks: the devices' alias tables before the session's
        // backlog (see `durable::prime_aliases`).
        let primed = match &store {
            Some(_) => durable::prime_aliases(cc.mqtt.clone(), Duration::from_secs(5))
                .await
                .map_err(|e| format!("{broker_desc}: {e}"))?,
            None => Default::default(),
        };
        let consumer = Consumer::start(cc).map_err(|e| format!("consumer: {e}"))?;
        let mut background = Vec::new();
        background.push(tokio::spawn(follow_connection(
            consumer.state(),
            mqtt_state,
            console.clone(),
        )));
        // A refused connection (password, certificate, ACL) ends the start
        // with its reason: the service exits instead of running
        // disconnected.
        consumer
            .wait_connected(Duration::from_secs(10))
            .await
            .map_err(|e| format!("{broker_desc}: {e}"))?;
        // The sink and the stack.
        let faults = Faults {
            fail_rate: args.sink_fail_rate,
            latency: args.sink_latency,
        };
        let sink = match &args.sink_url {
            Some(url) => Sink::http(url, faults)?,
            None => Sink::memory(Aggregator::default(), faults),
        };
        let sink_stats = sink.stats().clone();
        let device_limit = args.effective_device_limit();
        let breaker_opened = Arc::new(std::sync::atomic::AtomicU64::new(0));
        background.push(tokio::spawn(follow_breaker(
            shared.breaker.subscribe(),
            breaker_opened.clone(),
            console.clone(),
        )));
        let (stop_tx, stop_rx) = watch::channel(false);
        let store_counters = Arc::new(StoreCounters::default());
        let (dispatcher, handles) = match &store {
            Some(store) => durable::spawn(
                consumer,
                store.clone(),
                DurableConfig {
                    batch_frames: args.batch_frames.max(1),
                    batches_in_flight: args.batches_in_flight,
                    retry_attempts: args.retry_attempts,
                    batch_age: args.batch_age,
                    device_quota: Arc::new(std::sync::atomic::AtomicU64::new(
                        reloadable::DeviceLimit::quota(device_limit),
                    )),
                    write_timeout: store_write_timeout(args.sink_timeout),
                    faults,
                    max_parked: max_unacked / 2,
                    primed,
                },
                shared.clone(),
                store_counters.clone(),
                console.clone(),
                stop_rx,
            )?,
            None => pipeline::spawn(
                consumer,
                sink,
                &pipeline::StackConfig {
                    device_limit,
                    sink_timeout: args.sink_timeout,
                    retry_attempts: args.retry_attempts,
                },
                shared.clone(),
                console.clone(),
                stop_rx,
            )?,
        };

        // The subscription, confirmed while the dispatcher already consumes:
        // a session the broker kept may deliver its backlog before the
        // SUBACK, and an unread backlog (up to `max_unacked`) would hold
        // the SUBACK back.
        // Frames flowing from a session the broker kept prove the
        // subscription as well as a SUBACK does.
        let deadline = Instant::now() + Duration::from_secs(10);
        while shared.consumer_snapshot().subscribed == 0
            && shared.counters.received.load(Relaxed) == 0
        {
            if Instant::now() > deadline {
                let _ = stop_tx.send(true);
                return Err(format!(
                    "could not subscribe at {broker_desc} within 10 s (an ACL refusing the subscription?)"
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // The fleet.
        let fleet = if args.devices > 0 {
            Some(Fleet::start(&SimConfig {
                mqtt: base.clone(),
                prefix: fleet_prefix.clone(),
                devices: args.devices,
                rate: args.rate,
                noisy: args.noisy_devices.min(args.devices),
                noisy_factor: 4.0,
                backoff_cap: Duration::from_secs(2),
                spool: None,
            })?)
        } else {
            None
        };
        if let Some(f) = &fleet {
            f.wait_started(Duration::from_secs(10)).await;
        }
        startup.mark_done();

        // The banner.
        let sink_desc = match (&args.sink_url, &store) {
            (Some(url), _) => format!("HTTP POST (SenML JSON) to {url}"),
            (None, Some(store)) => format!(
                "{} (batches of {} frames or {:?}, up to {} written at once; a frame is acknowledged to the broker after its batch commits)",
                store.describe(),
                args.batch_frames,
                args.batch_age,
                args.batches_in_flight
            ),
            (None, None) => "in-memory aggregator (latest value per device and channel)".into(),
        };
        let mut faults_desc = Vec::new();
        if args.sink_fail_rate > 0.0 {
            faults_desc.push(format!("{:.0}% sink failures", args.sink_fail_rate * 100.0));
        }
        if !args.sink_latency.is_zero() {
            faults_desc.push(format!("+{:?} sink latency", args.sink_latency));
        }
        if let Some(after) = args.kill_broker_after {
            faults_desc.push(format!(
                "broker down at {:?} for {:?}",
                after, args.broker_down
            ));
        }
        let noisy = args.noisy_devices.min(args.devices);
        let stack_desc = if store.is_some() {
            format!(
                "per-device quota {device_limit}/s of device time -> batch -> circuit breaker -> retry ({} attempts) \
                 -> timeout {:?} -> store; held, not dropped, while the store fails",
                args.retry_attempts,
                store_write_timeout(args.sink_timeout)
            )
        } else {
            format!(
                "per-device limit {device_limit}/s -> circuit breaker -> retry ({} attempts, 20% budget) \
                 -> timeout {:?} -> sink",
                args.retry_attempts, args.sink_timeout
            )
        };
        console.event(&format!(
            "iot-rs gateway demo\n  broker   {broker_desc}{}\n  fleet    {} devices x {}/s{}\n  \
             stack    {stack_desc}\n  sink     {sink_desc}\n  faults   {}\n  health   \
             http://{http_addr}/health/ready\n  metrics  http://{http_addr}/metrics\n  stop     {}",
            match &share_group {
                Some(g) => format!(", shared subscription group \"{g}\""),
                None => ", plain subscription".to_string(),
            },
            args.devices,
            args.rate,
            if noisy > 0 {
                format!(
                    " ({} sends 4x too fast)",
                    if noisy == 1 {
                        format!("{fleet_prefix}-0000")
                    } else {
                        format!("{noisy} devices")
                    }
                )
            } else {
                String::new()
            },
            if faults_desc.is_empty() {
                "none (try --sink-fail-rate 0.6, --sink-latency 300ms, --kill-broker-after 10s)"
                    .to_string()
            } else {
                faults_desc.join(", ")
            },
            match args.duration {
                Some(d) => format!("after {d:?} or Ctrl-C"),
                None => "Ctrl-C".into(),
            }
        ));

        // Fault injection schedule.
        if let (Some(after), Some(proxy)) = (args.kill_broker_after, proxy.clone()) {
            let console = console.clone();
            let down_for = args.broker_down;
            background.push(tokio::spawn(async move {
                tokio::time::sleep(after).await;
                proxy.down();
                console.event(&format!(
                    "fault: broker DOWN (connections dropped, port closed) for {down_for:?}"
                ));
                tokio::time::sleep(down_for).await;
                proxy.up();
                console.event("fault: broker UP again");
            }));
        }

        let summary_json = args.summary_json.clone();
        let run = Run {
            args,
            console,
            shared,
            shutdown: shutdown.clone(),
            fleet,
            fleet_prefix,
            dispatcher,
            stop_tx,
            proxy,
            background,
            sink_stats,
            breaker_opened,
            store,
            store_counters,
            baseline,
            sink_desc: sink_desc.clone(),
            _refresh: refresh,
        };
        let task = tokio::spawn(run.supervise());
        Ok(Gateway {
            http_addr,
            broker_addr,
            shutdown,
            task,
            server,
            summary_json,
            reloader: Reloader {
                console: reload_console,
                handles,
                breaker: breaker_handle,
                durable,
            },
        })
    }

    /// What changes this gateway's settings while it runs (on SIGHUP).
    pub fn reloader(&self) -> Reloader {
        self.reloader.clone()
    }
}

impl Reloader {
    /// Applies the settings of `args` that a running gateway can change
    /// ([`RELOADABLE`]; `log_filter` is the caller's, which owns the log
    /// handle) for those of `changed` (flag ids, as [`layered::changed`]
    /// lists them), and reports on the console what changed now and what
    /// waits for a restart. An invalid value changes nothing and is
    /// returned.
    pub fn reload(&self, args: &GatewayArgs, changed: &[String]) -> Result<(), String> {
        let (now, later): (Vec<&String>, Vec<&String>) = changed
            .iter()
            .partition(|id| RELOADABLE.contains(&id.as_str()));
        let changes = |id: &str| now.iter().any(|c| c.as_str() == id);
        // Every change is checked before any is made: all or nothing.
        let timeout = changes("sink_timeout").then(|| {
            let timeout = self.write_timeout(args.sink_timeout);
            self.handles.sink_timeout.config().timeout(timeout)
        });
        if let Some(config) = &timeout {
            iot_resilience::Validate::validate(config).map_err(|e| format!("sink_timeout: {e}"))?;
        }
        let device_limit = changes("device_limit").then(|| args.effective_device_limit());
        if let Some(limit) = device_limit {
            self.handles.device_limit.check(limit)?;
        }
        let breaker = (changes("breaker_failure_rate") || changes("breaker_open"))
            .then(|| pipeline::breaker_config(args.breaker_failure_rate, args.breaker_open));
        if let Some(config) = &breaker {
            iot_resilience::Validate::validate(config).map_err(|e| format!("breaker: {e}"))?;
        }
        let retry = changes("retry_attempts").then(|| {
            self.handles
                .retry
                .config()
                .max_attempts(args.retry_attempts)
        });
        if let Some(config) = &retry {
            iot_resilience::Validate::validate(config).map_err(|e| format!("retry: {e}"))?;
        }
        if let Some(config) = timeout {
            self.handles
                .sink_timeout
                .update(config)
                .map_err(|e| format!("sink_timeout: {e}"))?;
        }
        if let Some(limit) = device_limit {
            self.handles.device_limit.apply(limit)?;
        }
        if let Some(config) = breaker {
            self.breaker
                .update(config)
                .map_err(|e| format!("breaker: {e}"))?;
        }
        if let Some(config) = retry {
            self.handles
                .retry
                .update(config)
                .map_err(|e| format!("retry: {e}"))?;
        }
        let list = |ids: &[&String]| {
            ids.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        self.console
            .event(&match (now.is_empty(), later.is_empty()) {
                (true, true) => "config reloaded: nothing changed".to_string(),
                (false, true) => format!("config reloaded: {} changed", list(&now)),
                (true, false) => format!(
                    "config reloaded: nothing applied; needs a restart: {}",
                    list(&later)
                ),
                (false, false) => format!(
                    "config reloaded: {} changed; needs a restart: {}",
                    list(&now),
                    list(&later)
                ),
            });
        Ok(())
    }

    /// The sink timeout in effect for `--sink-timeout`.
    fn write_timeout(&self, sink_timeout: Duration) -> Duration {
        if self.durable {
            store_write_timeout(sink_timeout)
        } else {
            sink_timeout
        }
    }
}

impl Gateway {
    /// Where `/health/*` and `/metrics` are served.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The broker address the clients use.
    pub fn broker_addr(&self) -> SocketAddr {
        self.broker_addr
    }

    /// The shutdown controller (`listen_for_signals` for Ctrl-C).
    pub fn shutdown(&self) -> &Shutdown {
        &self.shutdown
    }

    /// Starts stopping: publishing ends, queued frames drain, then
    /// [`wait`](Self::wait) returns.
    pub fn stop(&self) {
        self.shutdown.trigger();
    }

    /// Waits for the end of the run; writes `--summary-json` if asked.
    pub async fn wait(self) -> Result<Summary, String> {
        let summary = self.task.await.map_err(|e| format!("gateway task: {e}"))?;
        self.shutdown.finish_now();
        let _ = self.server.await;
        if let Some(path) = &self.summary_json {
            let text = serde_json::to_string_pretty(&summary.to_json())
                .map_err(|e| format!("summary: {e}"))?;
            std::fs::write(path, text + "\n")
                .map_err(|e| format!("--summary-json {}: {e}", path.display()))?;
        }
        Ok(summary)
    }
}

/// Feeds the consumer's connection state to the readiness check and tells
/// the user about losses and recoveries.
async fn follow_connection(
    mut state: watch::Receiver<MqttState>,
    reporter: ConnectionReporter,
    console: Arc<Console>,
) {
    let mut was_connected = false;
    let mut lost = false;
    let mut last_refusal = None;
    loop {
        let now = *state.borrow_and_update();
        match now {
            MqttState::Connected { .. } => {
                reporter.connected();
                last_refusal = None;
                if lost {
                    console.event("gateway: reconnected to the broker");
                    lost = false;
                }
                was_connected = true;
            }
            MqttState::Connecting => reporter.connecting(),
            MqttState::Refused { reason, .. } => {
                reporter.refused(reason.as_str());
                // Every retry reports the refusal again; say it once.
                if last_refusal != Some(reason) {
                    console.event(&format!(
                        "gateway: MQTT connection refused: {reason} ({})",
                        reason.advice()
                    ));
                }
                last_refusal = Some(reason);
                lost = was_connected || lost;
                was_connected = false;
            }
            _ => {
                reporter.disconnected();
                if was_connected {
                    console.event(
                        "gateway: MQTT connection lost, reconnecting (readiness warns, then fails after 10 s)",
                    );
                    lost = true;
                }
                was_connected = false;
            }
        }
        if state.changed().await.is_err() {
            return;
        }
    }
}

/// Reports every breaker transition.
async fn follow_breaker(
    mut transitions: tokio::sync::broadcast::Receiver<
        iot_resilience::circuit_breaker::StateTransition,
    >,
    opened: Arc<std::sync::atomic::AtomicU64>,
    console: Arc<Console>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match transitions.recv().await {
            Ok(t) => {
                if t.to == State::Open {
                    opened.fetch_add(1, Relaxed);
                }
                console.event(&format!(
                    "circuit breaker: {} -> {} ({})",
                    t.from, t.to, t.reason
                ));
            }
            Err(RecvError::Lagged(n)) => {
                console.event(&format!("circuit breaker: {n} transitions skipped"));
            }
            Err(RecvError::Closed) => return,
        }
    }
}

impl Run {
    /// Sweeps the fleet registry, updates the online gauge and shows
    /// progress, every second until `stop`.
    async fn monitor(
        console: Arc<Console>,
        shared: Arc<pipeline::Shared>,
        sink_stats: Arc<crate::sink::SinkStats>,
        devices: usize,
        mut stop: watch::Receiver<bool>,
    ) {
        let online_gauge = metrics::gauge!("iot_devices_online");
        let started = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick is immediate
        let mut last_received = 0;
        let mut last_time = Instant::now();
        let mut ticks = 0u64;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            ticks += 1;
            let now = Instant::now();
            shared.fleet.sweep(now);
            let online = shared.fleet.by_status(DeviceStatus::Online).len();
            online_gauge.set(online as f64);
            let c = &shared.counters;
            let received = c.received.load(Relaxed);
            let rate = (received - last_received) as f64
                / now.duration_since(last_time).as_secs_f64().max(1e-3);
            last_received = received;
            last_time = now;
            let plain = console.mode() == ProgressMode::Plain;
            if plain && ticks % 5 != 0 {
                continue;
            }
            let retries = sink_stats
                .attempts
                .load(Relaxed)
                .saturating_sub(c.admitted.load(Relaxed));
            let known = shared.fleet.len().max(devices);
            let line = format!(
                "[{:>4.0}s] {:>7} msg/s | devices {online}/{known} online | decode errors {} | \
                 rate-limited {} | breaker {} ({} rejected) | retries {} | failed {} | p99 {}",
                started.elapsed().as_secs_f64(),
                console::thousands(rate.round() as u64),
                c.decode_errors.load(Relaxed),
                console::thousands(c.rate_limited.load(Relaxed)),
                shared.breaker.state(),
                console::thousands(c.breaker_rejected.load(Relaxed)),
                console::thousands(retries),
                console::thousands(c.failed.load(Relaxed)),
                console::micros(shared.receive_latency.quantile(0.99)),
            );
            console.progress(&line);
        }
    }

    async fn supervise(mut self) -> Summary {
        let (monitor_stop, monitor_rx) = watch::channel(false);
        let monitor = tokio::spawn(Self::monitor(
            self.console.clone(),
            self.shared.clone(),
            self.sink_stats.clone(),
            self.args.devices,
            monitor_rx,
        ));
        let started = Instant::now();
        match self.args.duration {
            Some(d) => {
                tokio::select! {
                    () = tokio::time::sleep(d) => { self.shutdown.trigger(); }
                    () = self.shutdown.triggered() => {}
                }
            }
            None => self.shutdown.triggered().await,
        }
        let run_seconds = self
            .fleet
            .as_ref()
            .and_then(|f| f.stats().started.get().copied())
            .unwrap_or(started)
            .elapsed()
            .as_secs_f64();
        // No more faults: let the queued frames through.
        for task in &self.background {
            task.abort();
        }
        if let Some(p) = &self.proxy {
            p.up();
        }
        let drained = self.shutdown.drained();
        tokio::pin!(drained);
        // The drain deadline completes once; a finished `async fn` future
        // must not be polled again (it panics).
        let mut drain_over = false;

        // Stop publishing; flush the publishers while the consumer goes on.
        let fleet_stats = self.fleet.as_ref().map(|f| f.stats().clone());
        let publishers = match self.fleet.take() {
            Some(f) => f.stop().await,
            None => Vec::new(),
        };
        let published = fleet_stats
            .as_ref()
            .map_or(0, |s| s.published.load(Relaxed));
        let flush = tokio::spawn(crate::sim::flush_and_close(
            publishers.clone(),
            self.args.drain,
        ));

        // Settle: until every frame of the fleet arrived, nothing arrived
        // for 2 s, or the drain period ran out.
        let c = &self.shared.counters;
        let mut last = c.received.load(Relaxed);
        let mut quiet_since = Instant::now();
        loop {
            let own = c.received_own.load(Relaxed);
            if published > 0 && own >= published {
                break;
            }
            let now = c.received.load(Relaxed);
            if now != last {
                last = now;
                quiet_since = Instant::now();
            } else if quiet_since.elapsed() > Duration::from_secs(2) {
                break;
            }
            tokio::select! {
                () = &mut drained, if !drain_over => {
                    drain_over = true;
                    break;
                }
                () = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
        let _ = self.stop_tx.send(true);
        let consumer = match (&mut self.dispatcher).await {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!(error = %e, "dispatcher failed");
                None
            }
        };
        if !drain_over {
            tokio::select! {
                _ = self.shared.wait_idle(self.args.drain) => {}
                () = &mut drained => {}
            }
        }
        let unacked = flush.await.unwrap_or(0) as u64;
        let mut publish_dropped = 0;
        let mut resent = 0;
        let mut in_flight = 0;
        {
            let highest = self
                .shared
                .highest_own
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            for p in &publishers {
                let s = p.stats().snapshot();
                publish_dropped += s.dropped;
                resent += s.resent;
                // The simulator numbers each device's accepted frames
                // 1, 2, 3, ...: those above the highest received are in
                // flight.
                let received_up_to = highest.get(p.device_id()).copied().unwrap_or(0);
                in_flight += s.published.saturating_sub(received_up_to);
            }
        }
        drop(publishers);
        // The consumer's own counters now, not the copy the dispatcher made
        // on its last tick: a gap found since would be missing from it.
        let consumer_snapshot = consumer
            .as_ref()
            .map_or_else(|| self.shared.consumer_snapshot(), |c| c.stats().snapshot());
        if let Some(consumer) = consumer {
            consumer.close(Duration::from_secs(1)).await;
        }
        let _ = monitor_stop.send(true);
        let _ = monitor.await;
        // What reached the database, from the database.
        let (db_frames, db_rows) = match &self.store {
            Some(store) => {
                let own = store.totals(&format!("{}-", self.fleet_prefix)).await;
                let all = store.totals("").await;
                let frames = match (own, self.baseline) {
                    (Ok(now), Some(before)) => Some(now.frames.saturating_sub(before.frames)),
                    _ => None,
                };
                (frames, all.ok().map(|t| t.rows))
            }
            None => (None, None),
        };
        self.console.finish();

        let c = &self.shared.counters;
        let received_own = c.received_own.load(Relaxed);
        let proc_stats = ProcStats::read();
        let sc = &self.store_counters;
        let lost_in_transport = published.saturating_sub(received_own);
        let not_stored_own = c.not_stored_own.load(Relaxed);
        // Every frame of this fleet that did not reach storage: from the
        // database's own count where there is one.
        let lost = match db_frames {
            Some(stored) => published.saturating_sub(stored),
            None => lost_in_transport + not_stored_own,
        };
        Summary {
            sink: self.sink_desc.clone(),
            durable: self.store.is_some(),
            lost_in_transport,
            not_stored_own,
            db_frames,
            db_rows,
            rows_inserted: sc.rows_inserted.load(Relaxed),
            rows_duplicate: sc.rows_duplicate.load(Relaxed),
            readings_rejected: sc.readings_rejected.load(Relaxed),
            readings_unresolved: sc.readings_unresolved.load(Relaxed),
            write_failures: sc.write_failures.load(Relaxed),
            batches: sc.batches.load(Relaxed),
            held_at_exit: sc.held_at_exit.load(Relaxed),
            in_doubt_at_exit: sc.in_doubt_at_exit.load(Relaxed),
            run_seconds,
            devices: self.args.devices,
            rate: self.args.rate,
            published,
            publish_refused: fleet_stats.as_ref().map_or(0, |s| s.refused.load(Relaxed)),
            publish_dropped,
            resent,
            unacked_at_close: unacked,
            received: c.received.load(Relaxed),
            received_own,
            duplicates: consumer_snapshot.duplicates,
            lost,
            ledger_missing: consumer_snapshot
                .missing
                .saturating_sub(consumer_snapshot.recovered),
            ledger_recovered: consumer_snapshot.recovered,
            in_flight,
            decode_errors: c.decode_errors.load(Relaxed),
            stored: c.stored.load(Relaxed),
            rate_limited: c.rate_limited.load(Relaxed),
            breaker_rejected: c.breaker_rejected.load(Relaxed),
            failed: c.failed.load(Relaxed),
            budget_exhausted: c.budget_exhausted.load(Relaxed),
            retries: self
                .sink_stats
                .attempts
                .load(Relaxed)
                .saturating_sub(c.admitted.load(Relaxed)),
            timeouts: c.timeouts.load(Relaxed),
            injected_failures: self.sink_stats.injected.load(Relaxed) + c.injected.load(Relaxed),
            devices_online: self.shared.fleet.by_status(DeviceStatus::Online).len(),
            devices_seen: self.shared.fleet.len(),
            receive_latency: Percentiles::of(&self.shared.receive_latency),
            stored_latency: Percentiles::of(&self.shared.stored_latency),
            breaker_state: self.shared.breaker.state().to_string(),
            breaker_opened: self.breaker_opened.load(Relaxed),
            consumer_reconnects: consumer_snapshot.disconnects,
            cpu_seconds: proc_stats.cpu_seconds,
            peak_rss_kib: proc_stats.peak_rss_kib,
            rss_kib: proc_stats.rss_kib,
        }
    }
}
