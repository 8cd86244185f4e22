//! The publisher: one device's frames to the broker, losing nothing
//! silently.

mod shared;
#[cfg(feature = "spool")]
mod spooled;
mod task;
mod writer;

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rumqttc::{AsyncClient, LastWill, QoS};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::codec::{BirthEntry, EncodeError, Encoder, FrameHeader, Reading};

use super::config::{AliasEntry, OverflowPolicy, PublisherConfig, Qos};
use super::connection::{Link, Shutdown, now_ms};
use super::error::{ConfigError, PublishError};
use super::metrics::DropReason;
use super::queue::{Control, FrameQueue};
use super::state::{ConnectionState, Role, Stats};
use super::topics::TopicKind;
use super::wait::WaitError;

use shared::{Core, Shared};

/// Encoded frames are cut from zeroed buffers of this size, so a burst of
/// small frames costs one allocation per 64 KiB rather than one per frame.
const BUF_CHUNK: usize = 64 * 1024;

const ONLINE: &[u8] = b"online";
const OFFLINE: &[u8] = b"offline";

/// Publishes one device's frames over MQTT.
///
/// [`publish`](Self::publish) encodes a frame into a reused buffer, stores
/// it in a bounded store-and-forward queue and returns at once; a
/// background task writes queued frames through rumqttc's state, a run at a
/// time with one flush (no copy), tracks their packet ids and drops them from the queue on the
/// broker's PUBACK. After a reconnect every unacknowledged frame is sent
/// again. See `docs/mqtt.md` for the full delivery design.
///
/// On every connect the publisher sends the birth message (alias table) and
/// a retained `online` status; its Last Will is a retained `offline`. The
/// session is persistent (`clean_session = false`) with a stable client id.
///
/// Cloning is cheap; all clones feed the same queue. Dropping the last
/// clone stops the background task at once without publishing `offline`
/// (the broker then publishes the Last Will); frames still queued are
/// counted in [`StatsSnapshot::closed_unacked`](super::StatsSnapshot::closed_unacked)
/// and logged. [`close`](Self::close) shuts down cleanly.
///
/// ```no_run
/// use iot_core::codec::{Channel, FrameHeader, Reading, Value};
/// use iot_core::mqtt::{AliasEntry, MqttConfig, Publisher, PublisherConfig};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let config = PublisherConfig::new(MqttConfig::new("127.0.0.1", 1883), "pump-7")
///     .birth(vec![AliasEntry::new(0, "temperature").with_unit("Cel")]);
/// let publisher = Publisher::start(config)?;
/// for seq in 0..10 {
///     let header = FrameHeader::new("pump-7", seq, 1_700_000_000_000 + seq);
///     publisher.publish(&header, &[Reading::new(Channel::Alias(0), Value::F64(21.5))])?;
/// }
/// publisher.flush().await; // every frame acknowledged by the broker
/// publisher.close(std::time::Duration::from_secs(5)).await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Publisher {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("device_id", &self.handle.shared.device_id)
            .field("state", &*self.handle.state.borrow())
            .finish_non_exhaustive()
    }
}

/// Stops the task when the last `Publisher` clone goes.
struct Handle {
    shared: Arc<Shared>,
    state: watch::Receiver<ConnectionState>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.shutdown.trigger();
    }
}

impl Publisher {
    /// Validates `config` and starts the connection task.
    ///
    /// Must be called within a Tokio runtime (with the `net` and `time`
    /// drivers enabled, as rumqttc needs them). Returns at once; the first
    /// connection attempt runs in the background and frames published
    /// meanwhile are queued.
    pub fn start(config: PublisherConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| ConfigError::new("runtime", format!("no Tokio runtime: {e}")))?;
        let config = config.resolved();
        let topics = &config.mqtt.topics;
        let topic = |kind| {
            topics
                .topic(&config.device_id, kind)
                .map_err(ConfigError::from)
        };
        let telemetry_topic = topic(TopicKind::Telemetry)?;
        let status_topic = topic(TopicKind::Status)?;
        let birth_topic = topic(TopicKind::Birth)?;

        let (mut options, network, connector) = config.mqtt.to_options()?;
        options.set_last_will(LastWill::new(
            status_topic.clone(),
            OFFLINE,
            QoS::AtLeastOnce,
            true,
        ));
        let cap = options.request_channel_capacity();
        let (client, mut eventloop) = AsyncClient::new(options, cap);
        eventloop.set_network_options(network);

