//! Serde for `Duration` in the [format of this crate](crate): use
//! `#[serde(with = "iot_duration::serde")]` on a `Duration` field and
//! `#[serde(with = "iot_duration::serde::option")]` on an
//! `Option<Duration>` field.
//!
//! Writes the canonical string (`"1s500ms"`); reads such a string, or a
//! bare non-negative integer as **milliseconds** (`1500`), what the iot-rs
//! configuration files held before this format. A float, a negative number
//! or a malformed string is an error naming the value (and, for a string,
//! the offending part and its byte offset).
//!
//! Reading needs a self-describing format (JSON, TOML, YAML: it asks the
//! deserializer what the value is).
//!
//! ```
//! use std::time::Duration;
//!
//! #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
//! struct Config {
//!     #[serde(with = "iot_duration::serde")]
//!     timeout: Duration,
//!     #[serde(with = "iot_duration::serde::option", default)]
//!     deadline: Option<Duration>,
//! }
//!
//! let config: Config = serde_json::from_str(r#"{"timeout": "1.5s"}"#)?;
//! assert_eq!(config, Config { timeout: Duration::from_millis(1500), deadline: None });
//! assert_eq!(
//!     serde_json::to_string(&config)?,
//!     r#"{"timeout":"1s500ms","deadline":null}"#
//! );
//! let legacy: Config = serde_json::from_str(r#"{"timeout": 250}"#)?;
//! assert_eq!(legacy.timeout, Duration::from_millis(250));
//!
//! let err = serde_json::from_str::<Config>(r#"{"timeout": "1.5 sec"}"#).unwrap_err();
//! assert!(err.to_string().starts_with(
//!     r#"invalid duration "1.5 sec": unknown unit (use ns, us, ms, s, m, h or d) at byte 4: "sec""#
//! ));
//! # Ok::<(), serde_json::Error>(())
//! ```

use core::fmt;
use core::time::Duration;

use ::serde::{Deserializer, Serializer, de};

/// Writes the canonical string of [`format`](crate::format).
pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(crate::format(*duration).as_str())
}

/// Reads a string in the format of this crate, or an integer number of
/// milliseconds.
///
/// A visitor rather than an untagged enum: an untagged enum's error is
/// "data did not match any variant", without the value, whereas a
/// visitor's error names it, and formats that track the field (TOML,
/// `serde_path_to_error`) add where it is.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    deserializer.deserialize_any(DurationVisitor)
}

struct DurationVisitor;

impl de::Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a duration: a string like \"250ms\", \"1.5s\" or \"1m30s\", \
             or a non-negative integer number of milliseconds",
        )
    }

    fn visit_u64<E: de::Error>(self, millis: u64) -> Result<Duration, E> {
        Ok(Duration::from_millis(millis))
    }

    fn visit_i64<E: de::Error>(self, millis: i64) -> Result<Duration, E> {
        u64::try_from(millis)
            .map(Duration::from_millis)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(millis), &self))
    }

    fn visit_u128<E: de::Error>(self, millis: u128) -> Result<Duration, E> {
        u64::try_from(millis)
            .map(Duration::from_millis)
            .map_err(|_| {
                E::invalid_value(de::Unexpected::Other("an integer above u64::MAX"), &self)
            })
    }

    fn visit_i128<E: de::Error>(self, millis: i128) -> Result<Duration, E> {
        u64::try_from(millis)
            .map(Duration::from_millis)
            .map_err(|_| E::invalid_value(de::Unexpected::Other("an integer out of range"), &self))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Duration, E> {
        Err(E::invalid_value(de::Unexpected::Float(value), &self))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
        crate::parse(text).map_err(|err| {
            if text.len() <= crate::MAX_INPUT_LEN {
                E::custom(format_args!("invalid duration {text:?}: {err}"))
            } else {
                E::custom(format_args!("invalid duration: {err}"))
            }
        })
    }
}

/// The same for `Option<Duration>`: `None` is written as null (a unit),
/// and null reads as `None`.
pub mod option {
    use core::fmt;
    use core::time::Duration;

    use ::serde::{Deserializer, Serializer, de};

    /// Writes `Some` as [`serialize`](super::serialize) does, `None` as null.
    pub fn serialize<S: Serializer>(
        duration: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match duration {
            Some(duration) => super::serialize(duration, serializer),
            None => serializer.serialize_none(),
        }
    }

    /// Reads null as `None`, anything else as [`deserialize`](super::deserialize).
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        deserializer.deserialize_option(OptionVisitor)
    }

    struct OptionVisitor;

    impl<'de> de::Visitor<'de> for OptionVisitor {
        type Value = Option<Duration>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("null or a duration")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            super::deserialize(d).map(Some)
        }
    }
}
