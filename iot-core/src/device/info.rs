//! Descriptive device information: what a device is and how it is labelled.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::DeviceId;

/// Longest accepted label key, in bytes.
pub const MAX_LABEL_KEY_LEN: usize = 63;

/// Longest accepted label value, in bytes of UTF-8.
pub const MAX_LABEL_VALUE_LEN: usize = 255;

/// Why a label key or value was rejected, and which rule it broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LabelError {
    /// The key is the empty string.
    #[error("label key is empty")]
    EmptyKey,
    /// The key is longer than [`MAX_LABEL_KEY_LEN`] bytes.
    #[error("label key is {len} bytes long, the maximum is {max}")]
    KeyTooLong {
        /// Length of the rejected key in bytes.
        len: usize,
        /// The maximum length in bytes.
        max: usize,
    },
    /// The key contains a character that breaks a key rule.
    #[error("label key contains forbidden character {ch:?} at byte {index}: {reason}")]
    KeyForbiddenChar {
        /// The offending character.
        ch: char,
        /// Its byte offset in the key.
        index: usize,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// The value is longer than [`MAX_LABEL_VALUE_LEN`] bytes.
    #[error("label value is {len} bytes long, the maximum is {max}")]
    ValueTooLong {
        /// Length of the rejected value in bytes.
        len: usize,
        /// The maximum length in bytes.
        max: usize,
    },
    /// The value contains a character that breaks a value rule.
    #[error("label value contains forbidden character {ch:?} at byte {index}: {reason}")]
    ValueForbiddenChar {
        /// The offending character.
        ch: char,
        /// Its byte offset in the value.
        index: usize,
        /// Which rule it breaks.
        reason: &'static str,
    },
}

/// Checks a label key.
///
/// A key is 1 to [`MAX_LABEL_KEY_LEN`] bytes of ASCII letters, digits, `.`,
/// `_`, `-` and `/`, and starts and ends with a letter or digit. These are
/// the characters of Kubernetes label keys (so `site.example.com/zone`
/// works); they keep keys usable unquoted in selectors, metric labels and
/// URLs, and `=` and `,` stay free to delimit selectors.
pub fn validate_label_key(key: &str) -> Result<(), LabelError> {
    if key.is_empty() {
        return Err(LabelError::EmptyKey);
    }
    if key.len() > MAX_LABEL_KEY_LEN {
        return Err(LabelError::KeyTooLong {
            len: key.len(),
            max: MAX_LABEL_KEY_LEN,
        });
    }
    let last = key.len() - 1;
    for (index, ch) in key.char_indices() {
        let reason = if !(ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-' | '/')) {
            "only ASCII letters, digits, '.', '_', '-' and '/' are allowed"
        } else if (index == 0 || index == last) && !ch.is_ascii_alphanumeric() {
            "a key must start and end with an ASCII letter or digit"
        } else {
            continue;
        };
        return Err(LabelError::KeyForbiddenChar { ch, index, reason });
    }
    Ok(())
}

/// Checks a label value.
///
/// A value is at most [`MAX_LABEL_VALUE_LEN`] bytes (it may be empty), has no
/// control characters, no `,`, and no leading or trailing whitespace. The
/// last two rules let every value be written in a selector such as
/// `site=berlin, floor=3` and read back unchanged.
pub fn validate_label_value(value: &str) -> Result<(), LabelError> {
    if value.len() > MAX_LABEL_VALUE_LEN {
        return Err(LabelError::ValueTooLong {
            len: value.len(),
            max: MAX_LABEL_VALUE_LEN,
        });
    }
    let last = value.char_indices().next_back().map_or(0, |(i, _)| i);
    for (index, ch) in value.char_indices() {
        let reason = match ch {
            c if c.is_control() => "control characters are forbidden",
            ',' => "',' separates selector clauses",
            c if c.is_whitespace() && (index == 0 || index == last) => {
                "leading and trailing whitespace is forbidden"
            }
            _ => continue,
        };
        return Err(LabelError::ValueForbiddenChar { ch, index, reason });
    }
    Ok(())
}

/// What a device is: its id, kind, firmware and labels.
///
/// Labels are validated on insertion and on deserialization (see
/// [`validate_label_key`] and [`validate_label_value`]), so every
/// `DeviceInfo` holds only valid labels.
///
/// Serialized with the stable field names `id`, `kind`, `firmware_version`
/// (omitted when unknown) and `labels` (keys in sorted order). Unknown fields
/// are ignored and missing optional fields default, so older and newer
/// versions of this crate can read each other's data.
///
/// ```
/// use iot_core::device::{DeviceId, DeviceInfo};
///
/// let info = DeviceInfo::new(DeviceId::new("dev-1")?, "thermostat")
///     .with_firmware("2.4.1")
///     .with_label("site", "berlin")?;
/// assert_eq!(info.label("site"), Some("berlin"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    id: DeviceId,
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    firmware_version: Option<String>,
    #[serde(default, deserialize_with = "deserialize_labels")]
    labels: BTreeMap<String, String>,
}

impl DeviceInfo {
    /// Information about device `id` of the given kind (model or type, free
    /// text such as `"thermostat-v2"`), without firmware version or labels.
    pub fn new(id: DeviceId, kind: impl Into<String>) -> Self {
        Self {
            id,
            kind: kind.into(),
            firmware_version: None,
            labels: BTreeMap::new(),
        }
    }

    /// Sets the firmware version (free text, typically semver).
    pub fn with_firmware(mut self, version: impl Into<String>) -> Self {
        self.firmware_version = Some(version.into());
        self
    }

