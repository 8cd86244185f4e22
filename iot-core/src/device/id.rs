//! Device identifiers that are safe to use as one MQTT topic level.

/// Longest accepted device id, in bytes of UTF-8.
///
/// Long enough for UUIDs, MAC-derived and vendor-prefixed ids; short enough
/// that a topic `<prefix>/<id>/telemetry` stays small on constrained links.
pub const MAX_DEVICE_ID_LEN: usize = 128;

/// Why a string is not a valid device id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceIdError {
    /// The id is the empty string.
    #[error("device id is empty")]
    Empty,
    /// The id is longer than [`MAX_DEVICE_ID_LEN`] bytes.
    #[error("device id is {len} bytes long, the maximum is {max}")]
    TooLong {
        /// Length of the rejected id in bytes.
        len: usize,
        /// The maximum length in bytes.
        max: usize,
    },
    /// The id contains a character that is not allowed in one MQTT topic level.
    #[error("device id contains forbidden character {ch:?} at byte {index}: {reason}")]
    ForbiddenChar {
        /// The offending character.
        ch: char,
        /// Its byte offset in the id.
        index: usize,
        /// Which rule it breaks.
        reason: &'static str,
    },
}

/// Checks `id` against the device-id rules.
///
/// An id is valid when it is non-empty, at most [`MAX_DEVICE_ID_LEN`] bytes,
/// and contains none of: the MQTT level separator `/`, the wildcards `+` and
/// `#`, NUL, control characters, or whitespace (which MQTT allows but which
/// breaks shells, logs and URLs). A leading `$` is also rejected because
/// brokers reserve `$`-topics (`$SYS`, `$share`).
///
/// ```
/// use iot_core::device::{validate_device_id, DeviceIdError};
/// assert!(validate_device_id("dev-4f2a9c01").is_ok());
/// assert!(matches!(
///     validate_device_id("a/b"),
///     Err(DeviceIdError::ForbiddenChar { ch: '/', index: 1, .. })
/// ));
/// ```
pub fn validate_device_id(id: &str) -> Result<(), DeviceIdError> {
    if id.is_empty() {
        return Err(DeviceIdError::Empty);
    }
    if id.len() > MAX_DEVICE_ID_LEN {
        return Err(DeviceIdError::TooLong {
            len: id.len(),
            max: MAX_DEVICE_ID_LEN,
        });
    }
    // Fast path: the common ids are short ASCII [A-Za-z0-9._:-]; one table
    // lookup per byte keeps this off the codec's profile.
    let bytes = id.as_bytes();
    // Branch-free over the common case; find the position only on failure.
    if bytes
        .iter()
        .fold(true, |ok, &b| ok & PLAIN_ID_BYTES[usize::from(b)])
    {
        return Ok(());
    }
    match bytes.iter().position(|&b| !PLAIN_ID_BYTES[usize::from(b)]) {
        None => Ok(()),
        // Something other than plain ASCII: check every char from there on.
        Some(index) => {
            for (i, ch) in id[index..].char_indices() {
                check_char(ch, index + i)?;
            }
            Ok(())
        }
    }
}

/// ASCII bytes that are always valid in an id: `A-Z a-z 0-9 - _ . :`.
pub(crate) const PLAIN_ID_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b':');
        b += 1;
    }
    t
};

fn check_char(ch: char, index: usize) -> Result<(), DeviceIdError> {
    let reason = match ch {
        '/' => "'/' separates MQTT topic levels",
        '+' | '#' => "'+' and '#' are MQTT wildcards",
        '\0' => "NUL is forbidden in MQTT topics",
        '$' if index == 0 => "a leading '$' is reserved for broker topics",
        c if c.is_control() => "control characters are forbidden",
        c if c.is_whitespace() => "whitespace is forbidden",
        _ => return Ok(()),
    };
    Err(DeviceIdError::ForbiddenChar { ch, index, reason })
}

#[cfg(feature = "alloc")]
pub use owned::DeviceId;

#[cfg(feature = "alloc")]
mod owned {
    use super::{DeviceIdError, validate_device_id};
    use alloc::string::String;
    use core::{fmt, str::FromStr};

