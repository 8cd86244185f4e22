//! The consumer's ledger under broker crashes: Mosquitto is killed with
//! SIGKILL ten times while five devices publish, with persistence on and
//! off, in each ack mode. For every device, every published frame must be
//! accounted for exactly once: delivered, reported missing (a
//! `FramesMissing` item), or still in flight at the end (above the highest
//! frame delivered). Nothing may be delivered twice.

#![cfg(feature = "mqtt")]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use iot_core::codec::FrameHeader;
use iot_core::mqtt::{AckMode, ConsumerConfig, PublisherConfig, QueueConfig, ReceiveError};

use support::mosquitto::Broker;
use support::{mqtt, readings};

const DEVICES: [&str; 5] = ["led-0", "led-1", "led-2", "led-3", "led-4"];
const FRAMES: u64 = 3_000;
const KILLS: usize = 10;

/// iot-deploy's default autosave policy: the database saved every 60 s.
const GENERATED_AUTOSAVE_SECONDS: u32 = 60;

/// Mosquitto without persistence (`None`), or with it and the database
/// saved every `Some(n)` seconds: a SIGKILL loses what changed since the
/// last save.
fn broker(autosave: Option<u32>) -> Option<Broker> {
    Broker::start_with(|port, dir| {
        let mut conf = format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\n\
             log_dest file {}/mosquitto.log\nmax_queued_messages 100000\n",
            dir.display()
        );
        if let Some(seconds) = autosave {
            conf.push_str(&format!(
                "persistence true\npersistence_location {}/\n\
                 autosave_interval {seconds}\nautosave_on_changes false\n",
                dir.display()
            ));
        } else {
            conf.push_str("persistence false\n");
        }
        conf
    })
}

/// What the consumer reported for one device.
#[derive(Default, Debug)]
struct Account {
    delivered: BTreeSet<u64>,
    twice: u64,
    reported: Vec<(u64, u64)>,
}

