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
