//! `AckMode::Manual` (acknowledge after commit) against a real Mosquitto:
//! PUBACKs leave in arrival order once handles are acknowledged in any
//! order, unacknowledged messages are bounded, a frame given back comes
//! again, and a frame held across a broker restart stays the
//! application's to acknowledge.
#![cfg(feature = "mqtt")]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use iot_core::mqtt::{AckHandle, AckMode, Consumer, ConsumerConfig, PublisherConfig, Received};

use support::mosquitto::{Broker, BrokerOptions};
use support::{check_frame, mqtt, publish, receive_until, wait_for};

/// Mosquitto lets 20 QoS 1 messages per client wait unacknowledged by
/// default; these tests need more.
fn broker(persistence: bool) -> Option<Broker> {
    Broker::start(BrokerOptions {
        persistence,
        extra: vec!["max_inflight_messages 1000".into()],
        ..BrokerOptions::default()
    })
}

fn manual(broker: &Broker, client_id: &str, prefix: &str) -> ConsumerConfig {
    ConsumerConfig::new(mqtt(broker, client_id, prefix)).ack(AckMode::Manual)
}

/// Publishes frames `seqs` of `device` and waits until the broker has them.
async fn publish_all(broker: &Broker, prefix: &str, device: &str, seqs: std::ops::Range<u64>) {
    let publisher = support::publisher(PublisherConfig::new(
        mqtt(broker, &format!("{device}-pub"), prefix),
        device,
    ))
    .await;
    for seq in seqs {
        publish(&publisher, device, seq);
    }
    tokio::time::timeout(Duration::from_secs(10), publisher.flush())
        .await
        .expect("flush");
    publisher.close(Duration::from_secs(2)).await;
}

/// Takes `n` frames with their handles.
async fn take(c: &mut Consumer, n: usize, device: &str) -> Vec<(u64, AckHandle)> {
    let items = receive_until(c, Duration::from_secs(10), |items| items.len() >= n).await;
    assert_eq!(items.len(), n, "received {} of {n}", items.len());
    items.into_iter().map(|item| handle(item, device)).collect()
}

fn handle(item: Received, device: &str) -> (u64, AckHandle) {
    let mut frame = item.expect("a frame");
    check_frame(&frame, device);
    let ack = frame.take_ack().expect("a QoS 1 frame carries its handle");
    assert!(frame.take_ack().is_none(), "the handle is taken once");
    (frame.seq(), ack)
}

fn seqs(items: &[Received]) -> BTreeSet<u64> {
    items
        .iter()
        .map(|i| i.as_ref().expect("a frame").seq())
        .collect()
}

/// Handles acknowledged out of order: the broker forgets exactly the
/// frames whose handles were acknowledged (every frame before them too),
/// and redelivers the rest to the session after a crash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_order_acks_release_exactly_the_acknowledged_prefix() {
    let Some(broker) = broker(false) else {
        return;
    };
    const DEVICE: &str = "dev-order";
    let mut first = support::consumer(manual(&broker, "order-consumer", "o")).await;
    publish_all(&broker, "o", DEVICE, 0..200).await;
    let mut handles = take(&mut first, 200, DEVICE).await;
    assert_eq!(first.stats().snapshot().unacked, 200);
    // Frames 100..200 stay held; 0..100 are acknowledged newest first, so
    // no PUBACK can leave before the last one.
    let held = handles.split_off(100);
    for (seq, ack) in handles.into_iter().rev() {
        if seq > 0 {
            assert_eq!(first.stats().snapshot().unacked, 200, "PUBACK before seq 0");
        }
        ack.ack();
    }
    wait_for("100 PUBACKs", Duration::from_secs(5), || {
        first.stats().snapshot().unacked == 100
    })
    .await;
    // Time for rumqttc to write them, then the process "dies".
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(first);
    std::mem::forget(held); // a crash resolves nothing

    let mut second = support::consumer(manual(&broker, "order-consumer", "o")).await;
    let again = receive_until(&mut second, Duration::from_secs(10), |items| {
        items.len() >= 100
    })
    .await;
    let extra = receive_until(&mut second, Duration::from_millis(500), |_| false).await;
    assert!(extra.is_empty(), "more than the held frames came again");
    assert_eq!(seqs(&again), (100..200).collect::<BTreeSet<u64>>());
}

/// At `max_unacked` the consumer stops reading; acknowledging lets it go
/// on, and every frame arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_frames_are_bounded() {
    let Some(broker) = broker(false) else {
        return;
    };
    const DEVICE: &str = "dev-bound";
    let mut consumer =
        support::consumer(manual(&broker, "bound-consumer", "b").max_unacked(16)).await;
    publish_all(&broker, "b", DEVICE, 0..100).await;
    let first = take(&mut consumer, 16, DEVICE).await;
    let more = receive_until(&mut consumer, Duration::from_millis(500), |_| false).await;
    assert!(more.is_empty(), "{} frames beyond max_unacked", more.len());
    assert_eq!(consumer.stats().snapshot().unacked, 16);
    let mut seen: BTreeSet<u64> = first.iter().map(|(s, _)| *s).collect();
    for (_, ack) in first {
        ack.ack();
    }
    while seen.len() < 100 {
        let item = tokio::time::timeout(Duration::from_secs(10), consumer.recv())
            .await
            .expect("the consumer reads on once acknowledged")
            .expect("open");
        let (seq, ack) = handle(item, DEVICE);
        assert!(seen.insert(seq), "seq {seq} twice");
        ack.ack();
        assert!(consumer.stats().snapshot().unacked <= 16);
    }
    wait_for("all acknowledged", Duration::from_secs(5), || {
        consumer.stats().snapshot().unacked == 0
    })
    .await;
    consumer.close(Duration::from_secs(2)).await;
}

