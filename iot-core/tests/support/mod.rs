//! Helpers shared by the integration tests.
#![allow(dead_code)]

#[allow(unused_imports)] // each test binary uses a part
pub use iot_testkit::{mosquitto, pki, wss};

#[cfg(feature = "metrics")]
pub mod metrics;

use std::time::{Duration, Instant};

use iot_core::codec::{Channel, FrameHeader, Reading, Value};
use iot_core::mqtt::{
    BackoffConfig, Consumer, ConsumerConfig, MqttConfig, Publisher, PublisherConfig, Received,
    TopicScheme,
};

use mosquitto::Broker;

/// A connection configuration for `broker` with fast reconnects, so tests
/// spend little time in backoff.
pub fn mqtt(broker: &Broker, client_id: &str, prefix: &str) -> MqttConfig {
    MqttConfig::new("127.0.0.1", broker.port())
        .client_id(client_id)
        .topics(TopicScheme::new(prefix))
        .backoff(BackoffConfig::full_jitter(
            Duration::from_millis(20),
            Duration::from_millis(300),
        ))
        .keep_alive(Duration::from_secs(5))
}

/// Polls `cond` every 10 ms until it holds; panics after `timeout`.
pub async fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Starts a consumer and waits until its subscription is confirmed.
pub async fn consumer(config: ConsumerConfig) -> Consumer {
    let c = Consumer::start(config).expect("consumer config");
    wait_for("consumer subscription", Duration::from_secs(10), || {
        c.stats().snapshot().subscribed >= 1
    })
    .await;
    c
}

/// Starts a publisher and waits until it is connected.
pub async fn publisher(config: PublisherConfig) -> Publisher {
    let p = Publisher::start(config).expect("publisher config");
    wait_for("publisher connection", Duration::from_secs(10), || {
        p.state().borrow().is_connected()
    })
    .await;
    p
}

/// The readings of test frame `seq`.
pub fn readings(seq: u64) -> [Reading<'static>; 2] {
    [
        Reading::new(Channel::Alias(0), Value::F64(seq as f64 * 0.5)),
        Reading::new(Channel::Name("seq"), Value::U64(seq)),
    ]
}

/// Publishes test frame `seq` of `device` (timestamp grows with seq).
pub fn publish(p: &Publisher, device: &str, seq: u64) {
    let header = FrameHeader::new(device, seq, 1_700_000_000_000 + seq);
    p.publish(&header, &readings(seq)).expect("publish");
}

/// Spawns a producer that `send`s test frames `0..n` of `device`, waiting
/// for room in the queue (so it finishes only once all were accepted).
pub fn spawn_sender(p: &Publisher, device: &'static str, n: u64) -> tokio::task::JoinHandle<()> {
    let p = p.clone();
    tokio::spawn(async move {
        for seq in 0..n {
            let header = FrameHeader::new(device, seq, 1_700_000_000_000 + seq);
            p.send(&header, &readings(seq)).await.expect("send");
        }
    })
}

/// Receives until `done` says so or `timeout` passes; returns the items.
pub async fn receive_until(
    c: &mut Consumer,
    timeout: Duration,
    mut done: impl FnMut(&[Received]) -> bool,
) -> Vec<Received> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut items = Vec::new();
    while !done(&items) {
        match tokio::time::timeout_at(deadline, c.recv()).await {
            Ok(Some(item)) => items.push(item),
            Ok(None) | Err(_) => break,
        }
    }
    items
}

/// Checks a received frame's content against what `publish` sent.
pub fn check_frame(frame: &iot_core::mqtt::ReceivedFrame, device: &str) {
    let view = frame.view();
    assert_eq!(view.device_id(), device);
    assert_eq!(frame.device_id(), device);
    assert_eq!(view.seq(), frame.seq());
    let got: Vec<Reading<'_>> = view.readings().collect();
    assert_eq!(got, readings(frame.seq()));
}
