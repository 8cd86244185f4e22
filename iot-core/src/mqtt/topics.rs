//! The topic scheme: where frames, presence, alias tables and commands go.
//!
//! Every device owns one subtree under a configurable prefix:
//!
//! | topic | payload | retained | published by |
//! | --- | --- | --- | --- |
//! | `<prefix>/<device_id>/telemetry` | binary data frames ([`crate::codec`]) | no | the device's [`Publisher`](super::Publisher) |
//! | `<prefix>/<device_id>/status` | `online` or `offline` (UTF-8) | yes | the publisher after each connect; the broker (Last Will) when it vanishes |
//! | `<prefix>/<device_id>/birth` | a birth message (alias table) | yes | the publisher after each connect |
//! | `<prefix>/<device_id>/cmd` | application defined | no | gateways, towards the device |
//!
//! The prefix may span several levels (`acme/plant-1`); the four last levels
//! are configurable single levels. Device ids are valid MQTT topic levels by
//! construction ([`validate_device_id`]).
//!
//! ```
//! use iot_core::mqtt::{TopicKind, TopicScheme, shared_filter};
//!
//! let scheme = TopicScheme::new("acme/plant-1");
//! let topic = scheme.topic("pump-7", TopicKind::Telemetry)?;
//! assert_eq!(topic, "acme/plant-1/pump-7/telemetry");
//!
//! let parsed = scheme.parse(&topic)?;
//! assert_eq!((parsed.device_id, parsed.kind), ("pump-7", TopicKind::Telemetry));
//!
//! let all = scheme.filter(TopicKind::Telemetry, None)?;
//! assert_eq!(all, "acme/plant-1/+/telemetry");
//! assert_eq!(shared_filter("gateways", &all)?, "$share/gateways/acme/plant-1/+/telemetry");
//! # Ok::<(), iot_core::mqtt::TopicError>(())
//! ```

use crate::device::{DeviceIdError, validate_device_id};

use super::error::TopicError;

/// MQTT's limit on the length of a topic name or filter, in bytes.
pub const MAX_TOPIC_LEN: usize = 65_535;

/// What a topic carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum TopicKind {
    /// Binary data frames.
    Telemetry,
    /// Presence: retained `online` / `offline`.
    Status,
    /// Birth messages (alias tables), retained.
    Birth,
    /// Commands towards the device.
    Command,
}

impl TopicKind {
    /// All kinds, in the order of the scheme's table.
    pub const ALL: [TopicKind; 4] = [
        TopicKind::Telemetry,
        TopicKind::Status,
        TopicKind::Birth,
        TopicKind::Command,
    ];
}

/// A topic split into its device id and kind; borrows from the topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedTopic<'t> {
    /// The device id level (validated).
    pub device_id: &'t str,
    /// What the topic carries.
    pub kind: TopicKind,
}

/// A configurable topic scheme: `<prefix>/<device_id>/<kind level>`.
///
/// Build with [`TopicScheme::new`] and the `with_*` methods; a scheme that
/// came from a configuration file should be checked with
/// [`TopicScheme::validate`] (the publisher and consumer do so).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct TopicScheme {
    /// One or more topic levels before the device id. Default `iot`.
    pub prefix: String,
    /// Last level of telemetry topics. Default `telemetry`.
    pub telemetry: String,
    /// Last level of presence topics. Default `status`.
    pub status: String,
    /// Last level of birth (alias table) topics. Default `birth`.
    pub birth: String,
    /// Last level of command topics. Default `cmd`.
    pub command: String,
}

impl Default for TopicScheme {
    fn default() -> Self {
        Self::new("iot")
    }
}

