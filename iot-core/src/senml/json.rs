//! SenML JSON (`application/senml+json`): decoding with `serde_json`,
//! encoding by hand.

use alloc::borrow::{Cow, ToOwned};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::encode::{EncodedReading, Frame, ValueRef};
use super::error::{Position, SenmlEncodeError, SenmlError, SenmlErrorKind};
use super::record::{Label, Record};
use super::resolve::{Num, RawRecord, Resolver, check_time, check_version};
use crate::codec::{AliasResolver, FrameHeader, Limits, Reading};

/// base64url (RFC 4648 §5). Encodes without padding as RFC 8428 requires;
/// decodes with or without padding (drafts of SenML and some producers pad).
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes a SenML JSON pack into resolved records.
///
/// Strings without JSON escapes (names when only one of `bn`/`n` is
/// present, units, `vs`) borrow from `input`; escaped strings, concatenated
/// names and `vd` data (base64url) are owned. Every JSON number is a
/// [`SenmlValue::Float`](super::SenmlValue::Float).
///
/// Enforces `limits` (input length, record count, string and data lengths,
/// nesting) before allocating; see the [module docs](super) for the rules.
///
/// ```
/// use iot_core::codec::Limits;
/// use iot_core::senml::{decode_json, SenmlTime, SenmlValue};
///
/// let pack = br#"[{"bn":"urn:dev:ow:10e2073a01080063:","n":"voltage","u":"V","v":120.1},
///                 {"n":"current","u":"A","v":1.2}]"#;
/// let records = decode_json(pack, &Limits::default())?;
/// assert_eq!(records[1].name, "urn:dev:ow:10e2073a01080063:current");
/// assert_eq!(records[1].value, Some(SenmlValue::Float(1.2)));
/// assert_eq!(records[1].time, SenmlTime::Relative(0.0)); // "now"
/// # Ok::<(), iot_core::senml::SenmlError>(())
/// ```
pub fn decode_json<'a>(input: &'a [u8], limits: &Limits) -> Result<Vec<Record<'a>>, SenmlError> {
    if input.len() > limits.max_frame_len {
        return Err(whole_input(SenmlErrorKind::InputTooLarge {
            len: input.len(),
            max: limits.max_frame_len,
        }));
    }
    if limits.max_nesting == 0 {
        return Err(whole_input(SenmlErrorKind::TooDeep { max: 0 }));
    }
    let mut ctx = Ctx {
        limits,
        error: None,
        record: None,
        label: None,
        resolver: Resolver::default(),
        out: Vec::new(),
    };
    let mut de = serde_json::Deserializer::from_slice(input);
    let result = PackSeed { ctx: &mut ctx }
        .deserialize(&mut de)
        .and_then(|()| de.end());
    match result {
        Ok(()) => Ok(ctx.out),
        Err(e) => Err(ctx.into_error(&e, input)),
    }
}

/// The 0-based byte offset of `serde_json`'s 1-based `line` and byte
/// `column` in `input` (clamped to the input's length).
fn byte_offset(input: &[u8], line: usize, column: usize) -> usize {
    let line_start = if line <= 1 {
        0
    } else {
        input
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'\n')
            .nth(line - 2)
            .map_or(input.len(), |(i, _)| i + 1)
    };
    (line_start + column.saturating_sub(1)).min(input.len())
}

fn whole_input(kind: SenmlErrorKind) -> SenmlError {
    SenmlError::new(kind, Position::Input, None, None)
}

struct Ctx<'de, 'l> {
    limits: &'l Limits,
    /// The typed error behind the last `serde_json` custom error, if any.
    error: Option<SenmlErrorKind>,
    record: Option<usize>,
    label: Option<Label>,
    resolver: Resolver<'de>,
    out: Vec<Record<'de>>,
}

impl Ctx<'_, '_> {
    /// Stores `kind` and returns the `serde_json` error that carries it out
    /// (`serde_json` adds the line and column on the way).
    fn fail<E: de::Error>(&mut self, kind: SenmlErrorKind) -> E {
        self.error = Some(kind);
        E::custom("senml")
    }