        let qos = config.qos.to_rumqttc();
        let max_packet = config.mqtt.max_packet_size;
        let max_frame = max_payload(max_packet, telemetry_topic.len(), config.qos);
        let encoder = Encoder::new().checksum(config.checksum);
        let stats = Arc::new(Stats::new(Role::Publisher));
        let epoch = config.epoch.unwrap_or_else(now_ms);
        let mut core = Core {
            queue: FrameQueue::new(config.queue, usize::from(config.mqtt.max_inflight)),
            client,
            connected: false,
            closing: false,
            closed: false,
            unacked_at_close: 0,
            buf: BytesMut::new(),
            encoder,
            telemetry_topic,
            status_topic,
            birth_topic,
            birth: None,
            #[cfg(feature = "spool")]
            spool: None,
        };
        let max_birth = max_payload(max_packet, core.birth_topic.len(), Qos::AtLeastOnce);
        if !config.birth.is_empty() {
            let birth = encode_birth(&encoder, &config.device_id, epoch, &config.birth)
                .map_err(|e| ConfigError::new("birth", e.to_string()))?;
            if birth.len() > max_birth {
                return Err(ConfigError::new(
                    "birth",
                    format!("encoded birth of {} bytes exceeds {max_birth}", birth.len()),
                ));
            }
            core.birth = Some(birth);
        }
        #[cfg(feature = "spool")]
        if let Some(spool) = &config.spool {
            spooled::open(&mut core, spool, &config.queue, max_frame, &stats)?;
        }
        #[cfg(feature = "spool")]
        let core_spool = core.spool.clone();
        let shared = Arc::new(Shared {
            core: Mutex::new(core),
            stats: stats.clone(),
            shutdown: Shutdown::default(),
            kick: Notify::new(),
            progress: Notify::new(),
            waiters: AtomicUsize::new(0),
            device_id: config.device_id.clone(),
            epoch,
            client_id: config.mqtt.client_id.clone(),
            qos,
            max_frame,
            max_birth,
            max_bytes: config.queue.max_bytes,
            #[cfg(feature = "spool")]
            durable: spooled::durable_wait(&core_spool),
        });
        let (link, state) = Link::new(config.mqtt.backoff, stats, connector);
        let task = runtime.spawn(task::run(shared.clone(), eventloop, link));
        Ok(Self {
            handle: Arc::new(Handle {
                shared,
                state,
                task: Mutex::new(Some(task)),
            }),
        })
    }

    /// Encodes a frame and queues it for the broker; never waits.
    ///
    /// `header.device_id` must be the publisher's device. The sequence
    /// number and timestamp are the caller's: consumers account for frames
    /// by `(device, epoch, seq)`, so use one increasing sequence per
    /// device, starting afresh only with a new publisher (a new epoch).
    /// `header.epoch` is replaced by the publisher's
    /// ([`epoch`](Self::epoch)).
    ///
    /// `Ok` means the frame is queued: it stays there until the broker
    /// acknowledges it, unless the drop-oldest policy gives it up for newer
    /// frames (counted in [`StatsSnapshot::dropped`](super::StatsSnapshot::dropped)).
    pub fn publish(
        &self,
        header: &FrameHeader<'_>,
        readings: &[Reading<'_>],
    ) -> Result<(), PublishError> {
        self.enqueue(header, readings, false).map(|_| ())
    }

    /// Like [`publish`](Self::publish), but waits while the queue is full
    /// instead of applying the overflow policy: back-pressure for producers
    /// that would rather slow down than drop or be refused. Frames are never
    /// dropped to make room for this one.
    ///
    /// A waiting `send` is woken once an eighth of the queue is free (at
    /// least one frame), so a blocked producer refills it in bursts rather
    /// than frame by frame.
    ///
    /// While the broker is unreachable the queue fills and this waits until
    /// the connection is back and frames are acknowledged: wrap it in a
    /// timeout where that matters. Cancel-safe: a cancelled `send` queued
    /// nothing. Like tokio's channels it is a cooperative yield point: a
    /// producer whose sends always find room still gives other tasks on its
    /// worker their turn.
    pub async fn send(
        &self,
        header: &FrameHeader<'_>,
        readings: &[Reading<'_>],
    ) -> Result<(), PublishError> {
        // A yield point like tokio's own channels have: a producer whose
        // sends always find room would otherwise run without yielding until
        // the queue is full, starving the connection task.
        tokio::task::consume_budget().await;
        // The common case, room at once, without registering as a waiter.
        let record = match self.enqueue(header, readings, true)? {
            Some(record) => record,
            None => {
                self.handle
                    .shared
                    .wait_until(|| match self.enqueue(header, readings, true) {
                        Ok(None) => None,
                        Ok(Some(record)) => Some(Ok(record)),
                        Err(e) => Some(Err(e)),
                    })
                    .await?
            }
        };
        self.wait_durable(record).await
    }

    /// With a spool whose policy is `FsyncPolicy::Always`: waits until
    /// frame record `record` is on disk.
    #[cfg(feature = "spool")]
    async fn wait_durable(&self, record: u64) -> Result<(), PublishError> {
        match &self.handle.shared.durable {
            Some(spool) => spooled::wait_durable(spool, record).await,
            None => Ok(()),
        }
    }

    #[cfg(not(feature = "spool"))]
    async fn wait_durable(&self, _: u64) -> Result<(), PublishError> {
        Ok(())
    }

    /// Encodes and queues a frame; returns its spool record (`0` without a
    /// spool). With `wait`, a full queue refuses the frame without counting
    /// it (`Ok(None)`: the caller waits); without, the overflow policy
    /// applies.
    fn enqueue(
        &self,
        header: &FrameHeader<'_>,
        readings: &[Reading<'_>],
        wait: bool,
    ) -> Result<Option<u64>, PublishError> {
        let shared = &self.handle.shared;
        if header.device_id != shared.device_id {
            return Err(PublishError::DeviceMismatch {
                expected: shared.device_id.clone(),
                found: header.device_id.into(),
            });
        }
        // The publisher's epoch, whatever the caller's header says.
        let header = &FrameHeader {
            epoch: shared.epoch,
            ..*header
        };
        let mut core = shared.lock();
        if core.closing || core.closed {
            return Err(PublishError::Closed);
        }
        if wait && core.queue.len() >= core.queue.limits().0 {
            return Ok(None);
        }
        let (max, limit) = if shared.max_frame <= shared.max_bytes {
            (shared.max_frame, "max_packet_size")
        } else {
            (shared.max_bytes, "queue.max_bytes")
        };
        let core = &mut *core;
        // Encode in place into the zeroed chunk's front (the codec's slice
        // fast path, one pass, no length pre-pass), then split the frame
        // off: the chunk is filled front to back by successive frames.
        let len = match core.encoder.frame(header, readings, &mut core.buf[..]) {
            Ok(len) => len,
            Err(EncodeError::BufferTooSmall { needed, .. }) if needed <= max => {
                core.buf = BytesMut::zeroed(needed.max(BUF_CHUNK));
                core.encoder.frame(header, readings, &mut core.buf[..])?
            }
            Err(EncodeError::BufferTooSmall { needed, .. }) => needed,
            Err(e) => return Err(e.into()),
        };
        if len > max {
            shared.stats.dropped(DropReason::TooLarge, 1);
            return Err(PublishError::FrameTooLarge { len, max, limit });
        }
        let payload = core.buf.split_to(len).freeze();
        let policy = if wait {
            OverflowPolicy::RejectNew
        } else {
            core.queue.policy()
        };
        let record = spool_append(core, &payload)?;
        match core.queue.push_tagged(payload, policy, record) {
            Ok((_, dropped)) => {
                shared.stats.published();
                if dropped > 0 {
                    // Dropping frames may free bytes a waiting `send` needs.
                    shared.wake_waiters();
                    shared.stats.dropped(DropReason::QueueFull, dropped as u64);
                    tracing::debug!(
                        dropped,
                        "store-and-forward queue full; oldest frames dropped"
                    );
                }
            }
            Err(_) if wait => {
                spool_unappend(core, record);
                return Ok(None);
            }
            Err(full) => {
                spool_unappend(core, record);
                shared.stats.dropped(DropReason::Rejected, 1);
                return Err(PublishError::QueueFull {
                    frames: full.frames,
                    bytes: full.bytes,
                    max_frames: core.queue.limits().0,
                    max_bytes: shared.max_bytes,
                });
            }
        }
        shared.pump(core);
        Ok(Some(record))
    }

    /// Replaces the alias table: publishes the new birth message now (if
    /// connected) and after every later connect. An empty table stops
    /// sending births (the retained one stays on the broker).
    pub fn set_birth(&self, entries: &[AliasEntry]) -> Result<(), PublishError> {
        let shared = &self.handle.shared;
        let mut core = shared.lock();
        if entries.is_empty() {
            core.birth = None;
            return Ok(());
        }
        let birth = encode_birth(&core.encoder, &shared.device_id, shared.epoch, entries)?;
        if birth.len() > shared.max_birth {
            return Err(PublishError::FrameTooLarge {
                len: birth.len(),
                max: shared.max_birth,
                limit: "max_packet_size",
            });
        }
        core.birth = Some(birth.clone());
        if core.connected {
            let topic = core.birth_topic.clone();
            core.queue.push_control(Control {
                topic,
                payload: birth,
            });
            shared.pump(&mut core);
        }
        Ok(())
    }

    /// Waits until every queued frame is acknowledged (or dropped). Wrap it
    /// in a timeout: while the broker is unreachable it does not return.
    pub async fn flush(&self) {
        let shared = &self.handle.shared;
        shared
            .wait_until(|| (shared.lock().queue.len() == 0).then_some(()))
            .await;
    }

    /// Shuts down cleanly: waits up to `grace` for the queue to drain,
    /// publishes the retained `offline` status, disconnects (so the broker
    /// does not publish the Last Will) and stops the task.
    ///
    /// Returns how many frames were still unacknowledged; they are counted
    /// in [`StatsSnapshot::closed_unacked`](super::StatsSnapshot::closed_unacked)
    /// and as `iot_mqtt_frames_dropped_total{reason="closed"}`.
    pub async fn close(self, grace: Duration) -> usize {
        let shared = self.handle.shared.clone();
        let deadline = tokio::time::Instant::now() + grace;
        let _ = tokio::time::timeout_at(deadline, self.flush()).await;
        let (client, connected) = {
            let mut core = shared.lock();
            core.closing = true;
            if core.connected {
                let topic = core.status_topic.clone();
                core.queue.push_control(Control {
                    topic,
                    payload: Bytes::from_static(OFFLINE),
                });
                shared.pump(&mut core);
            }
            (core.client.clone(), core.connected)
        };
        // The DISCONNECT must follow the offline status through rumqttc's
        // channel; if the status could not be handed off in time, the
        // connection is dropped instead and the broker publishes the Last
        // Will (also `offline`).
        let offline_sent = connected
            && tokio::time::timeout_at(deadline, shared.wait_controls_sent())
                .await
                .is_ok();
        if offline_sent {
            let _ = tokio::time::timeout_at(deadline, client.disconnect()).await;
        } else {
            shared.shutdown.trigger();
        }
        let task = self.handle.task.lock().ok().and_then(|mut t| t.take());
        if let Some(mut task) = task {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                shared.shutdown.trigger();
                let _ = task.await;
            }
        }
        shared.lock().unacked_at_close
    }

    /// The connection state, for readiness checks.
    pub fn state(&self) -> watch::Receiver<ConnectionState> {
        self.handle.state.clone()
    }

    /// Waits for the connection: `Ok` once connected, an error as soon as
    /// an attempt is refused ([`WaitError::Refused`]: bad credentials,
    /// certificate problems), or when `timeout` passes. Frames published
    /// meanwhile stay queued either way; the client goes on retrying.
    ///
    /// A service calls this at start-up to fail loudly (exit, crash-loop
    /// with the reason in its log) instead of running disconnected.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<(), WaitError> {
        super::wait::wait_connected(self.state(), self.stats(), timeout).await
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.handle.shared.stats
    }

    /// The device id.
    pub fn device_id(&self) -> &str {
        &self.handle.shared.device_id
    }

    /// The session epoch written into every frame and birth
    /// ([`PublisherConfig::epoch`]).
    pub fn epoch(&self) -> u64 {
        self.handle.shared.epoch
    }
}

