//! The publisher with a spool: frames it could not deliver before it
//! stopped (the broker was down) are sent by the next publisher opened on
//! the same directory, under their original epoch and sequence numbers;
//! frames the broker acknowledged are not sent again.

#![cfg(feature = "spool")]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use iot_core::mqtt::spool::{FsyncPolicy, SpoolConfig};
use iot_core::mqtt::{ConsumerConfig, PublisherConfig, ReceiveError};

use support::mosquitto::{Broker, BrokerOptions, temp_dir};
use support::{mqtt, publish, receive_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_left_at_close_are_sent_by_the_next_publisher() {
    let Some(mut broker) = Broker::start(BrokerOptions {
        persistence: true,
        ..BrokerOptions::default()
    }) else {
        return;
    };
    const DEVICE: &str = "dev-spool";
    let dir = temp_dir("publisher-spool");
    let spool = SpoolConfig::new(&dir).fsync(FsyncPolicy::Always);
    let mut consumer =
        support::consumer(ConsumerConfig::new(mqtt(&broker, "spool-consumer", "sp"))).await;
    let mqtt_config = mqtt(&broker, "spool-pub", "sp");
    let config = || PublisherConfig::new(mqtt_config.clone(), DEVICE).spool(spool.clone());

    // Run 1: 100 frames acknowledged, then the broker goes away and 200
    // more are accepted but cannot be delivered before the publisher stops.
    let first = support::publisher(config().epoch(1)).await;
    for seq in 0..100 {
        publish(&first, DEVICE, seq);
    }
    tokio::time::timeout(Duration::from_secs(10), first.flush())
        .await
        .expect("acknowledged");
    tokio::task::block_in_place(|| broker.stop());
    for seq in 100..300 {
        publish(&first, DEVICE, seq);
    }
    let left = first.clone().close(Duration::from_millis(200)).await;
    assert_eq!(left, 200);
    let s = first.stats().snapshot();
    assert_eq!(s.dropped, 0, "kept in the spool, not dropped: {s:?}");

    // Run 2, a new epoch: it sends run 1's 200 frames, then its own.
    tokio::task::block_in_place(|| broker.start_again());
    let second = support::publisher(config().epoch(2)).await;
    for seq in 0..50 {
        publish(&second, DEVICE, seq);
    }
    tokio::time::timeout(Duration::from_secs(10), second.flush())
        .await
        .expect("everything acknowledged");
    let items = receive_until(&mut consumer, Duration::from_secs(10), |items| {
        items.iter().filter(|i| i.is_ok()).count() >= 350
    })
    .await;
    let mut by_epoch = [BTreeSet::new(), BTreeSet::new(), BTreeSet::new()];
    for item in &items {
        match item {
            Ok(f) => {
                assert!(
                    by_epoch[f.epoch() as usize].insert(f.seq()),
                    "duplicate {f:?}"
                );
            }
            Err(e @ ReceiveError::FramesMissing { .. }) => panic!("{e}"),
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(
        by_epoch[1],
        (0..300).collect(),
        "run 1's frames, all of them"
    );
    assert_eq!(by_epoch[2], (0..50).collect());
    second.close(Duration::from_secs(2)).await;

    // Run 3 finds nothing left to send.
    let third = support::publisher(config().epoch(3)).await;
    assert_eq!(third.stats().snapshot().queue_depth, 0);
    third.close(Duration::from_secs(2)).await;
}
