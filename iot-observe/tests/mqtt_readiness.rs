//! The MQTT readiness adapter against a real Mosquitto that refuses the
//! client's password: the check fails at once (no grace period) and its
//! output names the reason; once the broker accepts the client, it passes.
//!
//! Without `mosquitto` the test prints SKIPPED and passes, except with
//! `CI=true`, where it fails.
#![cfg(feature = "mqtt")]

use std::time::Duration;

use iot_core::mqtt::{ConsumerConfig, MqttConfig, WaitError};
use iot_observe::health::{ConnectionStateCheck, HealthCheck, MqttConnection, Status};
use iot_testkit::mosquitto::{Broker, BrokerOptions, password_file, temp_dir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_password_fails_readiness_with_its_reason() {
    let dir = temp_dir("observe-mqtt");
    let passwd = dir.join("passwd");
    if password_file(&passwd, &[("gateway", "right")]).is_none() {
        return;
    }
    let Some(broker) = Broker::start(BrokerOptions {
        password_file: Some(passwd.clone()),
        ..BrokerOptions::default()
    }) else {
        return;
    };
    let mqtt = MqttConfig::new("127.0.0.1", broker.port())
        .client_id("observe-gw")
        .credentials("gateway", "wrong")
        .backoff(iot_core::mqtt::BackoffConfig::full_jitter(
            Duration::from_millis(20),
            Duration::from_millis(200),
        ));
    let consumer = iot_core::mqtt::Consumer::start(ConsumerConfig::new(mqtt)).unwrap();
    // A long grace period: a refusal must not wait for it.
    let check = ConnectionStateCheck::from_source(MqttConnection::new(consumer.state()))
        .grace_period(Duration::from_secs(3600));
    let refused = consumer.wait_connected(Duration::from_secs(5)).await;
    assert!(
        matches!(refused, Err(WaitError::Refused { .. })),
        "{refused:?}"
    );
    let result = check.check().await;
    assert_eq!(result.status, Status::Fail, "{result:?}");
    let output = result.output.unwrap_or_default();
    assert!(output.contains("refused: not_authorized"), "{output}");

    // Fix the password file and reload: the check passes.
    password_file(&passwd, &[("gateway", "wrong")]).unwrap();
    broker.reload();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !consumer.state().borrow().is_connected() {
        assert!(tokio::time::Instant::now() < deadline, "never reconnected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(check.check().await.status, Status::Pass);
    consumer.close(Duration::from_secs(1)).await;
}
