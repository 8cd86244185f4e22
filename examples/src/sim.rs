//! A simulated fleet: devices with a birth (alias table) and realistic,
//! slowly drifting readings, each publishing through its own
//! [`iot_core::mqtt::Publisher`] (its own MQTT session, Last Will and
//! retained birth), paced by one driver task.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use iot_core::codec::{Channel, FrameHeader, Reading, Value};
use iot_core::mqtt::spool::SpoolConfig;
use iot_core::mqtt::{
    AliasEntry, BackoffConfig, MqttConfig, PublishError, Publisher, PublisherConfig,
};
use tokio::sync::watch;

use crate::util::now_us;

/// The alias of the microsecond send timestamp every simulated frame
/// carries, so the gateway can measure sub-millisecond latency (the frame
/// header's timestamp has millisecond resolution).
pub const SENT_AT_ALIAS: u32 = 7;
/// Its channel name.
pub const SENT_AT_CHANNEL: &str = "sent_at";

/// The alias table every simulated device announces in its birth message.
pub fn birth_table() -> Vec<AliasEntry> {
    vec![
        AliasEntry::new(0, "temperature").with_unit("Cel"),
        AliasEntry::new(1, "humidity").with_unit("%RH"),
        AliasEntry::new(2, "pressure").with_unit("Pa"),
        AliasEntry::new(3, "battery").with_unit("V"),
        AliasEntry::new(4, "rssi").with_unit("dBm"),
        AliasEntry::new(5, "door_open"),
        AliasEntry::new(6, "state"),
        AliasEntry::new(SENT_AT_ALIAS, SENT_AT_CHANNEL).with_unit("us"),
    ]
}

/// How a fleet connects and behaves.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// The broker connection (address, transport, TLS, credentials); each
    /// device gets its own client id and the fleet's backoff.
    pub mqtt: MqttConfig,
    /// Device ids are `<prefix>-0000`, `<prefix>-0001`, ...
    pub prefix: String,
    /// Number of devices.
    pub devices: usize,
    /// Frames per second per device.
    pub rate: f64,
    /// The first `noisy` devices publish at `noisy_factor` times `rate`
    /// (misbehaving firmware, for the per-device rate limit to catch).
    pub noisy: usize,
    /// See `noisy`.
    pub noisy_factor: f64,
    /// Reconnect backoff cap of every publisher.
    pub backoff_cap: Duration,
    /// A crash-safe spool per device, in `<dir>/<device id>` (the
    /// configuration's `dir` is the parent): frames accepted and never
    /// acknowledged are sent by the next run.
    pub spool: Option<SpoolConfig>,
}

impl FleetConfig {
    /// The id of device `i`.
    pub fn device_id(&self, i: usize) -> String {
        format!("{}-{i:04}", self.prefix)
    }
}

/// Counters of a fleet, readable while it runs.
#[derive(Debug, Default)]
pub struct FleetStats {
    /// Frames accepted by `Publisher::publish`.
    pub published: AtomicU64,
    /// Frames refused by `publish` (queue full with reject-new, too large).
    pub refused: AtomicU64,
    /// When publishing started (after the devices connected).
    pub started: OnceLock<Instant>,
}

/// One simulated device: its publisher, sequence and sensor state.
struct Device {
    id: String,
    publisher: Publisher,
    seq: u64,
    sent: u64,
    rate: f64,
    phase: f64,
    rng: fastrand::Rng,
    temperature: f64,
    humidity: f64,
    pressure: f64,
    battery: f64,
    door_open: bool,
}

impl Device {
    fn publish(&mut self, stats: &FleetStats) {
        let rng = &mut self.rng;
        // Slow random walks around plausible values.
        self.temperature = (self.temperature + (rng.f64() - 0.5) * 0.1).clamp(-10.0, 45.0);
        self.humidity = (self.humidity + (rng.f64() - 0.5) * 0.2).clamp(5.0, 95.0);
        self.pressure = (self.pressure + (rng.f64() - 0.5) * 10.0).clamp(95_000.0, 105_000.0);
        self.battery = (self.battery - rng.f64() * 0.000_01).max(3.0);
        if rng.u32(0..500) == 0 {
            self.door_open = !self.door_open;
        }
        let rssi = -60 - i64::from(rng.u8(0..30));
        let state = if self.door_open { "open" } else { "running" };
        let sent_at = now_us();
        let readings = [
            Reading::new(
                Channel::Alias(0),
                Value::F64((self.temperature * 100.0).round() / 100.0),
            ),
            Reading::new(Channel::Alias(1), Value::F32(self.humidity as f32)),
            Reading::new(Channel::Alias(2), Value::U64(self.pressure as u64)),
            Reading::new(Channel::Alias(3), Value::F32(self.battery as f32)),
            Reading::new(Channel::Alias(4), Value::I64(rssi)),
            Reading::new(Channel::Alias(5), Value::Bool(self.door_open)),
            Reading::new(Channel::Alias(6), Value::Str(state)),
            Reading::new(Channel::Alias(SENT_AT_ALIAS), Value::U64(sent_at)),
        ];
        let header = FrameHeader::new(&self.id, self.seq, sent_at / 1000);
        match self.publisher.publish(&header, &readings) {
            Ok(()) => {
                self.seq += 1;
                stats.published.fetch_add(1, Relaxed);
            }
            Err(PublishError::Closed) => {}
            Err(e) => {
                stats.refused.fetch_add(1, Relaxed);
                tracing::debug!(device = %self.id, error = %e, "frame refused");
            }
        }
    }
}

