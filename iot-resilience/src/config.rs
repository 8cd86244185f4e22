//! Configuration plumbing shared by every layer: validation errors and the
//! human-friendly duration format used by serde.

use std::borrow::Cow;

/// A configuration value is out of its valid range or inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {field}: {message}")]
pub struct ConfigError {
    /// The field, as a path (e.g. `circuit_breaker.failure_rate_threshold`).
    pub field: Cow<'static, str>,
    /// What is wrong with it, with the offending value.
    pub message: String,
}

impl ConfigError {
    /// An error for `field`.
    pub fn new(field: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The check every `update` of a running layer makes on `name`: it labels
/// metrics registered when the layer was made, so it cannot change.
pub(crate) fn check_name_unchanged(layer: &str, old: &str, new: &str) -> Result<(), ConfigError> {
    if old == new {
        Ok(())
    } else {
        Err(ConfigError::new(
            format!("{layer}.name"),
            format!(
                "cannot change from {old:?} to {new:?} at run time (it labels the metrics registered when the layer was made)"
            ),
        ))
    }
}

/// A configuration that can check itself: implemented by every
/// configuration struct of this crate, and used by [`Validated`].
pub trait Validate {
    /// Checks every field; the error names the offending one.
    fn validate(&self) -> Result<(), ConfigError>;
}

/// A configuration that passed [`validate`](Validate::validate): the
/// preferred input of the layers, whose `from_validated` constructors (and
/// `From<Validated<_>>` implementations) cannot fail.
///
/// Made by the configurations' `build()` methods, by [`Validated::new`],
/// or (with the `serde` feature) by deserializing, which validates, so a
/// bad file is rejected where it is read rather than where a layer is
/// built. Read access only ([`Deref`](std::ops::Deref)): a validated
/// configuration cannot be changed into an invalid one; take it apart with
/// [`into_inner`](Self::into_inner) to edit it, then build it again.
///
/// ```
/// use std::time::Duration;
/// use iot_resilience::timeout::{TimeoutConfig, TimeoutLayer};
///
/// let config = TimeoutConfig::default().timeout(Duration::from_secs(2)).build()?;
/// let layer = TimeoutLayer::from(config); // cannot fail
/// assert_eq!(layer.timeout(), Duration::from_secs(2));
///
/// let invalid = TimeoutConfig::default().timeout(Duration::ZERO).build().unwrap_err();
/// assert_eq!(invalid.field, "timeout.timeout");
/// # Ok::<(), iot_resilience::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Validated<C>(C);

impl<C: Validate> Validated<C> {
    /// Validates `config`.
    pub fn new(config: C) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self(config))
    }
}

impl<C> Validated<C> {
    /// Wraps a configuration known to be valid (part of a validated one).
    pub(crate) fn assume_valid(config: C) -> Self {
        Self(config)
    }

    /// The configuration, to edit (and validate again) or serialize.
    pub fn into_inner(self) -> C {
        self.0
    }

    /// The configuration.
    pub fn get(&self) -> &C {
        &self.0
    }
}

impl<C> std::ops::Deref for Validated<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.0
    }
}

impl<C> AsRef<C> for Validated<C> {
    fn as_ref(&self) -> &C {
        &self.0
    }
}

#[cfg(feature = "serde")]
impl<C: serde::Serialize> serde::Serialize for Validated<C> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// Deserializes the configuration, then validates it: an invalid value is
/// a deserialization error naming the field.
#[cfg(feature = "serde")]
impl<'de, C: serde::Deserialize<'de> + Validate> serde::Deserialize<'de> for Validated<C> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let config = C::deserialize(d)?;
        Validated::new(config).map_err(serde::de::Error::custom)
    }
}

/// `impl Validate` and `build()` for configuration structs with an
/// inherent `validate`.
macro_rules! validated_config {
    ($($config:ty),* $(,)?) => {$(
        impl $crate::config::Validate for $config {
            fn validate(&self) -> Result<(), $crate::ConfigError> {
                <$config>::validate(self)
            }
        }

        impl $config {
            /// Validates the configuration once: the
            /// [`Validated`](crate::Validated) result is what the
            /// infallible constructors (`from_validated`, `From`) take.
            pub fn build(self) -> Result<$crate::Validated<Self>, $crate::ConfigError> {
                $crate::Validated::new(self)
            }
        }
    )*};
}
pub(crate) use validated_config;