/// A handle given back (`nack`, or dropped) makes the broker redeliver the
/// frame, and the consumer delivers it again instead of suppressing it;
/// the frames acknowledged after it come again too but are suppressed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_given_back_comes_again() {
    let Some(broker) = broker(false) else {
        return;
    };
    const DEVICE: &str = "dev-nack";
    let mut consumer = support::consumer(manual(&broker, "nack-consumer", "n")).await;
    publish_all(&broker, "n", DEVICE, 0..10).await;
    for (seq, ack) in take(&mut consumer, 10, DEVICE).await {
        match seq {
            3 => ack.nack(),
            7 => drop(ack),
            _ => ack.ack(),
        }
    }
    let again = receive_until(&mut consumer, Duration::from_secs(10), |items| {
        items.len() >= 2
    })
    .await;
    assert_eq!(seqs(&again), BTreeSet::from([3, 7]));
    for item in again {
        let (_, ack) = handle(item, DEVICE);
        ack.ack();
    }
    let extra = receive_until(&mut consumer, Duration::from_millis(500), |_| false).await;
    assert!(extra.is_empty(), "{extra:?}");
    let s = consumer.stats().snapshot();
    assert_eq!((s.returned, s.received, s.missing), (2, 12, 0), "{s:?}");
    // Frames 4..10 but 7 came again behind 3 and were suppressed.
    assert!(s.duplicates >= 5, "{s:?}");
    wait_for("all acknowledged", Duration::from_secs(5), || {
        consumer.stats().snapshot().unacked == 0
    })
    .await;
    consumer.close(Duration::from_secs(2)).await;
    // The broker kept nothing for the session.
    let mut next = support::consumer(manual(&broker, "nack-consumer", "n")).await;
    let left = receive_until(&mut next, Duration::from_millis(500), |_| false).await;
    assert!(left.is_empty(), "{left:?}");
}

/// Frames held while the broker restarts come again on the new connection
/// and are linked to the handles the application still holds, not
/// acknowledged as duplicates: when the application then gives them back
/// (its commit failed), the broker still has them and they come again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_held_across_a_broker_restart_stay_unacknowledged() {
    let Some(mut broker) = broker(true) else {
        return;
    };
    const DEVICE: &str = "dev-held";
    let mut consumer = support::consumer(manual(&broker, "held-consumer", "h")).await;
    publish_all(&broker, "h", DEVICE, 0..20).await;
    let held = take(&mut consumer, 20, DEVICE).await;
    // SIGTERM: Mosquitto saves the session with its 20 in-flight messages.
    tokio::task::block_in_place(|| broker.restart());
    wait_for("redelivered and linked", Duration::from_secs(10), || {
        let s = consumer.stats().snapshot();
        s.subscribed >= 2 && s.unacked == 20
    })
    .await;
    let s = consumer.stats().snapshot();
    assert_eq!((s.received, s.duplicates), (20, 0), "{s:?}");
    // The commit failed: every frame goes back.
    drop(held);
    let again = receive_until(&mut consumer, Duration::from_secs(10), |items| {
        items.len() >= 20
    })
    .await;
    assert_eq!(seqs(&again), (0..20).collect::<BTreeSet<u64>>());
    for item in again {
        handle(item, DEVICE).1.ack();
    }
    wait_for("all acknowledged", Duration::from_secs(5), || {
        consumer.stats().snapshot().unacked == 0
    })
    .await;
    assert_eq!(consumer.stats().snapshot().returned, 20);
    consumer.close(Duration::from_secs(2)).await;
}

/// A broker flooding the consumer while the application acknowledges each
/// frame at once: the window stays within `max_unacked` and every frame
/// arrives. (PUBACKs queued in rumqttc's request channel fell behind the
/// reads, and the window grew without bound.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_stays_bounded_under_a_flood() {
    let Some(broker) = broker(false) else {
        return;
    };
    const DEVICE: &str = "dev-flood";
    const N: u64 = 5000;
    let mut consumer =
        support::consumer(manual(&broker, "flood-consumer", "f").max_unacked(64)).await;
    publish_all(&broker, "f", DEVICE, 0..N).await;
    let mut seen = BTreeSet::new();
    let mut most = 0;
    while (seen.len() as u64) < N {
        let item = tokio::time::timeout(Duration::from_secs(10), consumer.recv())
            .await
            .expect("frames keep coming")
            .expect("open");
        let (seq, ack) = handle(item, DEVICE);
        seen.insert(seq);
        ack.ack();
        most = most.max(consumer.stats().snapshot().unacked);
    }
    assert!(most <= 64, "{most} unacknowledged, over max_unacked");
    consumer.close(Duration::from_secs(2)).await;
}