    fn into_error(self, e: &serde_json::Error, input: &[u8]) -> SenmlError {
        let kind = match self.error {
            Some(kind) => kind,
            None => match e.classify() {
                serde_json::error::Category::Eof => SenmlErrorKind::UnexpectedEnd,
                serde_json::error::Category::Data => SenmlErrorKind::WrongType {
                    expected: if self.record.is_some() {
                        "a JSON object (record)"
                    } else {
                        "a JSON array (pack)"
                    },
                },
                _ => {
                    let mut message = e.to_string();
                    if let Some(at) = message.rfind(" at line ") {
                        message.truncate(at);
                    }
                    if message == "recursion limit exceeded" {
                        SenmlErrorKind::TooDeep {
                            max: self.limits.max_nesting,
                        }
                    } else {
                        SenmlErrorKind::Syntax { message }
                    }
                }
            },
        };
        SenmlError::new(
            kind,
            Position::Json {
                line: e.line(),
                column: e.column(),
                offset: byte_offset(input, e.line(), e.column()),
            },
            self.record,
            self.label,
        )
    }
}

struct PackSeed<'c, 'de, 'l> {
    ctx: &'c mut Ctx<'de, 'l>,
}

impl<'de> DeserializeSeed<'de> for PackSeed<'_, 'de, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PackSeed<'_, 'de, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a SenML pack (array of records)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while seq
            .next_element_seed(RecordSeed {
                ctx: &mut *self.ctx,
                index,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }
}

struct RecordSeed<'c, 'de, 'l> {
    ctx: &'c mut Ctx<'de, 'l>,
    index: usize,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_, 'de, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let max = self.ctx.limits.max_readings;
        if self.index >= max {
            return Err(self
                .ctx
                .fail(SenmlErrorKind::TooManyRecords { count: None, max }));
        }
        self.ctx.record = Some(self.index);
        self.ctx.label = None;
        if self.ctx.limits.max_nesting < 2 {
            let max = self.ctx.limits.max_nesting;
            return Err(self.ctx.fail(SenmlErrorKind::TooDeep { max }));
        }
        d.deserialize_map(RecordVisitor {
            ctx: &mut *self.ctx,
        })?;
        self.ctx.record = None;
        Ok(())
    }
}

struct RecordVisitor<'c, 'de, 'l> {
    ctx: &'c mut Ctx<'de, 'l>,
}

impl<'de> Visitor<'de> for RecordVisitor<'_, 'de, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a SenML record (object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ctx = self.ctx;
        let mut raw = RawRecord::default();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let Some(label) = Label::from_json(&key) else {
                if key.ends_with('_') {
                    let label = key.into_owned();
                    return Err(ctx.fail(SenmlErrorKind::UnknownMandatoryLabel { label }));
                }
                let levels = ctx.limits.max_nesting.saturating_sub(2);
                map.next_value_seed(SkipSeed {
                    ctx: &mut *ctx,
                    levels,
                })?;
                continue;
            };
            ctx.label = Some(label);
            if let Err(kind) = raw.begin(label) {
                return Err(ctx.fail(kind));
            }
            let scalar = map.next_value_seed(ScalarSeed {
                ctx: &mut *ctx,
                label,
            })?;
            if let Err(kind) = set_field(&mut raw, label, scalar) {
                return Err(ctx.fail(kind));
            }
            ctx.label = None;
        }
        match ctx.resolver.resolve(raw) {
            Ok(Some(record)) => ctx.out.push(record),
            Ok(None) => {}
            Err(kind) => return Err(ctx.fail(kind)),
        }
        Ok(())
    }
}

/// Reads an object key, borrowing it unless it has escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a label")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// A JSON scalar, before it is checked against its label's type.
enum Scalar<'de> {
    Str(Cow<'de, str>),
    U64(u64),
    I64(i64),
    F64(f64),
    Bool(bool),
    Null,
}

impl Scalar<'_> {
    fn number(&self) -> Option<f64> {
        match *self {
            Scalar::U64(v) => Some(v as f64),
            Scalar::I64(v) => Some(v as f64),
            Scalar::F64(v) => Some(v),
            _ => None,
        }
    }
}