/// Appends an accepted frame to the spool, if there is one; its record id
/// becomes the frame's tag in the queue.
#[cfg(feature = "spool")]
fn spool_append(core: &shared::Core, payload: &[u8]) -> Result<u64, PublishError> {
    spooled::append(core, payload)
}

#[cfg(not(feature = "spool"))]
fn spool_append(_: &shared::Core, _: &[u8]) -> Result<u64, PublishError> {
    Ok(0)
}

/// Releases the record of a frame that was appended but not queued.
#[cfg(feature = "spool")]
fn spool_unappend(core: &shared::Core, record: u64) {
    spooled::unappend(core, record);
}

#[cfg(not(feature = "spool"))]
fn spool_unappend(_: &shared::Core, _: u64) {}

fn encode_birth(
    encoder: &Encoder,
    device_id: &str,
    epoch: u64,
    entries: &[AliasEntry],
) -> Result<Bytes, crate::codec::EncodeError> {
    let entries: Vec<BirthEntry<'_>> = entries
        .iter()
        .map(|e| BirthEntry {
            alias: e.alias,
            name: &e.name,
            unit: e.unit.as_deref(),
        })
        .collect();
    let header = FrameHeader::new(device_id, 0, now_ms()).with_epoch(epoch);
    let mut out = Vec::new();
    encoder.birth_to_vec(&header, &entries, &mut out)?;
    Ok(Bytes::from(out))
}

