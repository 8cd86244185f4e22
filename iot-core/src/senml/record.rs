//! The resolved SenML record model and its mapping into the codec's readings.

use alloc::borrow::Cow;
use core::fmt;

use crate::codec::{Channel, Reading, Value};

/// Times below this many seconds (2^28, 1978-07-04 21:24:16 UTC) are relative
/// to "now" (RFC 8428 §4.5.3); times at or above it are absolute Unix times.
pub const RELATIVE_TIME_LIMIT: f64 = 268_435_456.0;

/// The highest SenML version (`bver`) this implementation understands.
pub const SENML_VERSION: u64 = 10;

/// A SenML label (RFC 8428 Table 1): the fields this implementation knows.
///
/// Base labels (`b…`) apply to the record that carries them and to every
/// later record until replaced; the others apply to their record only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Label {
    /// `bver` (CBOR -1): the SenML version.
    BaseVersion,
    /// `bn` (CBOR -2): prepended to every name.
    BaseName,
    /// `bt` (CBOR -3): added to every time.
    BaseTime,
    /// `bu` (CBOR -4): the unit of records without `u`.
    BaseUnit,
    /// `bv` (CBOR -5): added to every numeric value.
    BaseValue,
    /// `bs` (CBOR -6): added to every sum.
    BaseSum,
    /// `n` (CBOR 0): the name, appended to the base name.
    Name,
    /// `u` (CBOR 1): the unit.
    Unit,
    /// `v` (CBOR 2): a numeric value.
    Value,
    /// `vs` (CBOR 3): a string value.
    StringValue,
    /// `vb` (CBOR 4): a boolean value.
    BoolValue,
    /// `s` (CBOR 5): the integrated sum of the value over time.
    Sum,
    /// `t` (CBOR 6): the time, added to the base time.
    Time,
    /// `ut` (CBOR 7): the longest time until the next update, in seconds.
    UpdateTime,
    /// `vd` (CBOR 8): a binary (data) value.
    DataValue,
}

impl Label {
    /// Every known label, in CBOR label order.
    pub const ALL: [Label; 15] = [
        Label::BaseSum,
        Label::BaseValue,
        Label::BaseUnit,
        Label::BaseTime,
        Label::BaseName,
        Label::BaseVersion,
        Label::Name,
        Label::Unit,
        Label::Value,
        Label::StringValue,
        Label::BoolValue,
        Label::Sum,
        Label::Time,
        Label::UpdateTime,
        Label::DataValue,
    ];

    /// The JSON label, e.g. `"bn"`.
    pub const fn json(self) -> &'static str {
        match self {
            Label::BaseVersion => "bver",
            Label::BaseName => "bn",
            Label::BaseTime => "bt",
            Label::BaseUnit => "bu",
            Label::BaseValue => "bv",
            Label::BaseSum => "bs",
            Label::Name => "n",
            Label::Unit => "u",
            Label::Value => "v",
            Label::StringValue => "vs",
            Label::BoolValue => "vb",
            Label::Sum => "s",
            Label::Time => "t",
            Label::UpdateTime => "ut",
            Label::DataValue => "vd",
        }
    }

    /// The CBOR integer label, e.g. `-2` for `bn`.
    pub const fn cbor(self) -> i8 {
        match self {
            Label::BaseVersion => -1,
            Label::BaseName => -2,
            Label::BaseTime => -3,
            Label::BaseUnit => -4,
            Label::BaseValue => -5,
            Label::BaseSum => -6,
            Label::Name => 0,
            Label::Unit => 1,
            Label::Value => 2,
            Label::StringValue => 3,
            Label::BoolValue => 4,
            Label::Sum => 5,
            Label::Time => 6,
            Label::UpdateTime => 7,
            Label::DataValue => 8,
        }
    }

    /// The label with JSON name `name` (compared byte for byte).
    pub fn from_json(name: &str) -> Option<Label> {
        Some(match name {
            "bver" => Label::BaseVersion,
            "bn" => Label::BaseName,
            "bt" => Label::BaseTime,
            "bu" => Label::BaseUnit,
            "bv" => Label::BaseValue,
            "bs" => Label::BaseSum,
            "n" => Label::Name,
            "u" => Label::Unit,
            "v" => Label::Value,
            "vs" => Label::StringValue,
            "vb" => Label::BoolValue,
            "s" => Label::Sum,
            "t" => Label::Time,
            "ut" => Label::UpdateTime,
            "vd" => Label::DataValue,
            _ => return None,
        })
    }

    /// The label with CBOR integer label `key`.
    pub fn from_cbor(key: i128) -> Option<Label> {
        let index = usize::try_from(key.checked_add(6)?).ok()?;
        Label::ALL.get(index).copied()
    }

    /// Whether this is a base field (`bver`, `bn`, `bt`, `bu`, `bv`, `bs`).
    pub const fn is_base(self) -> bool {
        self.cbor() < 0
    }

    /// Whether this is one of the value fields (`v`, `vs`, `vb`, `vd`), of
    /// which a record carries at most one.
    pub const fn is_value(self) -> bool {
        matches!(
            self,
            Label::Value | Label::StringValue | Label::BoolValue | Label::DataValue
        )
    }

    pub(crate) const fn bit(self) -> u16 {
        1 << (self.cbor() + 6) as u16
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.json())
    }
}