async fn run(autosave: Option<u32>, ack: AckMode) {
    let Some(mut broker) = broker(autosave) else {
        return;
    };
    let persistence = autosave.is_some();
    let tag = format!("p{}-{ack:?}", autosave.unwrap_or(0)).to_lowercase();
    let mut consumer = support::consumer(
        ConsumerConfig::new(mqtt(&broker, &format!("ledger-c-{tag}"), "led")).ack(ack),
    )
    .await;
    let mut senders = Vec::new();
    for device in DEVICES {
        let publisher = support::publisher(
            PublisherConfig::new(
                mqtt(&broker, &format!("ledger-{device}-{tag}"), "led"),
                device,
            )
            .queue(QueueConfig {
                max_frames: 100_000,
                max_bytes: 64 << 20,
                ..QueueConfig::default()
            }),
        )
        .await;
        senders.push(tokio::spawn(async move {
            for seq in 0..FRAMES {
                let header = FrameHeader::new(device, seq, 1_700_000_000_000 + seq);
                publisher.send(&header, &readings(seq)).await.expect("send");
                if seq % 4 == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            tokio::time::timeout(Duration::from_secs(60), publisher.flush())
                .await
                .expect("every frame acknowledged in the end");
            publisher.stats().snapshot()
        }));
    }

    // The consumer reads throughout; the broker dies meanwhile.
    let done = Arc::new(AtomicBool::new(false));
    let publishers_done = done.clone();
    let reader = tokio::spawn(async move {
        let mut accounts: BTreeMap<String, Account> = BTreeMap::new();
        let mut idle_since = tokio::time::Instant::now();
        loop {
            match tokio::time::timeout(Duration::from_millis(200), consumer.recv()).await {
                Ok(Some(Ok(frame))) => {
                    idle_since = tokio::time::Instant::now();
                    let a = accounts.entry(frame.device_id().to_owned()).or_default();
                    if !a.delivered.insert(frame.seq()) {
                        a.twice += 1;
                    }
                }
                Ok(Some(Err(ReceiveError::FramesMissing {
                    device,
                    first,
                    last,
                    ..
                }))) => {
                    accounts
                        .entry(device)
                        .or_default()
                        .reported
                        .push((first, last));
                }
                Ok(Some(Err(e))) => panic!("unexpected error item: {e}"),
                Ok(None) => break,
                Err(_) => {
                    // Stop once the publishers are done and nothing came
                    // for three seconds.
                    if idle_since.elapsed() > Duration::from_secs(3)
                        && publishers_done.load(Ordering::SeqCst)
                    {
                        break;
                    }
                }
            }
        }
        (accounts, consumer.stats().snapshot())
    });

    let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(autosave.unwrap_or(0)) ^ (ack as u64) << 7;
    for _ in 0..KILLS {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        tokio::time::sleep(Duration::from_millis(150 + rng % 300)).await;
        tokio::task::block_in_place(|| {
            broker.kill();
            broker.start_again();
        });
    }
    let mut published = BTreeMap::new();
    for (device, sender) in DEVICES.iter().zip(senders) {
        let stats = sender.await.expect("sender");
        assert_eq!(stats.dropped + stats.rejected, 0, "{device}: {stats:?}");
        published.insert(*device, stats.published);
    }
    done.store(true, Ordering::SeqCst);
    let (accounts, stats) = reader.await.expect("reader");

    let mut total_missing = 0;
    let mut total_recovered = 0;
    for device in DEVICES {
        assert_eq!(published[device], FRAMES);
        let a = accounts.get(device).expect("frames of every device");
        assert_eq!(a.twice, 0, "{device}: a frame delivered twice");
        let max = *a.delivered.last().unwrap();
        let mut reported = BTreeSet::new();
        for &(first, last) in &a.reported {
            for seq in first..=last {
                assert!(reported.insert(seq), "{device}: {seq} reported twice");
            }
        }
        let recovered = a.delivered.intersection(&reported).count() as u64;
        let missing = reported.len() as u64 - recovered;
        let in_flight = FRAMES - 1 - max;
        // Every frame exactly once: delivered, missing, or in flight.
        for seq in 0..FRAMES {
            let delivered = a.delivered.contains(&seq);
            let missing_now = reported.contains(&seq) && !delivered;
            let flying = seq > max;
            assert_eq!(
                u8::from(delivered) + u8::from(missing_now) + u8::from(flying),
                1,
                "{device}: frame {seq} (delivered {delivered}, missing {missing_now}, in flight {flying})"
            );
        }
        assert_eq!(
            FRAMES,
            a.delivered.len() as u64 + missing + in_flight,
            "{device}"
        );
        eprintln!(
            "persistence {persistence} (autosave {autosave:?}), {ack:?}, {device}: delivered {}, missing {missing} \
             (reported {}, recovered {recovered}), in flight {in_flight}",
            a.delivered.len(),
            reported.len()
        );
        total_missing += reported.len() as u64;
        total_recovered += recovered;
    }
    assert_eq!(stats.missing, total_missing, "{stats:?}");
    assert_eq!(stats.recovered, total_recovered, "{stats:?}");
    assert_eq!(stats.stale, 0, "{stats:?}");
    assert_eq!(stats.decode_errors, 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_killed_without_persistence_on_receipt() {
    run(None, AckMode::OnReceipt).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_killed_without_persistence_on_recv() {
    run(None, AckMode::OnRecv).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_killed_with_persistence_on_receipt() {
    run(Some(1), AckMode::OnReceipt).await;
}

/// With the policy iot-deploy generates, a broker killed every few hundred
/// milliseconds never saves: persistence then keeps nothing across these
/// kills, and the ledger reports the loss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_killed_with_the_generated_autosave_policy() {
    run(Some(GENERATED_AUTOSAVE_SECONDS), AckMode::OnRecv).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_killed_with_persistence_on_recv() {
    run(Some(1), AckMode::OnRecv).await;
}