/// A running fleet. Stop it with [`Fleet::stop`], which returns the
/// publishers for flushing and closing.
pub struct Fleet {
    stats: Arc<FleetStats>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Vec<Publisher>>,
    publishers: Vec<Publisher>,
}

impl Fleet {
    /// Starts one publisher per device and the pacing task (within a
    /// Tokio runtime).
    pub fn start(config: &FleetConfig) -> Result<Fleet, String> {
        let stats = Arc::new(FleetStats::default());
        let mut devices = Vec::with_capacity(config.devices);
        let mut publishers = Vec::with_capacity(config.devices);
        let mut seed_rng = fastrand::Rng::with_seed(7);
        for i in 0..config.devices {
            let id = config.device_id(i);
            let mqtt = config.mqtt.clone().backoff(BackoffConfig::full_jitter(
                Duration::from_millis(100),
                config.backoff_cap,
            ));
            let mut pc = PublisherConfig::new(mqtt, id.clone()).birth(birth_table());
            if let Some(spool) = &config.spool {
                let dir = spool.dir.join(&id);
                pc = pc.spool(spool.clone().dir(dir));
            }
            let publisher = Publisher::start(pc).map_err(|e| format!("device {id}: {e}"))?;
            publishers.push(publisher.clone());
            let rate = if i < config.noisy {
                config.rate * config.noisy_factor
            } else {
                config.rate
            };
            devices.push(Device {
                id,
                publisher,
                seq: 1,
                sent: 0,
                rate,
                // Spread the devices over one frame interval.
                phase: i as f64 / config.devices.max(1) as f64,
                rng: fastrand::Rng::with_seed(seed_rng.u64(..)),
                temperature: 18.0 + seed_rng.f64() * 6.0,
                humidity: 35.0 + seed_rng.f64() * 20.0,
                pressure: 101_325.0 + (seed_rng.f64() - 0.5) * 1000.0,
                battery: 3.6 + seed_rng.f64() * 0.5,
                door_open: false,
            });
        }
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(drive(devices, stats.clone(), stop_rx));
        Ok(Fleet {
            stats,
            stop,
            task,
            publishers,
        })
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<FleetStats> {
        &self.stats
    }

    /// The publishers (cheap clones), e.g. to read their connection state.
    pub fn publishers(&self) -> &[Publisher] {
        &self.publishers
    }

    /// Waits until publishing started (every device connected, or
    /// `timeout` passed).
    pub async fn wait_started(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.stats.started.get().is_none() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops publishing; returns the publishers, still connected.
    pub async fn stop(self) -> Vec<Publisher> {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}

/// Publishes every device's due frames every few milliseconds: device `i`
/// has sent `floor(rate_i × elapsed + phase_i)` frames at any time, so the
/// long-run rate is exact whatever the timer does.
async fn drive(
    mut devices: Vec<Device>,
    stats: Arc<FleetStats>,
    mut stop: watch::Receiver<bool>,
) -> Vec<Publisher> {
    // Devices connect first (up to 10 s), then publish: frames queued
    // while a fleet connects would all arrive late at once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut stopped = false;
    for d in &devices {
        let mut state = d.publisher.state();
        let connected = state.wait_for(|s| s.is_connected());
        tokio::select! {
            _ = tokio::time::timeout_at(deadline, connected) => {}
            _ = stop.changed() => {
                stopped = true;
                break;
            }
        }
    }
    if stopped {
        return devices.into_iter().map(|d| d.publisher).collect();
    }
    let _ = stats.started.set(Instant::now());
    let start = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        let elapsed = start.elapsed().as_secs_f64();
        for d in &mut devices {
            let due = (d.rate * elapsed + d.phase).floor() as u64;
            while d.sent < due {
                d.sent += 1;
                d.publish(&stats);
            }
        }
    }
    devices.into_iter().map(|d| d.publisher).collect()
}

/// Waits (at most `grace`) until every publisher's queue is acknowledged,
/// then closes them all; returns the frames left unacknowledged.
pub async fn flush_and_close(publishers: Vec<Publisher>, grace: Duration) -> usize {
    let deadline = tokio::time::Instant::now() + grace;
    let mut set = tokio::task::JoinSet::new();
    for p in publishers {
        set.spawn(async move {
            let _ = tokio::time::timeout_at(deadline, p.flush()).await;
            p.close(Duration::from_millis(500)).await
        });
    }
    let mut left = 0;
    while let Some(r) = set.join_next().await {
        left += r.unwrap_or(0);
    }
    left
}
