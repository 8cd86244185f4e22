//! The configurations with durations, filled with arbitrary durations
//! (nanoseconds to `Duration::MAX`), survive JSON exactly: the iot-duration
//! format round-trips through each field (issue #16, "one duration
//! format").
#![cfg(feature = "std")]

use std::fmt::Debug;

use iot_core::fleet::FleetConfig;
use iot_testkit::duration::any_duration;
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
    let json = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
    assert_eq!(&back, value, "JSON {json}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn fleet_config_round_trips(d in any_duration()) {
        round_trip(&FleetConfig::DEFAULT.offline_after(d));
    }

    #[cfg(feature = "mqtt")]
    #[test]
    fn mqtt_configs_round_trip(d in proptest::array::uniform5(any_duration())) {
        use iot_core::mqtt::{ConsumerConfig, MqttConfig, PublisherConfig, ReadCoalescing};
        use iot_resilience::backoff::BackoffConfig;

        let mqtt = MqttConfig {
            keep_alive: d[0],
            connect_timeout: d[1],
            backoff: BackoffConfig::default().base(d[2]).cap(d[3]),
            ..MqttConfig::default()
        };
        round_trip(&mqtt);
        let coalesce = ReadCoalescing { window: d[4], ..ReadCoalescing::default() };
        round_trip(&coalesce);
        round_trip(&ConsumerConfig { coalesce, ..ConsumerConfig::new(mqtt.clone()) });
        #[allow(unused_mut)]
        let mut publisher = PublisherConfig::new(mqtt, "dev-1");
        #[cfg(feature = "spool")]
        {
            use iot_core::mqtt::spool::{FsyncPolicy, SpoolConfig};
            let spool = SpoolConfig { fsync: FsyncPolicy::Interval(d[4]), ..SpoolConfig::new("/var/spool/iot") };
            round_trip(&spool);
            publisher = publisher.spool(spool);
        }
        round_trip(&publisher);
    }
}

/// What users hit (issue #16): fractions and microseconds load, and what is
/// saved is what was loaded.
#[cfg(feature = "mqtt")]
#[test]
fn fractions_and_microseconds_load_and_save_exactly() {
    use std::time::Duration;

    use iot_core::mqtt::MqttConfig;

    let config: MqttConfig =
        serde_json::from_str(r#"{"keep_alive": "1.5s", "connect_timeout": 5000}"#).unwrap();
    assert_eq!(config.keep_alive, Duration::from_millis(1500));
    assert_eq!(config.connect_timeout, Duration::from_secs(5));
    let json = serde_json::to_value(&config).unwrap();
    assert_eq!(json["keep_alive"], "1s500ms");
    assert_eq!(json["connect_timeout"], "5s");
}