impl TopicScheme {
    /// The default scheme under `prefix`.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            telemetry: "telemetry".into(),
            status: "status".into(),
            birth: "birth".into(),
            command: "cmd".into(),
        }
    }

    /// Sets the last level used for `kind`.
    pub fn with_level(mut self, kind: TopicKind, level: impl Into<String>) -> Self {
        *self.level_mut(kind) = level.into();
        self
    }

    /// The last level used for `kind`.
    pub fn level(&self, kind: TopicKind) -> &str {
        match kind {
            TopicKind::Telemetry => &self.telemetry,
            TopicKind::Status => &self.status,
            TopicKind::Birth => &self.birth,
            TopicKind::Command => &self.command,
        }
    }

    fn level_mut(&mut self, kind: TopicKind) -> &mut String {
        match kind {
            TopicKind::Telemetry => &mut self.telemetry,
            TopicKind::Status => &mut self.status,
            TopicKind::Birth => &mut self.birth,
            TopicKind::Command => &mut self.command,
        }
    }

    /// Checks the prefix and the four kind levels.
    ///
    /// The prefix is one or more non-empty levels without wildcards, NUL
    /// or a leading `$` (reserved for broker topics such as `$SYS` and
    /// `$share`). Each kind level is one such level, and the four differ.
    pub fn validate(&self) -> Result<(), TopicError> {
        if self.prefix.is_empty() {
            return Err(TopicError::invalid(
                "prefix",
                &self.prefix,
                "must not be empty",
            ));
        }
        if self.prefix.starts_with('$') {
            return Err(TopicError::invalid(
                "prefix",
                &self.prefix,
                "a leading '$' is reserved for broker topics",
            ));
        }
        for level in self.prefix.split('/') {
            check_level("prefix", &self.prefix, level)?;
        }
        for (i, kind) in TopicKind::ALL.iter().enumerate() {
            let level = self.level(*kind);
            if level.contains('/') {
                return Err(TopicError::invalid(
                    kind_field(*kind),
                    level,
                    "must be a single topic level (no '/')",
                ));
            }
            check_level(kind_field(*kind), level, level)?;
            if TopicKind::ALL[..i].iter().any(|k| self.level(*k) == level) {
                return Err(TopicError::invalid(
                    kind_field(*kind),
                    level,
                    "is used by another topic kind",
                ));
            }
        }
        Ok(())
    }

    /// The topic of `kind` for `device_id`, e.g. `iot/pump-7/telemetry`.
    pub fn topic(&self, device_id: &str, kind: TopicKind) -> Result<String, TopicError> {
        validate_device_id(device_id).map_err(|e| TopicError::device(device_id, e))?;
        let level = self.level(kind);
        let mut t = String::with_capacity(self.prefix.len() + device_id.len() + level.len() + 2);
        t.push_str(&self.prefix);
        t.push('/');
        t.push_str(device_id);
        t.push('/');
        t.push_str(level);
        check_len(&t)?;
        Ok(t)
    }

    /// Splits a topic of this scheme into device id and kind.
    ///
    /// Fails when the topic is outside the prefix, has the wrong number of
    /// levels, ends in an unknown kind level, or names an invalid device id.
    pub fn parse<'t>(&self, topic: &'t str) -> Result<ParsedTopic<'t>, TopicError> {
        let rest = topic
            .strip_prefix(self.prefix.as_str())
            .and_then(|r| r.strip_prefix('/'))
            .ok_or_else(|| TopicError::OutsidePrefix {
                topic: topic.into(),
                prefix: self.prefix.clone(),
            })?;
        let Some((device_id, level)) = rest.split_once('/') else {
            return Err(TopicError::WrongShape {
                topic: topic.into(),
            });
        };
        if level.contains('/') {
            return Err(TopicError::WrongShape {
                topic: topic.into(),
            });
        }
        let kind = TopicKind::ALL
            .into_iter()
            .find(|k| self.level(*k) == level)
            .ok_or_else(|| TopicError::UnknownKind {
                topic: topic.into(),
                level: level.into(),
            })?;
        validate_device_id(device_id).map_err(|e| TopicError::device(device_id, e))?;
        Ok(ParsedTopic { device_id, kind })
    }

    /// A subscription filter for `kind`: of one device, or of all devices
    /// (`<prefix>/+/<level>`) when `device_id` is `None`.
    pub fn filter(&self, kind: TopicKind, device_id: Option<&str>) -> Result<String, TopicError> {
        match device_id {
            Some(id) => self.topic(id, kind),
            None => {
                let f = format!("{}/+/{}", self.prefix, self.level(kind));
                check_len(&f)?;
                Ok(f)
            }
        }
    }
}

/// A shared-subscription filter, `$share/<group>/<filter>`: the broker
/// delivers each matching message to one subscriber of the group, so
/// several gateway replicas split the load.
///
/// The group is one non-empty level without wildcards or NUL; `filter` is
/// checked with [`validate_filter`].
pub fn shared_filter(group: &str, filter: &str) -> Result<String, TopicError> {
    if group.is_empty() {
        return Err(TopicError::invalid(
            "share group",
            group,
            "must not be empty",
        ));
    }
    if group.contains('/') {
        return Err(TopicError::invalid(
            "share group",
            group,
            "must be a single topic level (no '/')",
        ));
    }
    check_level("share group", group, group)?;
    validate_filter(filter)?;
    let f = format!("$share/{group}/{filter}");
    check_len(&f)?;
    Ok(f)
}

/// Checks an MQTT subscription filter: non-empty, no NUL, `+` only as a
/// whole level, `#` only as the whole last level.
pub fn validate_filter(filter: &str) -> Result<(), TopicError> {
    if filter.is_empty() {
        return Err(TopicError::invalid("filter", filter, "must not be empty"));
    }
    check_len(filter)?;
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.contains('\0') {
            return Err(TopicError::invalid(
                "filter",
                filter,
                "NUL is forbidden in MQTT topics",
            ));
        }
        if level.contains('+') && level != "+" {
            return Err(TopicError::invalid(
                "filter",
                filter,
                "'+' must occupy a whole level",
            ));
        }
        if level.contains('#') && (level != "#" || levels.peek().is_some()) {
            return Err(TopicError::invalid(
                "filter",
                filter,
                "'#' must be the whole last level",
            ));
        }
    }
    Ok(())
}