/// Why a string is not a valid SenML name (RFC 8428 §4.5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name (base name + name) is empty.
    #[error("the name is empty")]
    Empty,
    /// The first character is not `A-Z`, `a-z` or `0-9`.
    #[error("the name must start with A-Z, a-z or 0-9, not {ch:?}")]
    BadFirstChar {
        /// The offending character.
        ch: char,
    },
    /// A later character is not one of `A-Z a-z 0-9 - : . / _`.
    #[error("character {ch:?} at byte {index} is not one of A-Z a-z 0-9 - : . / _")]
    BadChar {
        /// The offending character.
        ch: char,
        /// Its byte offset in the name.
        index: usize,
    },
}

/// Checks a resolved name (base name + name) against RFC 8428 §4.5.1: it
/// must be non-empty, start with `A-Z`, `a-z` or `0-9`, and consist only of
/// those and `-`, `:`, `.`, `/`, `_`.
///
/// ```
/// use iot_core::senml::{validate_name, NameError};
/// assert!(validate_name("urn:dev:ow:10e2073a01080063:temp").is_ok());
/// assert_eq!(validate_name(""), Err(NameError::Empty));
/// assert!(matches!(validate_name("_x"), Err(NameError::BadFirstChar { ch: '_' })));
/// assert!(matches!(validate_name("a b"), Err(NameError::BadChar { ch: ' ', index: 1 })));
/// ```
pub fn validate_name(name: &str) -> Result<(), NameError> {
    let Some(&first) = name.as_bytes().first() else {
        return Err(NameError::Empty);
    };
    if !first.is_ascii_alphanumeric() {
        let ch = name.chars().next().unwrap_or('\u{fffd}');
        return Err(NameError::BadFirstChar { ch });
    }
    validate_name_chars(name, 0)
}

/// Checks that every character of `part` is allowed in a name; `offset` is
/// the byte offset of `part` in the full name, for the error.
pub(crate) fn validate_name_chars(part: &str, offset: usize) -> Result<(), NameError> {
    match part.bytes().position(|b| !is_name_byte(b)) {
        None => Ok(()),
        Some(index) => {
            let ch = part[index..].chars().next().unwrap_or('\u{fffd}');
            Err(NameError::BadChar {
                ch,
                index: offset + index,
            })
        }
    }
}

const fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b':' | b'.' | b'/' | b'_')
}

/// When a record's measurement was (or is to be) taken: base time plus time,
/// split by the RFC 8428 §4.5.3 rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SenmlTime {
    /// Seconds since the Unix epoch (the resolved time was at least
    /// [`RELATIVE_TIME_LIMIT`]).
    Absolute(f64),
    /// Seconds relative to "now", the time the pack was sent or received;
    /// negative is in the past. A record without `bt` and `t` is
    /// `Relative(0.0)`: taken roughly now.
    Relative(f64),
}

impl SenmlTime {
    /// Classifies a resolved time (base time + time) in seconds.
    ///
    /// ```
    /// use iot_core::senml::SenmlTime;
    /// assert_eq!(SenmlTime::from_secs(-5.0), SenmlTime::Relative(-5.0));
    /// assert_eq!(SenmlTime::from_secs(1.32e9), SenmlTime::Absolute(1.32e9));
    /// ```
    pub fn from_secs(secs: f64) -> SenmlTime {
        if secs >= RELATIVE_TIME_LIMIT {
            SenmlTime::Absolute(secs)
        } else {
            SenmlTime::Relative(secs)
        }
    }

    /// The resolved time as it appears in the pack, in seconds.
    pub const fn secs(self) -> f64 {
        match self {
            SenmlTime::Absolute(s) | SenmlTime::Relative(s) => s,
        }
    }

    /// Whether the time is relative to "now".
    pub const fn is_relative(self) -> bool {
        matches!(self, SenmlTime::Relative(_))
    }

