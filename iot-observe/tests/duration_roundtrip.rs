//! The configurations with durations, filled with arbitrary durations
//! (nanoseconds to `Duration::MAX`), survive JSON exactly: the iot-duration
//! format round-trips through each field (issue #16, "one duration
//! format"). Before it, a `HealthConfig` timeout of 1,500 us saved as
//! `"1ms"`, and `"1500us"` did not load.

use std::time::Duration;

use iot_observe::health::HealthConfig;
use iot_testkit::duration::any_duration;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn health_config_round_trips(interval in any_duration(), timeout in any_duration()) {
        let config = HealthConfig::default().interval(interval).timeout(timeout);
        let json = serde_json::to_string(&config).unwrap();
        prop_assert_eq!(serde_json::from_str::<HealthConfig>(&json).unwrap(), config);
    }

    #[cfg(feature = "prometheus")]
    #[test]
    fn prometheus_config_round_trips(upkeep in any_duration()) {
        use iot_observe::prometheus::PrometheusConfig;
        let config = PrometheusConfig::default().upkeep_interval(upkeep);
        let json = serde_json::to_string(&config).unwrap();
        prop_assert_eq!(serde_json::from_str::<PrometheusConfig>(&json).unwrap(), config);
    }
}

#[test]
fn microseconds_and_fractions_load_and_save_exactly() {
    let config: HealthConfig =
        serde_json::from_str(r#"{"interval": "1.5s", "timeout": "1500us"}"#).unwrap();
    assert_eq!(config.interval, Duration::from_millis(1500));
    assert_eq!(config.timeout, Duration::from_micros(1500));
    let json = serde_json::to_value(&config).unwrap();
    assert_eq!(json["interval"], "1s500ms");
    assert_eq!(json["timeout"], "1ms500us");
    let legacy: HealthConfig = serde_json::from_str(r#"{"timeout": 2000}"#).unwrap();
    assert_eq!(legacy.timeout, Duration::from_secs(2));
    let err = serde_json::from_str::<HealthConfig>(r#"{"timeout": "1.5 sec"}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("at byte 4: \"sec\""), "{err}");
}
