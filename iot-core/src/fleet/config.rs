//! Fleet registry settings.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Settings for a [`FleetRegistry`](super::FleetRegistry).
///
/// Built like [`Limits`](crate::codec::Limits): start from
/// [`FleetConfig::DEFAULT`] and chain the setters. Serialized as
/// `{"offline_after":"1m","max_devices":10000,"subscriber_capacity":256}`,
/// the duration in [the iot-rs duration format](iot_duration) (an integer
/// is milliseconds); missing fields take their defaults and unknown fields
/// are rejected, so a misspelt setting in a configuration file fails loudly
/// instead of being ignored. Files written before that format, with
/// `"offline_after_ms": 60000`, still load.
///
/// ```
/// use std::time::Duration;
/// use iot_core::fleet::FleetConfig;
///
/// let config = FleetConfig::DEFAULT
///     .offline_after(Duration::from_secs(30))
///     .max_devices(500);
/// assert_eq!(config.subscriber_capacity, 256);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FleetConfig {
    /// How long an online or degraded device may stay silent before a sweep
    /// marks it offline. Silence of exactly this long is still tolerated.
    /// Serialized as `offline_after` in the duration format; the older
    /// name `offline_after_ms` (integer milliseconds) is read too.
    #[serde(alias = "offline_after_ms", with = "iot_duration::serde")]
    pub offline_after: Duration,
    /// Most devices the registry holds; registering more is an error. This
    /// bounds the registry's memory.
    pub max_devices: usize,
    /// Status changes buffered per subscriber before further changes are
    /// dropped (and counted) for that subscriber. Values below 1 act as 1.
    pub subscriber_capacity: usize,
}

impl FleetConfig {
    /// Devices go offline after 60 s of silence (two missed heartbeats at the
    /// common 30 s interval, tolerating one lost message), at most 10 000
    /// devices, 256 buffered changes per subscriber.
    pub const DEFAULT: FleetConfig = FleetConfig {
        offline_after: Duration::from_secs(60),
        max_devices: 10_000,
        subscriber_capacity: 256,
    };

    /// Sets [`FleetConfig::offline_after`].
    pub const fn offline_after(mut self, d: Duration) -> Self {
        self.offline_after = d;
        self
    }

    /// Sets [`FleetConfig::max_devices`].
    pub const fn max_devices(mut self, n: usize) -> Self {
        self.max_devices = n;
        self
    }

    /// Sets [`FleetConfig::subscriber_capacity`].
    pub const fn subscriber_capacity(mut self, n: usize) -> Self {
        self.subscriber_capacity = n;
        self
    }
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setters_chain_from_default() {
        let config = FleetConfig::default()
            .offline_after(Duration::from_millis(1500))
            .max_devices(3)
            .subscriber_capacity(8);
        assert_eq!(config.offline_after, Duration::from_millis(1500));
        assert_eq!((config.max_devices, config.subscriber_capacity), (3, 8));
    }

    #[test]
    fn serde_uses_the_duration_format_and_defaults_missing_fields() {
        let json = r#"{"offline_after":"1m","max_devices":10000,"subscriber_capacity":256}"#;
        assert_eq!(serde_json::to_string(&FleetConfig::DEFAULT).unwrap(), json);
        let partial: FleetConfig = serde_json::from_str(r#"{"offline_after":"1.5s"}"#).unwrap();
        assert_eq!(
            partial,
            FleetConfig::DEFAULT.offline_after(Duration::from_millis(1500))
        );
        let millis: FleetConfig = serde_json::from_str(r#"{"offline_after":1500}"#).unwrap();
        assert_eq!(millis, partial);
    }

    #[test]
    fn the_older_offline_after_ms_still_loads() {
        let old: FleetConfig = serde_json::from_str(
            r#"{"offline_after_ms":1500,"max_devices":10000,"subscriber_capacity":256}"#,
        )
        .unwrap();
        assert_eq!(old.offline_after, Duration::from_millis(1500));
        // Both names at once: one value too many.
        assert!(
            serde_json::from_str::<FleetConfig>(r#"{"offline_after_ms":1,"offline_after":"1s"}"#)
                .is_err()
        );
    }

    #[test]
    fn serde_rejects_misspelt_fields() {
        assert!(serde_json::from_str::<FleetConfig>(r#"{"offline_afer":"5s"}"#).is_err());
        assert!(serde_json::from_str::<FleetConfig>(r#"{"offline_after_s":5}"#).is_err());
    }
}
