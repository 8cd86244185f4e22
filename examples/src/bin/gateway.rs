//! The iot-rs gateway demo: an embedded MQTT broker, a simulated fleet, a
//! resilient tower pipeline into a sink, health probes and metrics.
//!
//! Run: `cargo run --release -p iot-examples --bin gateway`

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

use clap::ArgMatches;
use iot_examples::gateway::{Gateway, GatewayArgs, RELOADABLE, Reloader, layered};
use iot_observe::tracing_init::LogHandle;
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
  gateway --config gateway.toml                  # settings from a file (flags and env override it);
                                                 # re-read on change or kill -HUP (--sink-timeout, --device-limit,
                                                 # --breaker-*, --retry-attempts, --log-filter)
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
    config: Option<PathBuf>,
    #[command(flatten)]
    args: GatewayArgs,
}

/// The command line over the environment over `--config`'s file: the
/// parsed settings, their matches (to compare on reload) and the file's
/// stamp from before it was read (a change from then on reloads).
fn parse_layered(argv: &[OsString]) -> Result<(Cli, ArgMatches, Option<FileStamp>), String> {
    // The command line and environment alone: at start-up a bad flag,
    // --help and --version end here as clap does; on reload they parsed
    // before and cannot fail.
    let first = Cli::command().get_matches_from(argv);
    let mut file_stamp = None;
    // `healthcheck` takes its address from its own flag or GATEWAY_HTTP:
    // a container's probe must not fail on a half-written config file.
    let config = match first.subcommand_name() {
        Some(_) => None,
        None => first.get_one::<PathBuf>("config").cloned(),
    };
    let matches = match config {
        None => first,
        Some(path) => {
            file_stamp = stamp(&path);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("gateway: --config {}: {e}", path.display()))?;
            let layered = layered::apply(&Cli::command(), &first, argv.to_vec(), &path, &text)
                .map_err(|e| format!("gateway: {e}"))?;
            Cli::command()
                .try_get_matches_from(&layered.argv)
                .map_err(|e| layered.explain(&e))?
        }
    };
    let cli = Cli::from_arg_matches(&matches).map_err(|e| e.render().to_string())?;
    Ok((cli, matches, file_stamp))
}

/// On SIGHUP, or when the `--config` file changes (looked at every
/// second): reads the configuration again and applies what a running
/// gateway can change (`gateway::RELOADABLE`); a bad file changes nothing.
async fn reload_on_sighup(
    mut hangups: tokio::signal::unix::Signal,
    gateway: Reloader,
    log: Option<LogHandle>,
    argv: Vec<OsString>,
    started: ArgMatches,
    mut seen: Option<FileStamp>,
) {
    let mut current = started.clone();
    let file = current.get_one::<PathBuf>("config").cloned();
    let mut look = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            signal = hangups.recv() => if signal.is_none() { return },
            _ = look.tick(), if file.is_some() => {
                if file.as_deref().and_then(stamp) == seen {
                    continue;
                }
            }
        }
        // Whatever the trigger, the file as it is before this read: a
        // SIGHUP after an edit is not followed by a second reload.
        seen = file.as_deref().and_then(stamp);
        match reload(&gateway, log.as_ref(), &argv, &started, &current) {
            Ok(matches) => current = matches,
            Err(e) => eprintln!(
                "gateway: reload refused, the settings stay as they were: {}",
                e.trim_end()
            ),
        }
    }
}

/// When a file was modified, and its length.
type FileStamp = (Option<std::time::SystemTime>, u64);

fn stamp(file: &std::path::Path) -> Option<FileStamp> {
    std::fs::metadata(file)
        .ok()
        .map(|m| (m.modified().ok(), m.len()))
}

/// One reload: all or nothing (the log filter is put back if the rest is
/// refused).
fn reload(
    gateway: &Reloader,
    log: Option<&LogHandle>,
    argv: &[OsString],
    started: &ArgMatches,
    current: &ArgMatches,
) -> Result<ArgMatches, String> {
    let (cli, matches, _) = parse_layered(argv)?;
    // What a reload applies is compared with what the last one applied;
    // the rest with what the process started with, which it still runs
    // (a change that needs a restart is reported until it is undone).
    let cmd = Cli::command();
    let reloadable = |id: &String| RELOADABLE.contains(&id.as_str());
    let changed: Vec<String> = layered::changed(&cmd, current, &matches)
        .into_iter()
        .filter(reloadable)
        .chain(
            layered::changed(&cmd, started, &matches)
                .into_iter()
                .filter(|id| !reloadable(id)),
        )
        .collect();
    let mut old_filter = None;
    if let (true, Some(log)) = (changed.iter().any(|id| id == "log_filter"), log) {
        old_filter = log.filter().ok();
        log.set_filter(&cli.args.log_filter)
            .map_err(|e| format!("--log-filter: {e}"))?;
    }
    if let Err(e) = gateway.reload(&cli.args, &changed) {
        if let (Some(old), Some(log)) = (old_filter, log) {
            let _ = log.set_filter(&old);
        }
        return Err(e);
    }
    Ok(matches)
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
    let argv: Vec<OsString> = std::env::args_os().collect();
    let (cli, matches, config_stamp) = match parse_layered(&argv) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("{}", e.trim_end());
            return ExitCode::from(2);
        }
    };
    if let Some(Command::Healthcheck { http }) = cli.command {
        return healthcheck(http);
    }
    // Quiet by default (`--log-filter`): the demo prints its own events.
    let log = tracing_init::init(
        TracingConfig::compact()
            .output(Output::Stderr)
            .default_directive(cli.args.log_filter.clone()),
    )
    .ok();
    // Listening before the start: a SIGHUP during it waits for the
    // reloader instead of ending the process (the default action).
    let hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(e) => {
            eprintln!("gateway: cannot handle SIGHUP: {e}");
            return ExitCode::FAILURE;
        }
    };
    let gateway = match Gateway::start(cli.args).await {
        Ok(g) => g,
        Err(e) => {
            eprintln!("gateway: {e}");
            return ExitCode::FAILURE;
        }
    };
    tokio::spawn(reload_on_sighup(
        hangups,
        gateway.reloader(),
        log,
        argv,
        matches,
        config_stamp,
    ));
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
