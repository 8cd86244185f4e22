//! The publisher's spool against `kill -9`: five times, `device-sim --spool
//! DIR` publishes, the broker goes away, the simulator goes on accepting
//! frames it cannot deliver, and is killed with SIGKILL; then it runs once
//! more to the end. Every frame any run reported accepted must reach the
//! consumer: each run's frames (one session epoch per run and device)
//! arrive without a gap from the first to at least the count the run
//! printed before it died. Without the spool, what a killed run had queued
//! is gone.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use iot_core::mqtt::{BackoffConfig, Consumer, ConsumerConfig, MqttConfig, ReceiveError};
use iot_testkit::mosquitto::{Broker, BrokerOptions, temp_dir};

const DEVICES: usize = 2;

/// Sequence numbers delivered, by device and epoch.
type Delivered = BTreeMap<(String, u64), BTreeSet<u64>>;
const KILLS: usize = 5;

/// Starts device-sim on `port` with a spool in `dir`; returns the child
/// and the last "published N" count it printed (updated as it runs).
fn device_sim(
    port: u16,
    dir: &std::path::Path,
    fsync: &str,
    extra: &[&str],
) -> (std::process::Child, Arc<Mutex<u64>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_device-sim"))
        .args([
            "--broker",
            &format!("mqtt://127.0.0.1:{port}"),
            "--devices",
            &DEVICES.to_string(),
            "--rate",
            "300",
            "--prefix",
            "spk",
            "--spool",
            dir.to_str().unwrap(),
            "--fsync",
            fsync,
            "--progress-every",
            "20ms",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn device-sim");
    let published = Arc::new(Mutex::new(0u64));
    let seen = published.clone();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // "[   1s] published 1234 | ..."
            if let Some(n) = line
                .split("published ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
            {
                let mut p = seen.lock().unwrap();
                *p = (*p).max(n);
            }
        }
    });
    (child, published)
}

async fn killed_five_times_loses_nothing(fsync: &str) {
    // Persistence keeps the consumer's session across the broker's
    // (graceful) restarts: the test is about the publisher.
    let Some(mut broker) = Broker::start(BrokerOptions {
        persistence: true,
        ..BrokerOptions::default()
    }) else {
        return;
    };
    let port = broker.port();
    let mut consumer = Consumer::start(ConsumerConfig::new(
        MqttConfig::new("127.0.0.1", port)
            .client_id(format!("spool-kill-{fsync}"))
            .backoff(BackoffConfig::full_jitter(
                Duration::from_millis(20),
                Duration::from_millis(200),
            )),
    ))
    .unwrap();
    consumer
        .wait_connected(Duration::from_secs(10))
        .await
        .unwrap();
    // Let the subscription settle.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let frames: Arc<Mutex<Delivered>> = Arc::default();
    let collected = frames.clone();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let finished = done.clone();
    let reader = tokio::spawn(async move {
        let mut missing = 0;
        let mut idle = 0;
        loop {
            let item = match tokio::time::timeout(Duration::from_millis(500), consumer.recv()).await
            {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(_) => {
                    idle += 1;
                    // Done once the last run finished, the consumer is
                    // connected and nothing came for two seconds.
                    if finished.load(std::sync::atomic::Ordering::SeqCst)
                        && consumer.state().borrow().is_connected()
                        && idle >= 4
                    {
                        break;
                    }
                    continue;
                }
            };
            idle = 0;
            match item {
                Ok(f) => {
                    collected
                        .lock()
                        .unwrap()
                        .entry((f.device_id().to_owned(), f.epoch()))
                        .or_default()
                        .insert(f.seq());
                }
                Err(e @ ReceiveError::FramesMissing { .. }) => missing += e.missing_frames(),
                Err(e) => panic!("unexpected {e}"),
            }
        }
        missing
    });

    let dir = temp_dir("spool-kill");
    let mut accepted = Vec::new();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..KILLS {
        let (mut child, published) = device_sim(port, &dir, fsync, &[]);
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        tokio::time::sleep(Duration::from_millis(300 + rng % 500)).await;
        // The broker goes away; the simulator accepts frames it cannot
        // deliver, then dies.
        tokio::task::block_in_place(|| broker.stop());
        tokio::time::sleep(Duration::from_millis(200 + rng % 300)).await;
        child.kill().expect("SIGKILL"); // std sends SIGKILL on Unix
        child.wait().unwrap();
        accepted.push(*published.lock().unwrap());
        tokio::task::block_in_place(|| broker.start_again());
    }
    // A last run to the end: it sends what the spool still holds, then its
    // own frames, and flushes.
    let (mut last, _) = device_sim(port, &dir, fsync, &["--duration", "1s"]);
    let status = tokio::task::spawn_blocking(move || last.wait())
        .await
        .unwrap();
    assert!(status.unwrap().success());
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let missing = reader.await.unwrap();
    broker.stop();

    let frames = frames.lock().unwrap();
    assert_eq!(missing, 0, "the consumer's ledger saw no gap");
    // Runs in order of their epochs (start times), per device.
    let mut runs: BTreeMap<&str, Vec<(u64, &BTreeSet<u64>)>> = BTreeMap::new();
    for ((device, epoch), seqs) in frames.iter() {
        runs.entry(device).or_default().push((*epoch, seqs));
    }
    assert_eq!(runs.len(), DEVICES);
    for (device, epochs) in &runs {
        let shape: Vec<(u64, usize, u64)> = epochs
            .iter()
            .map(|(e, s)| (*e, s.len(), *s.last().unwrap()))
            .collect();
        eprintln!("{fsync}: {device}: (epoch, frames, highest) {shape:?}");
    }
    for (run, &printed) in accepted.iter().enumerate() {
        let mut delivered = 0;
        for (device, epochs) in &runs {
            let (epoch, seqs) = epochs[run];
            // Device frames are numbered from 1, without holes.
            let max = *seqs.last().unwrap();
            assert_eq!(
                seqs.len() as u64,
                max,
                "{device} run {run} (epoch {epoch}): a hole in 1..={max}"
            );
            delivered += max;
        }
        eprintln!("{fsync}: run {run} printed {printed} accepted, {delivered} delivered");
        assert!(
            delivered >= printed,
            "run {run}: {printed} accepted before the kill, only {delivered} delivered"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spool_always_survives_kill_9() {
    killed_five_times_loses_nothing("always").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spool_interval_survives_kill_9() {
    killed_five_times_loses_nothing("interval").await;
}
