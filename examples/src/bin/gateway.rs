//! The iot-rs gateway demo: an embedded MQTT broker, a simulated fleet, a
//! resilient tower pipeline into a sink, health probes and metrics.
//!
//! Run: `cargo run --release -p iot-examples --bin gateway`

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use iot_examples::gateway::{Gateway, GatewayArgs, layered};
use iot_observe::tracing_init::{self, Output, TracingConfig};

const EXAMPLES: &str = "\
Examples:
  gateway                                        # embedded broker, 50 devices x 20 frames/s, until Ctrl-C
  gateway --duration 30s --devices 200 --rate 50 # 10,000 frames/s for 30 s, then a summary
  gateway --sink-fail-rate 0.2                   # retries (within the budget) hide 20% sink failures
  gateway --sink-fail-rate 0.7                   # the circuit breaker opens, probes, closes again...
  gateway --sink-latency 300ms                   # ...and so do timeouts
  gateway --kill-broker-after 10s                # broker down for 5 s: frames queue, nothing is lost
  gateway --broker mqtt://127.0.0.1:1883         # a real broker; run it twice to split the load
  gateway --sink-url http://127.0.0.1:9000/ingest  # POST each frame as SenML JSON
  gateway --config gateway.toml                  # settings from a file (flags and env override it)
  gateway healthcheck                            # exit 0 if the gateway on GATEWAY_HTTP is ready

Probes: GET /health/live, /health/ready, /health/startup, /health; metrics: GET /metrics.
Logs go to stderr; RUST_LOG=info shows more.";

/// The iot-rs gateway demo: MQTT in, a per-device rate limit, circuit
/// breaker, retry with budget and timeout around a sink, health and metrics.
#[derive(Parser)]
#[command(name = "gateway", version, after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Settings from this TOML file, keys named like the flags
    /// (`batch_frames = 500`); the environment and the command line
    /// override it (docs/configuration.md).
    #[arg(long, value_name = "PATH", env = "GATEWAY_CONFIG")]
    config: Option<std::path::PathBuf>,
    #[command(flatten)]
    args: GatewayArgs,
}

/// The command line over the environment over `--config`'s file.
fn parse_layered() -> Result<Cli, ExitCode> {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let first = Cli::command().get_matches_from(argv.clone());
    let Some(path) = first.get_one::<std::path::PathBuf>("config").cloned() else {
        return Ok(Cli::from_arg_matches(&first).unwrap_or_else(|e| e.exit()));
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        eprintln!("gateway: --config {}: {e}", path.display());
        ExitCode::from(2)
    })?;
    let layered = layered::apply(&Cli::command(), &first, argv, &path, &text).map_err(|e| {
        eprintln!("gateway: {e}");
        ExitCode::from(2)
    })?;
    Cli::try_parse_from(&layered.argv).map_err(|e| {
        eprintln!("{}", layered.explain(&e));
        ExitCode::from(2)
    })
}

#[derive(Subcommand)]
enum Command {
    /// Exit 0 if the gateway serving on --http answers /health/ready with
    /// 200 (for container health checks).
    Healthcheck {
        /// The gateway's --http address (0.0.0.0 is asked on 127.0.0.1).
        #[arg(long, default_value = "127.0.0.1:8080", env = "GATEWAY_HTTP")]
        http: SocketAddr,
    },
}

fn healthcheck(http: SocketAddr) -> ExitCode {
    let addr = if http.ip().is_unspecified() {
        SocketAddr::from((Ipv4Addr::LOCALHOST, http.port()))
    } else {
        http
    };
    match iot_examples::util::http_get(addr, "/health/ready") {
        Ok((200, _)) => ExitCode::SUCCESS,
        Ok((status, body)) => {
            eprintln!("not ready: {status} {body}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("healthcheck: {addr}: {e}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match parse_layered() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    if let Some(Command::Healthcheck { http }) = cli.command {
        return healthcheck(http);
    }
    // Quiet by default: the demo prints its own events; the transport's and
    // the layers' warnings would repeat them once per client.
    let _ = tracing_init::init(
        TracingConfig::compact()
            .output(Output::Stderr)
            .default_directive(
                "warn,rumqttd=off,iot_core=error,iot_resilience=error,iot_observe::health=error",
            ),
    );
    let gateway = match Gateway::start(cli.args).await {
        Ok(g) => g,
        Err(e) => {
            eprintln!("gateway: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = gateway.shutdown().listen_for_signals() {
        eprintln!("gateway: cannot handle Ctrl-C: {e}");
    }
    match gateway.wait().await {
        Ok(summary) => {
            print!("{}", summary.table());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gateway: {e}");
            ExitCode::FAILURE
        }
    }
}