    /// Adds or replaces a label after validating it.
    pub fn with_label(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, LabelError> {
        self.insert_label(key, value)?;
        Ok(self)
    }

    /// Adds or replaces a label after validating it; returns the old value.
    pub fn insert_label(
        &mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Option<String>, LabelError> {
        let (key, value) = (key.into(), value.into());
        validate_label_key(&key)?;
        validate_label_value(&value)?;
        Ok(self.labels.insert(key, value))
    }

    /// Removes a label; returns its value if it was present.
    pub fn remove_label(&mut self, key: &str) -> Option<String> {
        self.labels.remove(key)
    }

    /// Sets or clears the firmware version.
    pub fn set_firmware(&mut self, version: Option<String>) {
        self.firmware_version = version;
    }

    /// The device id.
    pub fn id(&self) -> &DeviceId {
        &self.id
    }

    /// The device kind.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The firmware version, if known.
    pub fn firmware_version(&self) -> Option<&str> {
        self.firmware_version.as_deref()
    }

    /// The value of label `key`, if set.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    /// All labels, sorted by key.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }
}

/// Deserializes labels and applies the same rules as [`DeviceInfo::insert_label`],
/// so data from outside cannot smuggle in labels that selectors cannot match.
fn deserialize_labels<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let labels = BTreeMap::<String, String>::deserialize(d)?;
    for (key, value) in &labels {
        validate_label_key(key)
            .and_then(|()| validate_label_value(value))
            .map_err(|e| serde::de::Error::custom(format_args!("label {key:?}: {e}")))?;
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> DeviceInfo {
        DeviceInfo::new(DeviceId::new("dev-1").unwrap(), "thermostat")
    }

    #[test]
    fn accepts_typical_keys_and_values() {
        for key in ["a", "site", "app.kubernetes.io/name", "rack_2-b", "A1"] {
            assert_eq!(validate_label_key(key), Ok(()), "{key}");
        }
        for value in ["", "berlin", "Floor 3", "Zähler", "a=b"] {
            assert_eq!(validate_label_value(value), Ok(()), "{value}");
        }
    }

    #[test]
    fn rejects_keys_naming_the_rule() {
        assert_eq!(validate_label_key(""), Err(LabelError::EmptyKey));
        assert!(validate_label_key(&"k".repeat(MAX_LABEL_KEY_LEN)).is_ok());
        assert_eq!(
            validate_label_key(&"k".repeat(MAX_LABEL_KEY_LEN + 1)),
            Err(LabelError::KeyTooLong { len: 64, max: 63 })
        );
        for (key, ch, index) in [
            ("a=b", '=', 1),
            ("a b", ' ', 1),
            ("ä", 'ä', 0),
            ("-a", '-', 0),
            ("a.", '.', 1),
            ("/", '/', 0),
        ] {
            match validate_label_key(key) {
                Err(LabelError::KeyForbiddenChar {
                    ch: c, index: i, ..
                }) => {
                    assert_eq!((c, i), (ch, index), "{key:?}")
                }
                other => panic!("{key:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn rejects_values_naming_the_rule() {
        assert!(validate_label_value(&"v".repeat(MAX_LABEL_VALUE_LEN)).is_ok());
        assert_eq!(
            validate_label_value(&"v".repeat(MAX_LABEL_VALUE_LEN + 1)),
            Err(LabelError::ValueTooLong { len: 256, max: 255 })
        );
        for (value, ch, index) in [
            ("a,b", ',', 1),
            ("a\nb", '\n', 1),
            (" a", ' ', 0),
            ("a ", ' ', 1),
            (" ", ' ', 0),
        ] {
            match validate_label_value(value) {
                Err(LabelError::ValueForbiddenChar {
                    ch: c, index: i, ..
                }) => {
                    assert_eq!((c, i), (ch, index), "{value:?}")
                }
                other => panic!("{value:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn builder_sets_fields_and_validates_labels() {
        let info = info()
            .with_firmware("1.0.0")
            .with_label("site", "berlin")
            .unwrap();
        assert_eq!(info.kind(), "thermostat");
        assert_eq!(info.firmware_version(), Some("1.0.0"));
        assert_eq!(info.label("site"), Some("berlin"));
        assert_eq!(info.with_label("", "x").unwrap_err(), LabelError::EmptyKey);
    }

    #[test]
    fn serde_uses_stable_names_and_defaults_missing_fields() {
        let full = info()
            .with_firmware("1.0.0")
            .with_label("site", "berlin")
            .unwrap()
            .with_label("floor", "3")
            .unwrap();
        let json = r#"{"id":"dev-1","kind":"thermostat","firmware_version":"1.0.0","labels":{"floor":"3","site":"berlin"}}"#;
        assert_eq!(serde_json::to_string(&full).unwrap(), json);
        assert_eq!(serde_json::from_str::<DeviceInfo>(json).unwrap(), full);

        let minimal = r#"{"id":"dev-1","kind":"thermostat","labels":{}}"#;
        assert_eq!(serde_json::to_string(&info()).unwrap(), minimal);
        let newer = r#"{"id":"dev-1","kind":"thermostat","hw_rev":"B"}"#;
        assert_eq!(serde_json::from_str::<DeviceInfo>(newer).unwrap(), info());
    }

    #[test]
    fn deserialization_validates_id_and_labels() {
        for bad in [
            r#"{"id":"a/b","kind":"x"}"#,
            r#"{"id":"dev-1","kind":"x","labels":{"-bad":"v"}}"#,
            r#"{"id":"dev-1","kind":"x","labels":{"ok":"a,b"}}"#,
        ] {
            assert!(serde_json::from_str::<DeviceInfo>(bad).is_err(), "{bad}");
        }
    }
}
