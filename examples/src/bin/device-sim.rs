//! Publishes simulated telemetry to any MQTT broker (e.g. Mosquitto), one
//! iot-core `Publisher` (one MQTT session) per device.
//!
//! Run: `cargo run --release -p iot-examples --bin device-sim -- --broker mqtt://127.0.0.1:1883`

use std::process::ExitCode;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use clap::Parser;
use iot_core::mqtt::WaitError;
use iot_core::mqtt::spool::{FsyncPolicy, SpoolConfig};
use iot_examples::connect::BrokerArgs;
use iot_examples::sim::{Fleet, FleetConfig, flush_and_close};
use iot_examples::util::parse_duration;

const EXAMPLES: &str = "\
Examples:
  device-sim --broker mqtt://127.0.0.1:1883 --devices 100 --rate 10 --duration 60s
  device-sim --broker mqtts://broker.example.com --ca-file ca.pem --cert dev.pem --key dev.key
  mosquitto_sub -h 127.0.0.1 -t 'iot/+/status' -v     # watch presence (retained online/offline)
  gateway --broker mqtt://127.0.0.1:1883 --devices 0  # consume what device-sim publishes";

/// Publishes simulated telemetry (iot-rs binary frames on
/// iot/DEVICE/telemetry, birth messages on iot/DEVICE/birth).
#[derive(Parser)]
#[command(name = "device-sim", version, after_help = EXAMPLES)]
struct Args {
    /// The broker and how to connect (default mqtt://127.0.0.1:1883).
    #[command(flatten)]
    broker: BrokerArgs,
    /// Devices, each with its own MQTT connection.
    #[arg(long, default_value_t = 10)]
    devices: usize,
    /// Frames per second per device.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Stop after this long; default: until Ctrl-C.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Device ids are PREFIX-0000, PREFIX-0001, ...
    #[arg(long, default_value = "sim")]
    prefix: String,
    /// Keep every accepted frame in a crash-safe spool under DIR (one
    /// directory per device) until the broker acknowledges it; a run that
    /// was killed is completed by the next one on the same DIR.
    #[arg(long, value_name = "DIR")]
    spool: Option<std::path::PathBuf>,
    /// When the spool forces its writes to disk: `always` (each frame),
    /// `interval` (every second, the default) or `os` (left to the kernel).
    /// A killed process loses nothing with any of them; they differ on
    /// power loss.
    #[arg(long, default_value = "interval", value_parser = ["always", "interval", "os"], requires = "spool")]
    fsync: String,
    /// How often to print a progress line.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    progress_every: Duration,
    /// At the end, wait at most this long for the broker to acknowledge
    /// the queued frames; what is still unacknowledged then is counted.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    drain: Duration,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let url = args
        .broker
        .url()
        .unwrap_or_else(|| "mqtt://127.0.0.1:1883".into());
    let mqtt = match args.broker.mqtt_config(&url) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("device-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.rate.is_nan() || args.rate <= 0.0 {
        eprintln!("device-sim: --rate must be positive");
        return ExitCode::FAILURE;
    }
    let fleet = match Fleet::start(&FleetConfig {
        mqtt,
        prefix: args.prefix.clone(),
        devices: args.devices,
        rate: args.rate,
        noisy: 0,
        noisy_factor: 1.0,
        backoff_cap: Duration::from_secs(5),
        spool: args.spool.as_ref().map(|dir| {
            SpoolConfig::new(dir).fsync(match args.fsync.as_str() {
                "always" => FsyncPolicy::Always,
                "os" => FsyncPolicy::Os,
                _ => FsyncPolicy::Interval(Duration::from_secs(1)),
            })
        }),
    }) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("device-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    // A refused first connection (password, certificate) ends the run
    // with its reason instead of retrying silently; a slow broker does not.
    if let Some(first) = fleet.publishers().first() {
        if let Err(e @ WaitError::Refused { .. }) =
            first.wait_connected(Duration::from_secs(10)).await
        {
            eprintln!("device-sim: {url}: {e}");
            return ExitCode::FAILURE;
        }
    }
    println!(
        "device-sim: {} devices x {}/s to {} (ids {}-0000...), Ctrl-C to stop",
        args.devices, args.rate, url, args.prefix
    );
    let stats = fleet.stats().clone();
    let started = Instant::now();
    let mut tick = tokio::time::interval(args.progress_every);
    tick.tick().await;
    let deadline = args.duration.map(|d| tokio::time::Instant::now() + d);
    loop {
        let sleep_until =
            deadline.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            _ = tick.tick() => {
                let connected = fleet.publishers().iter().filter(|p| p.state().borrow().is_connected()).count();
                let queued: u64 = fleet.publishers().iter().map(|p| p.stats().snapshot().queue_depth).sum();
                println!(
                    "[{:>4.0}s] published {} | {connected}/{} connected | queued {queued}",
                    started.elapsed().as_secs_f64(),
                    stats.published.load(Relaxed),
                    args.devices
                );
            }
            () = tokio::time::sleep_until(sleep_until) => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    let publishers = fleet.stop().await;
    println!(
        "device-sim: stopping; waiting up to {:?} for the broker to acknowledge queued frames",
        args.drain
    );
    let unacked = flush_and_close(publishers, args.drain).await;
    println!(
        "device-sim: published {} frames in {:.1} s, {} refused, {unacked} unacknowledged at close",
        stats.published.load(Relaxed),
        started.elapsed().as_secs_f64(),
        stats.refused.load(Relaxed)
    );
    ExitCode::SUCCESS
}