    /// The absolute time in seconds since the Unix epoch, taking relative
    /// times relative to `now_secs` (the time the pack was sent or received,
    /// seconds since the epoch).
    ///
    /// ```
    /// use iot_core::senml::SenmlTime;
    /// assert_eq!(SenmlTime::Relative(-5.0).resolve(1_700_000_000.0), 1_699_999_995.0);
    /// assert_eq!(SenmlTime::Absolute(1.5e9).resolve(1_700_000_000.0), 1.5e9);
    /// ```
    pub fn resolve(self, now_secs: f64) -> f64 {
        match self {
            SenmlTime::Absolute(s) => s,
            SenmlTime::Relative(s) => now_secs + s,
        }
    }

    /// Milliseconds from `frame_timestamp_ms` (milliseconds since the epoch)
    /// to this time, rounded to the nearest millisecond; relative times are
    /// first resolved against `now_secs`. This is the
    /// [`Reading::time_offset_ms`] of the reading in a frame with that
    /// timestamp. `None` if the result is not finite or does not fit `i64`.
    ///
    /// ```
    /// use iot_core::senml::SenmlTime;
    /// let t = SenmlTime::Absolute(1_700_000_000.125);
    /// assert_eq!(t.offset_ms(1_700_000_000_000, 0.0), Some(125));
    /// ```
    pub fn offset_ms(self, frame_timestamp_ms: u64, now_secs: f64) -> Option<i64> {
        let ms = round_to_i128(self.resolve(now_secs) * 1000.0)?;
        i64::try_from(ms - i128::from(frame_timestamp_ms)).ok()
    }
}

/// Rounds half away from zero without `std` (`f64::round` is not in `core`).
fn round_to_i128(x: f64) -> Option<i128> {
    // 2^100 is far beyond any i64 offset and exact as f64.
    const LIMIT: f64 = 1_267_650_600_228_229_401_496_703_205_376.0;
    if x.is_nan() || x.abs() >= LIMIT {
        return None;
    }
    let truncated = x as i128;
    let frac = x - truncated as f64;
    Some(if frac >= 0.5 {
        truncated + 1
    } else if frac <= -0.5 {
        truncated - 1
    } else {
        truncated
    })
}

/// The value of a resolved record.
///
/// JSON numbers are always [`Float`](SenmlValue::Float) (SenML JSON numbers
/// are doubles); CBOR integers decode as [`UInt`](SenmlValue::UInt) (major
/// type 0) or [`Int`](SenmlValue::Int) (major type 1), exactly.
#[derive(Debug, Clone, PartialEq)]
pub enum SenmlValue<'a> {
    /// `v`: a floating-point number (after adding `bv`).
    Float(f64),
    /// `v`: a negative CBOR integer (after adding an integer `bv`).
    Int(i64),
    /// `v`: a non-negative CBOR integer (after adding an integer `bv`).
    UInt(u64),
    /// `vs`: a string; borrowed from the input unless it had JSON escapes.
    Str(Cow<'a, str>),
    /// `vb`: a boolean.
    Bool(bool),
    /// `vd`: binary data; borrowed in CBOR, decoded from base64url in JSON.
    Data(Cow<'a, [u8]>),
}

impl SenmlValue<'_> {
    /// The value in the codec's model (borrowing strings and bytes).
    pub fn as_value(&self) -> Value<'_> {
        match self {
            SenmlValue::Float(v) => Value::F64(*v),
            SenmlValue::Int(v) => Value::I64(*v),
            SenmlValue::UInt(v) => Value::U64(*v),
            SenmlValue::Str(s) => Value::Str(s),
            SenmlValue::Bool(b) => Value::Bool(*b),
            SenmlValue::Data(d) => Value::Bytes(d),
        }
    }

    /// The numeric value as `f64` (integers may round).
    pub fn as_f64(&self) -> Option<f64> {
        self.as_value().as_f64()
    }

    /// Copies borrowed strings and bytes so the value outlives the input.
    pub fn into_owned(self) -> SenmlValue<'static> {
        match self {
            SenmlValue::Float(v) => SenmlValue::Float(v),
            SenmlValue::Int(v) => SenmlValue::Int(v),
            SenmlValue::UInt(v) => SenmlValue::UInt(v),
            SenmlValue::Str(s) => SenmlValue::Str(Cow::Owned(s.into_owned())),
            SenmlValue::Bool(b) => SenmlValue::Bool(b),
            SenmlValue::Data(d) => SenmlValue::Data(Cow::Owned(d.into_owned())),
        }
    }
}