    /// A validated device identifier (see [`validate_device_id`] for the rules).
    ///
    /// Serializes as a plain string; deserializing validates.
    #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
    #[cfg_attr(feature = "serde", derive(serde::Serialize))]
    #[cfg_attr(feature = "serde", serde(transparent))]
    pub struct DeviceId(String);

    impl DeviceId {
        /// Validates `id` and wraps it.
        pub fn new(id: impl Into<String>) -> Result<Self, DeviceIdError> {
            let id = id.into();
            validate_device_id(&id)?;
            Ok(Self(id))
        }

        /// The id as a string slice.
        pub fn as_str(&self) -> &str {
            &self.0
        }

        /// Unwraps the inner string.
        pub fn into_string(self) -> String {
            self.0
        }
    }

    impl FromStr for DeviceId {
        type Err = DeviceIdError;
        fn from_str(s: &str) -> Result<Self, Self::Err> {
            Self::new(s)
        }
    }

    impl TryFrom<&str> for DeviceId {
        type Error = DeviceIdError;
        fn try_from(s: &str) -> Result<Self, Self::Error> {
            Self::new(s)
        }
    }

    impl TryFrom<String> for DeviceId {
        type Error = DeviceIdError;
        fn try_from(s: String) -> Result<Self, Self::Error> {
            Self::new(s)
        }
    }

    impl AsRef<str> for DeviceId {
        fn as_ref(&self) -> &str {
            &self.0
        }
    }

    impl core::borrow::Borrow<str> for DeviceId {
        fn borrow(&self) -> &str {
            &self.0
        }
    }

    impl fmt::Display for DeviceId {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl fmt::Debug for DeviceId {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "DeviceId({:?})", self.0)
        }
    }

    #[cfg(feature = "serde")]
    impl<'de> serde::Deserialize<'de> for DeviceId {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let s = String::deserialize(d)?;
            DeviceId::new(s).map_err(serde::de::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_typical_ids() {
        for id in ["dev-4f2a9c01", "a", "sensor.01:temp", "Zähler-7", "x$"] {
            assert_eq!(validate_device_id(id), Ok(()), "{id}");
        }
    }

    #[test]
    fn rejects_each_rule_with_position() {
        assert_eq!(validate_device_id(""), Err(DeviceIdError::Empty));
        let long = "a".repeat(MAX_DEVICE_ID_LEN + 1);
        assert_eq!(
            validate_device_id(&long),
            Err(DeviceIdError::TooLong { len: 129, max: 128 })
        );
        for (id, ch, index) in [
            ("a/b", '/', 1),
            ("ab+", '+', 2),
            ("#", '#', 0),
            ("a\0", '\0', 1),
            ("a\nb", '\n', 1),
            ("a b", ' ', 1),
            ("$SYS", '$', 0),
            ("Zä\u{7f}", '\u{7f}', 3),
            ("é\u{2003}", '\u{2003}', 2),
            // A permitted non-plain character must not end the scan.
            ("a@b/c", '/', 3),
            ("a@b#", '#', 3),
            ("x=y+z", '+', 3),
            ("a@b c", ' ', 3),
            ("ä/", '/', 2),
        ] {
            match validate_device_id(id) {
                Err(DeviceIdError::ForbiddenChar {
                    ch: c, index: i, ..
                }) => {
                    assert_eq!((c, i), (ch, index), "{id:?}")
                }
                other => panic!("{id:?}: {other:?}"),
            }
        }
    }

    /// The rules, written as plainly as possible.
    fn reference(id: &str) -> bool {
        !id.is_empty()
            && id.len() <= MAX_DEVICE_ID_LEN
            && !id.starts_with('$')
            && id.chars().all(|c| {
                !matches!(c, '/' | '+' | '#' | '\0') && !c.is_control() && !c.is_whitespace()
            })
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_the_plain_rules(id in "[a-z0-9@=$/+# \\-]{0,12}|.{0,20}|[a-z]{120,130}") {
            proptest::prop_assert_eq!(validate_device_id(&id).is_ok(), reference(&id), "{:?}", id);
        }
    }

    #[test]
    fn max_length_is_inclusive() {
        assert!(validate_device_id(&"a".repeat(MAX_DEVICE_ID_LEN)).is_ok());
    }
}