fn kind_field(kind: TopicKind) -> &'static str {
    match kind {
        TopicKind::Telemetry => "telemetry level",
        TopicKind::Status => "status level",
        TopicKind::Birth => "birth level",
        TopicKind::Command => "command level",
    }
}

fn check_level(what: &'static str, value: &str, level: &str) -> Result<(), TopicError> {
    let reason = if level.is_empty() {
        "has an empty topic level"
    } else if level.contains(['+', '#']) {
        "'+' and '#' are MQTT wildcards"
    } else if level.contains('\0') {
        "NUL is forbidden in MQTT topics"
    } else {
        return Ok(());
    };
    Err(TopicError::invalid(what, value, reason))
}

fn check_len(topic: &str) -> Result<(), TopicError> {
    if topic.len() > MAX_TOPIC_LEN {
        return Err(TopicError::TooLong {
            len: topic.len(),
            max: MAX_TOPIC_LEN,
        });
    }
    Ok(())
}

impl TopicError {
    fn invalid(what: &'static str, value: &str, reason: &'static str) -> Self {
        TopicError::Invalid {
            what,
            value: value.into(),
            reason,
        }
    }

    fn device(id: &str, source: DeviceIdError) -> Self {
        TopicError::InvalidDeviceId {
            id: id.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_parses_every_kind() {
        let s = TopicScheme::new("a/b");
        for kind in TopicKind::ALL {
            let t = s.topic("dev-1", kind).unwrap();
            assert_eq!(
                s.parse(&t).unwrap(),
                ParsedTopic {
                    device_id: "dev-1",
                    kind
                }
            );
        }
        assert_eq!(s.topic("d", TopicKind::Command).unwrap(), "a/b/d/cmd");
    }

    #[test]
    fn custom_levels() {
        let s = TopicScheme::new("x")
            .with_level(TopicKind::Telemetry, "t")
            .with_level(TopicKind::Birth, "nbirth");
        s.validate().unwrap();
        assert_eq!(s.topic("d", TopicKind::Telemetry).unwrap(), "x/d/t");
        assert_eq!(s.parse("x/d/nbirth").unwrap().kind, TopicKind::Birth);
        assert!(matches!(
            s.parse("x/d/birth"),
            Err(TopicError::UnknownKind { .. })
        ));
    }

    #[test]
    fn rejects_bad_schemes() {
        for prefix in ["", "$SYS", "a/+", "a//b", "/a", "a/", "a#", "a\0"] {
            assert!(
                TopicScheme::new(prefix).validate().is_err(),
                "{prefix:?} accepted"
            );
        }
        let dup = TopicScheme::new("p").with_level(TopicKind::Status, "telemetry");
        assert!(matches!(
            dup.validate(),
            Err(TopicError::Invalid {
                what: "status level",
                ..
            })
        ));
        let multi = TopicScheme::new("p").with_level(TopicKind::Birth, "a/b");
        assert!(multi.validate().is_err());
        TopicScheme::default().validate().unwrap();
    }

    #[test]
    fn parse_errors_are_typed() {
        let s = TopicScheme::new("iot");
        assert!(matches!(
            s.parse("other/d/telemetry"),
            Err(TopicError::OutsidePrefix { .. })
        ));
        assert!(matches!(
            s.parse("iotx/d/telemetry"),
            Err(TopicError::OutsidePrefix { .. })
        ));
        assert!(matches!(
            s.parse("iot/d"),
            Err(TopicError::WrongShape { .. })
        ));
        assert!(matches!(
            s.parse("iot/d/telemetry/extra"),
            Err(TopicError::WrongShape { .. })
        ));
        assert!(matches!(
            s.parse("iot/$d/telemetry"),
            Err(TopicError::InvalidDeviceId { .. })
        ));
        assert!(matches!(
            s.parse("iot//telemetry"),
            Err(TopicError::InvalidDeviceId {
                source: DeviceIdError::Empty,
                ..
            })
        ));
        assert!(matches!(
            s.topic("a b", TopicKind::Status),
            Err(TopicError::InvalidDeviceId { .. })
        ));
    }

    #[test]
    fn filters() {
        let s = TopicScheme::new("iot");
        assert_eq!(s.filter(TopicKind::Birth, None).unwrap(), "iot/+/birth");
        assert_eq!(
            s.filter(TopicKind::Telemetry, Some("d1")).unwrap(),
            "iot/d1/telemetry"
        );
        assert_eq!(
            shared_filter("g1", "iot/+/telemetry").unwrap(),
            "$share/g1/iot/+/telemetry"
        );
        for bad in ["", "a/b", "g+", "#"] {
            assert!(shared_filter(bad, "iot/#").is_err(), "{bad:?}");
        }
        for ok in ["#", "+", "a/+/b", "a/#", "+/+"] {
            validate_filter(ok).unwrap();
        }
        for bad in ["", "a+/b", "a/#/b", "a/b#", "a\0"] {
            assert!(validate_filter(bad).is_err(), "{bad:?}");
        }
    }
}