/// Reads the value of a known label: any scalar; arrays and objects are a
/// type error. Strings are length-checked before they are copied.
struct ScalarSeed<'c, 'de, 'l> {
    ctx: &'c mut Ctx<'de, 'l>,
    label: Label,
}

impl<'de> DeserializeSeed<'de> for ScalarSeed<'_, 'de, '_> {
    type Value = Scalar<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl ScalarSeed<'_, '_, '_> {
    fn check_len<E: de::Error>(&mut self, s: &str) -> Result<(), E> {
        let limits = self.ctx.limits;
        let (len, max) = if self.label == Label::DataValue {
            // Unpadded base64 of n bytes has ceil(4n/3) characters.
            let symbols = s.trim_end_matches('=').len();
            (symbols.saturating_mul(3) / 4, limits.max_bytes_len)
        } else {
            (s.len(), limits.max_str_len)
        };
        if len > max {
            let len = len as u64;
            return Err(self.ctx.fail(SenmlErrorKind::TooLong { len, max }));
        }
        Ok(())
    }
}

impl<'de> Visitor<'de> for ScalarSeed<'_, 'de, '_> {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(expected_json(self.label))
    }

    fn visit_borrowed_str<E: de::Error>(mut self, v: &'de str) -> Result<Self::Value, E> {
        self.check_len(v)?;
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<Self::Value, E> {
        self.check_len(v)?;
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(mut self, v: String) -> Result<Self::Value, E> {
        self.check_len(&v)?;
        Ok(Scalar::Str(Cow::Owned(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::U64(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::I64(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar::F64(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<Self::Value, A::Error> {
        let expected = expected_json(self.label);
        Err(self.ctx.fail(SenmlErrorKind::WrongType { expected }))
    }

    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<Self::Value, A::Error> {
        let expected = expected_json(self.label);
        Err(self.ctx.fail(SenmlErrorKind::WrongType { expected }))
    }
}

fn expected_json(label: Label) -> &'static str {
    match label {
        Label::BaseVersion => "a positive integer",
        Label::BaseName | Label::BaseUnit | Label::Name | Label::Unit | Label::StringValue => {
            "a string"
        }
        Label::BoolValue => "a boolean",
        Label::DataValue => "a base64url string",
        Label::BaseTime
        | Label::BaseValue
        | Label::BaseSum
        | Label::Value
        | Label::Sum
        | Label::Time
        | Label::UpdateTime => "a number",
    }
}

/// Stores a scalar in its field after checking its type.
fn set_field<'de>(
    raw: &mut RawRecord<'de>,
    label: Label,
    scalar: Scalar<'de>,
) -> Result<(), SenmlErrorKind> {
    let wrong = || SenmlErrorKind::WrongType {
        expected: expected_json(label),
    };
    match label {
        Label::BaseVersion => match scalar {
            Scalar::U64(v) => raw.bver = Some(check_version(v)?),
            _ => return Err(wrong()),
        },
        Label::BaseName
        | Label::BaseUnit
        | Label::Name
        | Label::Unit
        | Label::StringValue
        | Label::DataValue => {
            let Scalar::Str(s) = scalar else {
                return Err(wrong());
            };
            match label {
                Label::BaseName => raw.bn = Some(s),
                Label::BaseUnit => raw.bu = Some(s),
                Label::Name => raw.n = Some(s),
                Label::Unit => raw.u = Some(s),
                Label::StringValue => raw.vs = Some(s),
                _ => {
                    let data = BASE64URL.decode(s.as_bytes()).map_err(|e| {
                        SenmlErrorKind::InvalidBase64 {
                            detail: e.to_string(),
                        }
                    })?;
                    raw.vd = Some(Cow::Owned(data));
                }
            }
        }
        Label::BoolValue => match scalar {
            Scalar::Bool(b) => raw.vb = Some(b),
            _ => return Err(wrong()),
        },
        Label::BaseTime
        | Label::BaseValue
        | Label::BaseSum
        | Label::Value
        | Label::Sum
        | Label::Time
        | Label::UpdateTime => {
            let v = scalar.number().ok_or_else(wrong)?;
            match label {
                Label::BaseTime => raw.bt = Some(check_time(v)?),
                Label::BaseValue => raw.bv = Some(Num::F64(v)),
                Label::BaseSum => raw.bs = Some(v),
                Label::Value => raw.v = Some(Num::F64(v)),
                Label::Sum => raw.s = Some(v),
                Label::Time => raw.t = Some(check_time(v)?),
                _ => raw.ut = Some(check_time(v)?),
            }
        }
    }
    Ok(())
}

/// Skips the value of an unknown label, allowing `levels` more levels of
/// arrays and objects.
struct SkipSeed<'c, 'de, 'l> {
    ctx: &'c mut Ctx<'de, 'l>,
    levels: usize,
}

impl<'de> DeserializeSeed<'de> for SkipSeed<'_, 'de, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl SkipSeed<'_, '_, '_> {
    fn enter<E: de::Error>(&mut self) -> Result<usize, E> {
        match self.levels.checked_sub(1) {
            Some(levels) => Ok(levels),
            None => {
                let max = self.ctx.limits.max_nesting;
                Err(self.ctx.fail(SenmlErrorKind::TooDeep { max }))
            }
        }
    }
}

impl<'de> Visitor<'de> for SkipSeed<'_, 'de, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let levels = self.enter()?;
        while seq
            .next_element_seed(SkipSeed {
                ctx: &mut *self.ctx,
                levels,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let levels = self.enter()?;
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(SkipSeed {
                ctx: &mut *self.ctx,
                levels,
            })?;
        }
        Ok(())
    }
}

/// Encodes a frame as a SenML JSON pack, appending to `out`.
///
/// The first record carries `bn = "<device_id>/"` and `bt` (the frame
/// timestamp in seconds); each reading becomes one record with `n` (the
/// channel name, aliases resolved through `aliases`), `u`, `t` (the offset
/// in seconds) and one of `v`, `vb`, `vs`, `vd`. A frame without readings
/// becomes one base-only record. The sequence number has no SenML field and
/// is dropped. See `docs/senml.md` for the full mapping and what is lossy.
///
/// Floats are written in their shortest round-trip form; integers are
/// written exactly but read back as doubles (exact up to 2^53). NaN and
/// infinities have no JSON form: [`SenmlEncodeError::NonFiniteJson`].
/// On error, `out` is left as it was.
///
/// ```
/// use iot_core::codec::{Channel, FrameHeader, NoAliases, Reading, Value};
/// use iot_core::senml::encode_json;
///
/// let header = FrameHeader::new("dev-4f2a9c01", 7, 1_700_000_000_250);
/// let readings = [
///     Reading::new(Channel::Name("temp"), Value::F64(21.5)).with_unit("Cel"),
///     Reading::new(Channel::Name("door"), Value::Bool(true)).with_offset_ms(-1500),
/// ];
/// let mut out = Vec::new();
/// encode_json(&header, &readings, &NoAliases, &mut out)?;
/// assert_eq!(
///     std::str::from_utf8(&out).unwrap(),
///     r#"[{"bn":"dev-4f2a9c01/","bt":1700000000.25,"n":"temp","u":"Cel","v":21.5},{"n":"door","t":-1.5,"vb":true}]"#
/// );
/// # Ok::<(), iot_core::senml::SenmlEncodeError>(())
/// ```
pub fn encode_json(
    header: &FrameHeader<'_>,
    readings: &[Reading<'_>],
    aliases: &dyn AliasResolver,
    out: &mut Vec<u8>,
) -> Result<(), SenmlEncodeError> {
    let start = out.len();
    let result = write_pack(header, readings, aliases, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn write_pack(
    header: &FrameHeader<'_>,
    readings: &[Reading<'_>],
    aliases: &dyn AliasResolver,
    out: &mut Vec<u8>,
) -> Result<(), SenmlEncodeError> {
    let frame = Frame::new(header)?;
    out.push(b'[');
    if readings.is_empty() {
        write_base(&frame, out);
        out.push(b'}');
    }
    for (index, reading) in readings.iter().enumerate() {
        let r = EncodedReading::new(&frame, index, reading, aliases)?;
        if let ValueRef::Float(value) = r.value {
            if !value.is_finite() {
                return Err(SenmlEncodeError::NonFiniteJson { index, value });
            }
        }
        if index == 0 {
            write_base(&frame, out);
        } else {
            out.extend_from_slice(b",{");
        }
        let mut first = index != 0;
        let mut sep = |out: &mut Vec<u8>| {
            if first {
                first = false;
            } else {
                out.push(b',');
            }
        };
        if !r.name.is_empty() {
            sep(out);
            out.extend_from_slice(b"\"n\":");
            write_str(out, r.name);
        }
        if let Some(unit) = r.unit {
            sep(out);
            out.extend_from_slice(b"\"u\":");
            write_str(out, unit);
        }
        if let Some(t) = r.time {
            sep(out);
            out.extend_from_slice(b"\"t\":");
            write_f64(out, t);
        }
        sep(out);
        match r.value {
            ValueRef::Float(v) => {
                out.extend_from_slice(b"\"v\":");
                write_f64(out, v);
            }
            ValueRef::Int(v) => {
                out.extend_from_slice(b"\"v\":");
                let _ = write!(VecWriter(out), "{v}");
            }
            ValueRef::UInt(v) => {
                out.extend_from_slice(b"\"v\":");
                let _ = write!(VecWriter(out), "{v}");
            }
            ValueRef::Bool(b) => {
                out.extend_from_slice(if b { b"\"vb\":true" } else { b"\"vb\":false" });
            }
            ValueRef::Str(s) => {
                out.extend_from_slice(b"\"vs\":");
                write_str(out, s);
            }
            ValueRef::Bytes(data) => {
                out.extend_from_slice(b"\"vd\":\"");
                let at = out.len();
                let len = base64::encoded_len(data.len(), false).unwrap_or(usize::MAX);
                out.resize(at + len, 0);
                let written = BASE64URL.encode_slice(data, &mut out[at..]).unwrap_or(0);
                out.truncate(at + written);
                out.push(b'"');
            }
        }
        out.push(b'}');
    }
    out.push(b']');
    Ok(())
}

/// Opens the first record with its base fields (no trailing comma).
fn write_base(frame: &Frame<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"bn\":\"");
    out.extend_from_slice(frame.device_id.as_bytes());
    out.extend_from_slice(b"/\",\"bt\":");
    write_f64(out, frame.base_time);
}

struct VecWriter<'a>(&'a mut Vec<u8>);

impl fmt::Write for VecWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Writes a finite float in its shortest round-trip form: plain decimal
/// for 1e-5 <= |v| < 1e16, exponent form (lower-case `e`) otherwise.
fn write_f64(out: &mut Vec<u8>, v: f64) {
    let abs = v.abs();
    let _ = if v == 0.0 {
        write!(
            VecWriter(out),
            "{}",
            if v.is_sign_negative() { "-0.0" } else { "0" }
        )
    } else if (1e-5..1e16).contains(&abs) {
        write!(VecWriter(out), "{v}")
    } else {
        write!(VecWriter(out), "{v:e}")
    };
}

/// Writes a JSON string with the escapes RFC 8259 requires.
fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut plain = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain..i]);
        out.extend_from_slice(escape);
        plain = i + 1;
    }
    out.extend_from_slice(&bytes[plain..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: f64) -> String {
        let mut out = Vec::new();
        write_f64(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn floats_are_shortest_and_round_trip() {
        assert_eq!(f(21.5), "21.5");
        assert_eq!(f(0.0), "0");
        assert_eq!(f(-0.0), "-0.0");
        assert_eq!(f(1e300), "1e300");
        assert_eq!(f(-1.5e-7), "-1.5e-7");
        assert_eq!(f(1_700_000_000.25), "1700000000.25");
        for v in [
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            0.1,
            1e16,
            9.999e15,
            1e-5,
        ] {
            let back: f64 = serde_json::from_str(&f(v)).unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{v}");
        }
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = Vec::new();
        write_str(&mut out, "a\"b\\c\n\u{1}\u{7f}é");
        assert_eq!(out, b"\"a\\\"b\\\\c\\n\\u0001\x7f\xc3\xa9\"");
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, "a\"b\\c\n\u{1}\u{7f}é");
    }
}