/// The largest payload whose PUBLISH to a topic of `topic_len` bytes fits
/// in `max_packet` bytes (fixed header, topic, packet id for QoS 1).
pub(crate) fn max_payload(max_packet: usize, topic_len: usize, qos: Qos) -> usize {
    let fixed = 2 + topic_len + if qos == Qos::AtLeastOnce { 2 } else { 0 };
    // Remaining length takes 1 to 4 bytes; try each.
    (1..=4u32)
        .filter_map(|len_len| {
            let remaining = max_packet.checked_sub(1 + len_len as usize)?;
            let remaining = remaining.min((1usize << (7 * len_len)) - 1);
            remaining.checked_sub(fixed)
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::shared::drained_enough;

    use super::*;
    use crate::codec::{Channel, Value};

    /// `send` is a yield point: on a current-thread runtime, a producer
    /// whose sends always find room still lets other tasks run.
    #[tokio::test(flavor = "current_thread")]
    async fn send_yields_to_other_tasks() {
        // Nothing listens on port 1: frames just queue.
        let config = PublisherConfig::new(crate::mqtt::MqttConfig::new("127.0.0.1", 1), "dev-y");
        let publisher = Publisher::start(config).unwrap();
        let other_ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = other_ran.clone();
        tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });
        let readings = [Reading::new(Channel::Alias(0), Value::U64(1))];
        let mut sent_before_the_other_task_ran = 0;
        for seq in 0..1000 {
            if other_ran.load(Ordering::SeqCst) {
                break;
            }
            publisher
                .send(&FrameHeader::new("dev-y", seq, seq), &readings)
                .await
                .unwrap();
            sent_before_the_other_task_ran += 1;
        }
        assert!(other_ran.load(Ordering::SeqCst), "1000 sends never yielded");
        // Tokio's budget is 128 operations per poll.
        assert!(
            sent_before_the_other_task_ran <= 256,
            "{sent_before_the_other_task_ran}"
        );
    }

    /// The size rumqttc computes for a PUBLISH.
    fn packet_size(topic: usize, payload: usize, qos1: bool) -> usize {
        let rem = 2 + topic + payload + if qos1 { 2 } else { 0 };
        let len_len = match rem {
            0..=127 => 1,
            128..=16_383 => 2,
            16_384..=2_097_151 => 3,
            _ => 4,
        };
        1 + len_len + rem
    }

    /// A producer waiting on a full queue is woken once an eighth of it
    /// is free, not for every frame written; a small queue on every free
    /// place; a flush (empty queue) always.
    #[test]
    fn waiters_wake_at_the_low_water_mark() {
        assert!(!drained_enough(9_999, 10_000));
        assert!(!drained_enough(8_751, 10_000));
        assert!(drained_enough(8_750, 10_000));
        assert!(drained_enough(0, 10_000));
        assert!(!drained_enough(1, 1));
        assert!(drained_enough(0, 1));
        assert!(!drained_enough(8, 8));
        assert!(drained_enough(7, 8));
    }

    #[test]
    fn max_payload_is_exact() {
        for max_packet in [128, 200, 16_386, 16_387, 16_390, 256 * 1024, 10 << 20] {
            for topic in [5, 40, 100] {
                for (qos, q1) in [(Qos::AtLeastOnce, true), (Qos::AtMostOnce, false)] {
                    let m = max_payload(max_packet, topic, qos);
                    assert!(
                        packet_size(topic, m, q1) <= max_packet,
                        "{max_packet} {topic}"
                    );
                    assert!(
                        packet_size(topic, m + 1, q1) > max_packet,
                        "{max_packet} {topic}"
                    );
                }
            }
        }
    }
}