/// Serde for `Duration` as `"250ms"`, `"5s"`, `"2m"`, `"1h"` or integer
/// milliseconds. Use with `#[serde(with = "crate::config::duration")]`.
#[cfg(feature = "serde")]
pub mod duration {
    use serde::{Deserialize, Deserializer, Serializer, de};
    use std::time::Duration;

    /// Writes the shortest exact form (`"1500ms"`, `"2s"`, `"3m"`).
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    /// Reads a string with unit, or an integer number of milliseconds.
    ///
    /// A visitor rather than an untagged enum: an untagged enum's error is
    /// "data did not match any variant", without the value, whereas a
    /// visitor's error names the offending value, and formats that track
    /// the field (TOML, `serde_path_to_error`) add where it is.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(DurationVisitor)
    }

    struct DurationVisitor;

    impl de::Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(
                "a duration: a string like \"250ms\" or \"5s\", or a non-negative integer number of milliseconds",
            )
        }

        fn visit_u64<E: de::Error>(self, ms: u64) -> Result<Duration, E> {
            Ok(Duration::from_millis(ms))
        }

        fn visit_i64<E: de::Error>(self, ms: i64) -> Result<Duration, E> {
            u64::try_from(ms)
                .map(Duration::from_millis)
                .map_err(|_| E::invalid_value(de::Unexpected::Signed(ms), &self))
        }

        fn visit_f64<E: de::Error>(self, ms: f64) -> Result<Duration, E> {
            Err(E::invalid_value(de::Unexpected::Float(ms), &self))
        }

        fn visit_str<E: de::Error>(self, s: &str) -> Result<Duration, E> {
            parse(s).map_err(E::custom)
        }
    }

    /// Formats a duration in the largest unit that represents it exactly.
    pub fn format(d: Duration) -> String {
        let nanos = d.as_nanos();
        for (unit, per) in [
            ("h", 3_600_000_000_000u128),
            ("m", 60_000_000_000),
            ("s", 1_000_000_000),
            ("ms", 1_000_000),
            ("us", 1_000),
        ] {
            if nanos != 0 && nanos % per == 0 {
                return format!("{}{unit}", nanos / per);
            }
        }
        format!("{nanos}ns")
    }

    /// Parses `"<integer><unit>"` with unit `ns`, `us`, `ms`, `s`, `m` or `h`.
    pub fn parse(s: &str) -> Result<Duration, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("{s:?} is not a duration like \"250ms\" or \"5s\""))?;
        let per_nanos: u64 = match unit.trim() {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            other => {
                return Err(format!(
                    "unknown duration unit {other:?} in {s:?} (use ns, us, ms, s, m or h)"
                ));
            }
        };
        n.checked_mul(per_nanos)
            .map(Duration::from_nanos)
            .ok_or_else(|| format!("duration {s:?} is too large"))
    }

    /// Same, for `Option<Duration>`.
    pub mod option {
        use super::*;

        /// Writes `None` as null.
        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        /// Reads null as `None`.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            #[derive(Deserialize)]
            struct Wrap(#[serde(with = "super")] Duration);
            Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn round_trips_and_rejects() {
            for (text, d) in [
                ("250ms", Duration::from_millis(250)),
                ("5s", Duration::from_secs(5)),
                ("2m", Duration::from_secs(120)),
                ("1h", Duration::from_secs(3600)),
                ("1500us", Duration::from_micros(1500)),
            ] {
                assert_eq!(parse(text), Ok(d));
                assert_eq!(parse(&format(d)), Ok(d));
            }
            assert_eq!(format(Duration::from_millis(1500)), "1500ms");
            assert!(
                parse("5 parsecs")
                    .unwrap_err()
                    .contains("unknown duration unit")
            );
            assert!(parse("ms").is_err());
            assert!(parse("99999999999999999999h").is_err());
        }
    }
}
