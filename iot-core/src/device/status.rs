//! Device status: the four liveness states and a serializable status record.

use core::{fmt, str::FromStr};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// Where a device stands, as far as the gateway knows.
///
/// The serialized names (`"online"`, `"offline"`, `"degraded"`,
/// `"maintenance"`) are part of the stable wire format; [`fmt::Display`] and
/// [`FromStr`] use the same names, case-sensitively.
///
/// ```
/// use iot_core::device::DeviceStatus;
/// assert_eq!(DeviceStatus::Maintenance.to_string(), "maintenance");
/// assert_eq!("degraded".parse(), Ok(DeviceStatus::Degraded));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeviceStatus {
    /// Heard from recently and not known to be impaired.
    Online,
    /// Silent for too long, never heard from, or reported gone (e.g. by an
    /// MQTT last-will message).
    Offline,
    /// Alive but impaired (low battery, failing sensor, ...).
    Degraded,
    /// Taken out of service on purpose; silence is expected.
    Maintenance,
}

impl DeviceStatus {
    /// Every status, in declaration order.
    pub const ALL: [DeviceStatus; 4] = [
        DeviceStatus::Online,
        DeviceStatus::Offline,
        DeviceStatus::Degraded,
        DeviceStatus::Maintenance,
    ];

    /// The stable name used by serde, [`fmt::Display`] and [`FromStr`].
    pub const fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Online => "online",
            DeviceStatus::Offline => "offline",
            DeviceStatus::Degraded => "degraded",
            DeviceStatus::Maintenance => "maintenance",
        }
    }
}

impl fmt::Display for DeviceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no [`DeviceStatus`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown device status {input:?}, expected one of online, offline, degraded, maintenance")]
pub struct ParseStatusError {
    input: String,
}

impl ParseStatusError {
    /// The rejected input.
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl FromStr for DeviceStatus {
    type Err = ParseStatusError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeviceStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| ParseStatusError { input: s.into() })
    }
}

/// A device's status with wall-clock times, for APIs, logs and storage.
///
/// Times are serialized as Unix milliseconds (`u64`) in fields named
/// `last_seen_ms` and `since_ms`, so sub-millisecond precision does not
/// survive a round trip. `last_seen_ms` is omitted while the device has never
/// been heard from. Serializing a time before the Unix epoch is an error.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use iot_core::device::{DeviceStatus, StatusRecord};
///
/// let since = UNIX_EPOCH + Duration::from_millis(1_700_000_000_000);
/// let record = StatusRecord::new(DeviceStatus::Online, since).with_last_seen(since);
/// assert_eq!(
///     serde_json::to_string(&record).unwrap(),
///     r#"{"status":"online","last_seen_ms":1700000000000,"since_ms":1700000000000}"#
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StatusRecord {
    /// The current status.
    pub status: DeviceStatus,
    /// When the device was last heard from, if ever.
    #[serde(
        rename = "last_seen_ms",
        with = "unix_ms::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_seen: Option<SystemTime>,
    /// When the device entered `status`.
    #[serde(rename = "since_ms", with = "unix_ms")]
    pub since: SystemTime,
}

impl StatusRecord {
    /// A record for a device that has been in `status` since `since` and has
    /// never been heard from.
    pub const fn new(status: DeviceStatus, since: SystemTime) -> Self {
        Self {
            status,
            last_seen: None,
            since,
        }
    }

    /// Sets [`StatusRecord::last_seen`].
    pub const fn with_last_seen(mut self, last_seen: SystemTime) -> Self {
        self.last_seen = Some(last_seen);
        self
    }
}

/// `SystemTime` as Unix milliseconds; private because the format is a detail
/// of [`StatusRecord`].
mod unix_ms {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde::{Deserialize, Deserializer, Serializer, de, ser};

    pub(super) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let since_epoch = t
            .duration_since(UNIX_EPOCH)
            .map_err(|_| ser::Error::custom("time is before the Unix epoch"))?;
        let ms = u64::try_from(since_epoch.as_millis())
            .map_err(|_| ser::Error::custom("time is too far in the future"))?;
        s.serialize_u64(ms)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let ms = u64::deserialize(d)?;
        UNIX_EPOCH
            .checked_add(Duration::from_millis(ms))
            .ok_or_else(|| de::Error::custom("time is out of range for this platform"))
    }

    pub(super) mod option {
        use std::time::SystemTime;

        use serde::{Deserialize, Deserializer, Serializer};

        pub(crate) fn serialize<S: Serializer>(
            t: &Option<SystemTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<SystemTime>, D::Error> {
            #[derive(Deserialize)]
            struct Ms(#[serde(with = "super")] SystemTime);
            Ok(Option::<Ms>::deserialize(d)?.map(|Ms(t)| t))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn names_are_stable_in_serde_display_and_from_str() {
        let expected = ["online", "offline", "degraded", "maintenance"];
        for (status, name) in DeviceStatus::ALL.into_iter().zip(expected) {
            let json = format!("\"{name}\"");
            assert_eq!(serde_json::to_string(&status).unwrap(), json);
            assert_eq!(serde_json::from_str::<DeviceStatus>(&json).unwrap(), status);
            assert_eq!(status.to_string(), name);
            assert_eq!(name.parse::<DeviceStatus>(), Ok(status));
        }
    }

    #[test]
    fn parsing_is_case_sensitive_and_reports_input() {
        let err = "Online".parse::<DeviceStatus>().unwrap_err();
        assert_eq!(err.input(), "Online");
        assert!(err.to_string().contains("\"Online\""));
        assert!(serde_json::from_str::<DeviceStatus>("\"ONLINE\"").is_err());
    }

    #[test]
    fn record_round_trips_with_exact_json() {
        let record = StatusRecord::new(DeviceStatus::Degraded, at(1_700_000_000_123))
            .with_last_seen(at(1_700_000_000_100));
        let json = r#"{"status":"degraded","last_seen_ms":1700000000100,"since_ms":1700000000123}"#;
        assert_eq!(serde_json::to_string(&record).unwrap(), json);
        assert_eq!(serde_json::from_str::<StatusRecord>(json).unwrap(), record);
    }

    #[test]
    fn never_seen_omits_last_seen_and_tolerates_null_and_extra_fields() {
        let record = StatusRecord::new(DeviceStatus::Offline, at(5));
        let json = r#"{"status":"offline","since_ms":5}"#;
        assert_eq!(serde_json::to_string(&record).unwrap(), json);
        for input in [
            json,
            r#"{"status":"offline","last_seen_ms":null,"since_ms":5}"#,
            r#"{"status":"offline","since_ms":5,"added_later":true}"#,
        ] {
            assert_eq!(serde_json::from_str::<StatusRecord>(input).unwrap(), record);
        }
    }

    #[test]
    fn sub_millisecond_precision_is_truncated() {
        let record = StatusRecord::new(DeviceStatus::Online, at(7) + Duration::from_micros(999));
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(json, r#"{"status":"online","since_ms":7}"#);
    }

    #[test]
    fn times_before_the_epoch_do_not_serialize() {
        let record = StatusRecord::new(DeviceStatus::Online, UNIX_EPOCH - Duration::from_secs(1));
        assert!(serde_json::to_string(&record).is_err());
    }
}