/// One resolved SenML record (RFC 8428 §4.6): base fields applied, the
/// name validated.
///
/// Strings and data borrow from the decoded input where the format allows;
/// see the [module documentation](crate::senml#zero-copy).
#[derive(Debug, Clone, PartialEq)]
pub struct Record<'a> {
    /// Base name + name; valid per RFC 8428 §4.5.1. Borrowed when only one
    /// of the two is present (and unescaped), owned when concatenated.
    pub name: Cow<'a, str>,
    /// `u`, or the base unit `bu` if the record has no `u`.
    pub unit: Option<Cow<'a, str>>,
    /// The value (`v` + `bv`, `vs`, `vb` or `vd`); `None` only when the
    /// record has a sum instead.
    pub value: Option<SenmlValue<'a>>,
    /// `bs` + `s`, if either is present.
    pub sum: Option<f64>,
    /// `bt` + `t`, absolute or relative to "now".
    pub time: SenmlTime,
    /// `ut`: the longest time until the next update, in seconds.
    pub update_time: Option<f64>,
}

impl<'a> Record<'a> {
    /// Splits the name at its first `/` into a device and a channel, the
    /// inverse of the encoders' `bn = "<device_id>/"` (device ids never
    /// contain `/`). `None` if the name has no `/`.
    ///
    /// ```
    /// # use iot_core::senml::{decode_json, Record};
    /// # use iot_core::codec::Limits;
    /// let pack = br#"[{"bn":"dev-1/","n":"temp/inner","v":1}]"#;
    /// let records = decode_json(pack, &Limits::default()).unwrap();
    /// assert_eq!(records[0].split_device(), Some(("dev-1", "temp/inner")));
    /// ```
    pub fn split_device(&self) -> Option<(&str, &str)> {
        self.name.split_once('/')
    }

    /// The channel part of the name: after the first `/`, or the whole name
    /// if it has none.
    pub fn channel(&self) -> &str {
        self.split_device()
            .map_or(&*self.name, |(_, channel)| channel)
    }

    /// The record as a codec reading: channel = the full resolved name,
    /// value, unit, no time offset. `None` for a sum-only record (the
    /// reading model has no sum).
    pub fn reading(&self) -> Option<Reading<'_>> {
        let value = self.value.as_ref()?.as_value();
        Some(Reading {
            channel: Channel::Name(&self.name),
            value,
            time_offset_ms: None,
            unit: self.unit.as_deref(),
        })
    }

    /// The inverse of [`encode_json`](crate::senml::encode_json) /
    /// [`encode_cbor`](crate::senml::encode_cbor) for one reading: channel =
    /// [`Record::channel`], time offset relative to `frame_timestamp_ms`
    /// (relative times resolved against `now_secs`; `None` when the offset
    /// is zero or cannot be computed). `None` for a sum-only record.
    pub fn to_frame_reading(&self, frame_timestamp_ms: u64, now_secs: f64) -> Option<Reading<'_>> {
        let mut reading = self.reading()?;
        reading.channel = Channel::Name(self.channel());
        reading.time_offset_ms = self
            .time
            .offset_ms(frame_timestamp_ms, now_secs)
            .filter(|&ms| ms != 0);
        Some(reading)
    }

    /// Copies borrowed strings and bytes so the record outlives the input.
    pub fn into_owned(self) -> Record<'static> {
        Record {
            name: Cow::Owned(self.name.into_owned()),
            unit: self.unit.map(|u| Cow::Owned(u.into_owned())),
            value: self.value.map(SenmlValue::into_owned),
            sum: self.sum,
            time: self.time,
            update_time: self.update_time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip() {
        for label in Label::ALL {
            assert_eq!(Label::from_json(label.json()), Some(label));
            assert_eq!(Label::from_cbor(i128::from(label.cbor())), Some(label));
            assert_eq!(label.is_base(), label.json().starts_with('b'));
        }
        assert_eq!(Label::from_cbor(-7), None);
        assert_eq!(Label::from_cbor(9), None);
        assert_eq!(Label::from_cbor(i128::MIN), None);
        assert_eq!(Label::from_json("V"), None);
    }

    #[test]
    fn rounding() {
        assert_eq!(round_to_i128(0.5), Some(1));
        assert_eq!(round_to_i128(-0.5), Some(-1));
        assert_eq!(round_to_i128(0.49), Some(0));
        assert_eq!(round_to_i128(-1.7), Some(-2));
        assert_eq!(round_to_i128(f64::NAN), None);
        assert_eq!(round_to_i128(f64::INFINITY), None);
    }

    #[test]
    fn offsets() {
        let t = SenmlTime::Relative(-1.5);
        assert_eq!(t.offset_ms(1_000_000, 1_000.0), Some(-1_500));
        assert_eq!(SenmlTime::Absolute(f64::MAX).offset_ms(0, 0.0), None);
    }
}
