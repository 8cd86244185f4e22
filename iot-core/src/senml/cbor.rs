//! SenML CBOR (`application/senml+cbor`): a hand-written decoder on
//! `minicbor`'s primitives, and a hand-written encoder.

use alloc::borrow::{Cow, ToOwned};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Write as _;

use minicbor::Decoder;
use minicbor::data::Type;

use super::encode::{EncodedReading, Frame, ValueRef};
use super::error::{Position, SenmlEncodeError, SenmlError, SenmlErrorKind};
use super::float::{f16_to_f64, f64_to_f16_exact, f64_to_f32_exact, widen_f32};
use super::record::{Label, Record};
use super::resolve::{Num, RawRecord, Resolver, check_time, check_version};
use crate::codec::{AliasResolver, FrameHeader, Limits, Reading};

/// CBOR tag of a decimal fraction `[exponent, mantissa]` (RFC 8949 §3.4.4),
/// which RFC 8428 §6 allows for numbers.
const TAG_DECIMAL_FRACTION: u64 = 4;

/// Decodes a SenML CBOR pack into resolved records.
///
/// Labels are the RFC 8428 Table 4 integers; text-string keys are extension
/// labels (rejected if they end in `_`, ignored otherwise), as are integer
/// keys outside -6..=8. Text and byte strings must be definite-length
/// (RFC 8428 §6) and are borrowed from `input`. Numbers may be integers
/// (decoded exactly as [`SenmlValue::UInt`](super::SenmlValue::UInt) /
/// [`SenmlValue::Int`](super::SenmlValue::Int)), half, single or double
/// floats, or decimal fractions (tag 4). Both definite and indefinite
/// (SensML streaming) arrays are accepted.
///
/// Enforces `limits` before allocating; see the [module docs](super).
///
/// ```
/// use iot_core::codec::Limits;
/// use iot_core::senml::{decode_cbor, SenmlValue};
///
/// // [{0: "temp", 2: 21.5}]
/// let pack = [0x81, 0xa2, 0x00, 0x64, b't', b'e', b'm', b'p', 0x02, 0xf9, 0x4d, 0x60];
/// let records = decode_cbor(&pack, &Limits::default())?;
/// assert_eq!(records[0].name, "temp");
/// assert_eq!(records[0].value, Some(SenmlValue::Float(21.5)));
/// # Ok::<(), iot_core::senml::SenmlError>(())
/// ```
pub fn decode_cbor<'a>(input: &'a [u8], limits: &Limits) -> Result<Vec<Record<'a>>, SenmlError> {
    if input.len() > limits.max_frame_len {
        return Err(SenmlError::new(
            SenmlErrorKind::InputTooLarge {
                len: input.len(),
                max: limits.max_frame_len,
            },
            Position::Input,
            None,
            None,
        ));
    }
    Parser {
        d: Decoder::new(input),
        limits,
        record: None,
        label: None,
    }
    .pack()
}

struct Parser<'a, 'l> {
    d: Decoder<'a>,
    limits: &'l Limits,
    record: Option<usize>,
    label: Option<Label>,
}

/// Containers still open while skipping: items left, or `None` until a break.
type Open = Vec<Option<u64>>;

impl<'a> Parser<'a, '_> {
    fn error(&self, kind: SenmlErrorKind, offset: usize) -> SenmlError {
        SenmlError::new(kind, Position::Cbor { offset }, self.record, self.label)
    }

    fn minicbor(&self, e: &minicbor::decode::Error, start: usize) -> SenmlError {
        let kind = if e.is_end_of_input() {
            SenmlErrorKind::UnexpectedEnd
        } else {
            SenmlErrorKind::Syntax {
                message: e.to_string(),
            }
        };
        self.error(kind, e.position().unwrap_or(start))
    }

    fn datatype(&self) -> Result<Type, SenmlError> {
        let at = self.d.position();
        self.d.datatype().map_err(|e| self.minicbor(&e, at))
    }

    /// Runs a `minicbor` read, mapping its error to the item at `start`.
    fn read<T>(
        &mut self,
        f: impl FnOnce(&mut Decoder<'a>) -> Result<T, minicbor::decode::Error>,
    ) -> Result<T, SenmlError> {
        let start = self.d.position();
        f(&mut self.d).map_err(|e| self.minicbor(&e, start))
    }

    /// Consumes a break byte if one is next.
    fn at_break(&mut self) -> Result<bool, SenmlError> {
        if self.datatype()? == Type::Break {
            self.d.set_position(self.d.position() + 1);
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn pack(mut self) -> Result<Vec<Record<'a>>, SenmlError> {
        let limits = self.limits;
        if limits.max_nesting == 0 {
            return Err(self.error(SenmlErrorKind::TooDeep { max: 0 }, 0));
        }
        let count = match self.datatype()? {
            Type::Array | Type::ArrayIndef => self.read(Decoder::array)?,
            _ => {
                let expected = "an array of records";
                return Err(self.error(SenmlErrorKind::WrongType { expected }, 0));
            }
        };
        let max = limits.max_readings;
        if count.is_some_and(|n| n > max as u64) {
            return Err(self.error(SenmlErrorKind::TooManyRecords { count, max }, 0));
        }
        // Bounded by the limit just checked and by the input: a record that
        // yields output takes at least 3 bytes.
        let remaining = self.d.input().len() - self.d.position();
        let capacity = count.map_or(0, |n| n as usize).min(remaining / 3);
        let mut out = Vec::with_capacity(capacity);
        let mut resolver = Resolver::default();
        let mut index = 0usize;
        loop {
            match count {
                Some(n) if index as u64 == n => break,
                None if self.at_break()? => break,
                _ => {}
            }
            if index >= max {
                let at = self.d.position();
                return Err(self.error(SenmlErrorKind::TooManyRecords { count, max }, at));
            }
            self.record = Some(index);
            let start = self.d.position();
            let raw = self.record_map()?;
            match resolver.resolve(raw) {
                Ok(Some(record)) => out.push(record),
                Ok(None) => {}
                Err(kind) => return Err(self.error(kind, start)),
            }
            self.record = None;
            index += 1;
        }
        let end = self.d.position();
        let count = self.d.input().len() - end;
        if count != 0 {
            return Err(self.error(SenmlErrorKind::TrailingData { count }, end));
        }
        Ok(out)
    }

    fn record_map(&mut self) -> Result<RawRecord<'a>, SenmlError> {
        let start = self.d.position();
        if self.limits.max_nesting < 2 {
            let max = self.limits.max_nesting;
            return Err(self.error(SenmlErrorKind::TooDeep { max }, start));
        }
        let len = match self.datatype()? {
            Type::Map | Type::MapIndef => self.read(Decoder::map)?,
            _ => {
                let expected = "a map (record)";
                return Err(self.error(SenmlErrorKind::WrongType { expected }, start));
            }
        };
        let mut raw = RawRecord::default();
        let mut entries = 0u64;
        loop {
            match len {
                Some(n) if entries == n => break,
                None if self.at_break()? => break,
                _ => {}
            }
            entries += 1;
            let key_start = self.d.position();
            match self.datatype()? {
                Type::U8
                | Type::U16
                | Type::U32
                | Type::U64
                | Type::I8
                | Type::I16
                | Type::I32
                | Type::I64
                | Type::Int => {
                    let key = i128::from(self.read(Decoder::int)?);
                    match Label::from_cbor(key) {
                        Some(label) => {
                            self.label = Some(label);
                            raw.begin(label)
                                .map_err(|kind| self.error(kind, key_start))?;
                            self.field(label, &mut raw)?;
                            self.label = None;
                        }
                        None => self.skip()?,
                    }
                }
                Type::String | Type::StringIndef => {
                    let key = self.text_key()?;
                    if let Some(label) = key {
                        let kind = SenmlErrorKind::UnknownMandatoryLabel { label };
                        return Err(self.error(kind, key_start));
                    }
                    self.skip()?;
                }
                _ => {
                    self.skip()?;
                    self.skip()?;
                }
            }
        }
        Ok(raw)
    }

    /// Reads a text key; returns it if it ends in `_` (must-understand).
    fn text_key(&mut self) -> Result<Option<String>, SenmlError> {
        let start = self.d.position();
        if self.datatype()? == Type::String {
            let key = self.text(start)?;
            return Ok(key.ends_with('_').then(|| key.to_owned()));
        }
        // Indefinite-length key: collect the chunks (bounded by the input).
        let mut key = String::new();
        let failed = match self.d.str_iter() {
            Ok(chunks) => chunks
                .map(|chunk| chunk.map(|c| key.push_str(c)))
                .find_map(Result::err),
            Err(e) => Some(e),
        };
        if let Some(e) = failed {
            return Err(self.minicbor(&e, start));
        }
        Ok(key.ends_with('_').then_some(key))
    }

    /// Reads a definite-length text string at `start`, borrowing it.
    fn text(&mut self, start: usize) -> Result<&'a str, SenmlError> {
        self.d.str().map_err(|e| {
            if e.is_end_of_input() {
                self.error(SenmlErrorKind::UnexpectedEnd, start)
            } else {
                self.error(SenmlErrorKind::InvalidUtf8, start)
            }
        })
    }

    fn field(&mut self, label: Label, raw: &mut RawRecord<'a>) -> Result<(), SenmlError> {
        let start = self.d.position();
        let ty = self.datatype()?;
        let wrong = |p: &Self, expected| p.error(SenmlErrorKind::WrongType { expected }, start);
        let check = |p: &Self, r: Result<f64, SenmlErrorKind>| r.map_err(|k| p.error(k, start));
        match label {
            Label::BaseVersion => {
                if !matches!(ty, Type::U8 | Type::U16 | Type::U32 | Type::U64) {
                    return Err(wrong(self, "an unsigned integer"));
                }
                let v = self.read(Decoder::u64)?;
                raw.bver = Some(check_version(v).map_err(|k| self.error(k, start))?);
            }
            Label::BaseName | Label::BaseUnit | Label::Name | Label::Unit | Label::StringValue => {
                if ty != Type::String {
                    return Err(wrong(self, "a definite-length text string"));
                }
                let s = self.text(start)?;
                let max = self.limits.max_str_len;
                if s.len() > max {
                    let len = s.len() as u64;
                    return Err(self.error(SenmlErrorKind::TooLong { len, max }, start));
                }
                let s = Some(Cow::Borrowed(s));
                match label {
                    Label::BaseName => raw.bn = s,
                    Label::BaseUnit => raw.bu = s,
                    Label::Name => raw.n = s,
                    Label::Unit => raw.u = s,
                    _ => raw.vs = s,
                }
            }
            Label::DataValue => {
                if ty != Type::Bytes {
                    return Err(wrong(self, "a definite-length byte string"));
                }
                let data = self.read(Decoder::bytes)?;
                let max = self.limits.max_bytes_len;
                if data.len() > max {
                    let len = data.len() as u64;
                    return Err(self.error(SenmlErrorKind::TooLong { len, max }, start));
                }
                raw.vd = Some(Cow::Borrowed(data));
            }
            Label::BoolValue => {
                if ty != Type::Bool {
                    return Err(wrong(self, "a boolean"));
                }
                raw.vb = Some(self.read(Decoder::bool)?);
            }
            Label::BaseValue | Label::Value => {
                let v = self.number(ty, start)?;
                if label == Label::Value {
                    raw.v = Some(v);
                } else {
                    raw.bv = Some(v);
                }
            }
            Label::BaseSum => raw.bs = Some(self.number(ty, start)?.to_f64()),
            Label::Sum => raw.s = Some(self.number(ty, start)?.to_f64()),
            Label::BaseTime => {
                let v = self.number(ty, start)?.to_f64();
                raw.bt = Some(check(self, check_time(v))?);
            }
            Label::Time => {
                let v = self.number(ty, start)?.to_f64();
                raw.t = Some(check(self, check_time(v))?);
            }
            Label::UpdateTime => {
                let v = self.number(ty, start)?.to_f64();
                raw.ut = Some(check(self, check_time(v))?);
            }
        }
        Ok(())
    }

    /// Reads a number of type `ty` starting at `start`.
    fn number(&mut self, ty: Type, start: usize) -> Result<Num, SenmlError> {
        Ok(match ty {
            Type::U8 | Type::U16 | Type::U32 | Type::U64 => Num::U64(self.read(Decoder::u64)?),
            Type::I8 | Type::I16 | Type::I32 | Type::I64 | Type::Int => {
                Num::from_int(i128::from(self.read(Decoder::int)?))
            }
            Type::F16 => Num::F64(f16_to_f64(self.half()?)),
            Type::F32 => Num::F64(widen_f32(self.read(Decoder::f32)?)),
            Type::F64 => Num::F64(self.read(Decoder::f64)?),
            Type::Tag => Num::F64(self.decimal_fraction(start)?),
            _ => {
                let expected = "a number";
                return Err(self.error(SenmlErrorKind::WrongType { expected }, start));
            }
        })
    }

    /// Reads a half float (minicbor's `half` feature is not enabled).
    fn half(&mut self) -> Result<u16, SenmlError> {
        let at = self.d.position();
        let input = self.d.input();
        match input.get(at + 1..at + 3) {
            Some(&[hi, lo]) => {
                self.d.set_position(at + 3);
                Ok(u16::from_be_bytes([hi, lo]))
            }
            _ => Err(self.error(SenmlErrorKind::UnexpectedEnd, at)),
        }
    }

    /// Reads tag 4 `[exponent, mantissa]` as the nearest `f64`.
    fn decimal_fraction(&mut self, start: usize) -> Result<f64, SenmlError> {
        let expected = "a number (integer, float or decimal fraction)";
        let wrong = |p: &Self| p.error(SenmlErrorKind::WrongType { expected }, start);
        if self.read(Decoder::tag)?.as_u64() != TAG_DECIMAL_FRACTION {
            return Err(wrong(self));
        }
        if self.limits.max_nesting < 3 {
            let max = self.limits.max_nesting;
            return Err(self.error(SenmlErrorKind::TooDeep { max }, start));
        }
        if self.datatype()? != Type::Array || self.read(Decoder::array)? != Some(2) {
            return Err(wrong(self));
        }
        let mut parts = [0i128; 2];
        for part in &mut parts {
            match self.datatype()? {
                Type::U8
                | Type::U16
                | Type::U32
                | Type::U64
                | Type::I8
                | Type::I16
                | Type::I32
                | Type::I64
                | Type::Int => *part = i128::from(self.read(Decoder::int)?),
                _ => return Err(wrong(self)),
            }
        }
        let [exponent, mantissa] = parts;
        // Let core's correctly rounded parser do the scaling.
        let mut text = String::new();
        let _ = write!(text, "{mantissa}e{exponent}");
        text.parse().map_err(|_| wrong(self))
    }

    /// Skips one data item of an unknown label (key or value) without
    /// recursion, allowing `max_nesting - 2` levels of arrays and maps.
    fn skip(&mut self) -> Result<(), SenmlError> {
        let levels = self.limits.max_nesting.saturating_sub(2);
        let mut open: Open = Vec::new();
        loop {
            let start = self.d.position();
            match self.datatype()? {
                Type::Tag => {
                    // The tagged item follows; tags add no nesting.
                    self.read(Decoder::tag)?;
                    continue;
                }
                ty @ (Type::Array | Type::ArrayIndef | Type::Map | Type::MapIndef) => {
                    if open.len() >= levels {
                        let max = self.limits.max_nesting;
                        return Err(self.error(SenmlErrorKind::TooDeep { max }, start));
                    }
                    let items = if matches!(ty, Type::Array | Type::ArrayIndef) {
                        self.read(Decoder::array)?
                    } else {
                        // n pairs; a bogus huge count fails at the input's end.
                        self.read(Decoder::map)?.map(|n| n.saturating_mul(2))
                    };
                    if items != Some(0) {
                        open.push(items);
                        continue;
                    }
                }
                Type::Break => match open.last() {
                    Some(None) => {
                        self.d.set_position(start + 1);
                        open.pop();
                    }
                    _ => {
                        let message = "unexpected break".to_owned();
                        return Err(self.error(SenmlErrorKind::Syntax { message }, start));
                    }
                },
                Type::Bool => {
                    self.read(Decoder::bool)?;
                }
                Type::Null => self.read(Decoder::null)?,
                Type::Undefined => self.read(Decoder::undefined)?,
                Type::Simple => {
                    self.read(Decoder::simple)?;
                }
                Type::F16 => {
                    self.half()?;
                }
                Type::F32 => {
                    self.read(Decoder::f32)?;
                }
                Type::F64 => {
                    self.read(Decoder::f64)?;
                }
                Type::Bytes => {
                    self.read(Decoder::bytes)?;
                }
                Type::String => {
                    self.text(start)?;
                }
                Type::BytesIndef => {
                    let failed = match self.d.bytes_iter() {
                        Ok(mut chunks) => chunks.find_map(Result::err),
                        Err(e) => Some(e),
                    };
                    if let Some(e) = failed {
                        return Err(self.minicbor(&e, start));
                    }
                }
                Type::StringIndef => {
                    let failed = match self.d.str_iter() {
                        Ok(mut chunks) => chunks.find_map(Result::err),
                        Err(e) => Some(e),
                    };
                    if let Some(e) = failed {
                        return Err(self.minicbor(&e, start));
                    }
                }
                Type::Unknown(byte) => {
                    let message = alloc::format!("reserved initial byte {byte:#04x}");
                    return Err(self.error(SenmlErrorKind::Syntax { message }, start));
                }
                // Integers of every width.
                _ => {
                    self.read(Decoder::int)?;
                }
            }
            // One item is complete: count it against the open containers.
            loop {
                match open.last_mut() {
                    None => return Ok(()),
                    Some(None) => break,
                    Some(Some(left)) => {
                        *left -= 1;
                        if *left != 0 {
                            break;
                        }
                        open.pop();
                    }
                }
            }
        }
    }
}

/// Encodes a frame as a SenML CBOR pack, appending to `out`.
///
/// The same mapping as [`encode_json`](super::encode_json), with the RFC 8428
/// integer labels. Integers are CBOR integers (exact for all of `i64` and
/// `u64`); floats, NaN and infinities included, use the shortest of half,
/// single and double precision that gives back the same bits. Strings and
/// bytes are definite-length. On error, `out` is left as it was.
///
/// ```
/// use iot_core::codec::{Channel, FrameHeader, Limits, NoAliases, Reading, Value};
/// use iot_core::senml::{decode_cbor, encode_cbor};
///
/// let header = FrameHeader::new("dev-4f2a9c01", 7, 1_700_000_000_000);
/// let readings = [Reading::new(Channel::Name("count"), Value::U64(u64::MAX))];
/// let mut out = Vec::new();
/// encode_cbor(&header, &readings, &NoAliases, &mut out)?;
/// let records = decode_cbor(&out, &Limits::default()).unwrap();
/// let reading = records[0].to_frame_reading(header.timestamp_ms, 0.0).unwrap();
/// assert!(reading.bitwise_eq(&readings[0]));
/// # Ok::<(), iot_core::senml::SenmlEncodeError>(())
/// ```
pub fn encode_cbor(
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

const MAJOR_UNSIGNED: u8 = 0;
const MAJOR_NEGATIVE: u8 = 1;
const MAJOR_BYTES: u8 = 2;
const MAJOR_TEXT: u8 = 3;
const MAJOR_ARRAY: u8 = 4;
const MAJOR_MAP: u8 = 5;

fn write_pack(
    header: &FrameHeader<'_>,
    readings: &[Reading<'_>],
    aliases: &dyn AliasResolver,
    out: &mut Vec<u8>,
) -> Result<(), SenmlEncodeError> {
    let frame = Frame::new(header)?;
    write_head(out, MAJOR_ARRAY, readings.len().max(1) as u64);
    if readings.is_empty() {
        write_head(out, MAJOR_MAP, 2);
        write_base(&frame, out);
    }
    for (index, reading) in readings.iter().enumerate() {
        let r = EncodedReading::new(&frame, index, reading, aliases)?;
        let entries = 1
            + 2 * u64::from(index == 0)
            + u64::from(!r.name.is_empty())
            + u64::from(r.unit.is_some())
            + u64::from(r.time.is_some());
        write_head(out, MAJOR_MAP, entries);
        if index == 0 {
            write_base(&frame, out);
        }
        if !r.name.is_empty() {
            write_label(out, Label::Name);
            write_text(out, r.name);
        }
        if let Some(unit) = r.unit {
            write_label(out, Label::Unit);
            write_text(out, unit);
        }
        if let Some(t) = r.time {
            write_label(out, Label::Time);
            write_float(out, t);
        }
        match r.value {
            ValueRef::Float(v) => {
                write_label(out, Label::Value);
                write_float(out, v);
            }
            ValueRef::Int(v) => {
                write_label(out, Label::Value);
                write_int(out, i128::from(v));
            }
            ValueRef::UInt(v) => {
                write_label(out, Label::Value);
                write_int(out, i128::from(v));
            }
            ValueRef::Bool(b) => {
                write_label(out, Label::BoolValue);
                out.push(if b { 0xf5 } else { 0xf4 });
            }
            ValueRef::Str(s) => {
                write_label(out, Label::StringValue);
                write_text(out, s);
            }
            ValueRef::Bytes(data) => {
                write_label(out, Label::DataValue);
                write_head(out, MAJOR_BYTES, data.len() as u64);
                out.extend_from_slice(data);
            }
        }
    }
    Ok(())
}

/// The first record's base fields: `-2: "<device_id>/"`, `-3: bt`.
fn write_base(frame: &Frame<'_>, out: &mut Vec<u8>) {
    write_label(out, Label::BaseName);
    write_head(out, MAJOR_TEXT, frame.device_id.len() as u64 + 1);
    out.extend_from_slice(frame.device_id.as_bytes());
    out.push(b'/');
    write_label(out, Label::BaseTime);
    write_float(out, frame.base_time);
}

fn write_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let major = major << 5;
    if n < 24 {
        out.push(major | n as u8);
    } else if let Ok(n) = u8::try_from(n) {
        out.extend_from_slice(&[major | 24, n]);
    } else if let Ok(n) = u16::try_from(n) {
        out.push(major | 25);
        out.extend_from_slice(&n.to_be_bytes());
    } else if let Ok(n) = u32::try_from(n) {
        out.push(major | 26);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(major | 27);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Writes an integer in `-2^64..2^64`.
fn write_int(out: &mut Vec<u8>, v: i128) {
    if v >= 0 {
        write_head(out, MAJOR_UNSIGNED, v as u64);
    } else {
        write_head(out, MAJOR_NEGATIVE, (-1 - v) as u64);
    }
}

fn write_label(out: &mut Vec<u8>, label: Label) {
    write_int(out, i128::from(label.cbor()));
}

fn write_text(out: &mut Vec<u8>, s: &str) {
    write_head(out, MAJOR_TEXT, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Writes the shortest float encoding that decodes to the same bits.
fn write_float(out: &mut Vec<u8>, v: f64) {
    if let Some(h) = f64_to_f16_exact(v) {
        out.push(0xf9);
        out.extend_from_slice(&h.to_be_bytes());
    } else if let Some(f) = f64_to_f32_exact(v) {
        out.push(0xfa);
        out.extend_from_slice(&f.to_bits().to_be_bytes());
    } else {
        out.push(0xfb);
        out.extend_from_slice(&v.to_bits().to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float_bytes(v: f64) -> Vec<u8> {
        let mut out = Vec::new();
        write_float(&mut out, v);
        out
    }

    #[test]
    fn floats_use_the_shortest_exact_width() {
        assert_eq!(float_bytes(1.5), [0xf9, 0x3e, 0x00]);
        assert_eq!(float_bytes(-0.0), [0xf9, 0x80, 0x00]);
        assert_eq!(float_bytes(f64::NAN), [0xf9, 0x7e, 0x00]);
        assert_eq!(float_bytes(f64::INFINITY), [0xf9, 0x7c, 0x00]);
        assert_eq!(float_bytes(100000.0), [0xfa, 0x47, 0xc3, 0x50, 0x00]);
        assert_eq!(float_bytes(1.1)[0], 0xfb);
        let payload_nan = f64::from_bits(0x7ff0_0000_0000_0001);
        assert_eq!(
            float_bytes(payload_nan),
            [0xfb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 1]
        );
    }

    #[test]
    fn heads() {
        let mut out = Vec::new();
        write_int(&mut out, -1);
        write_int(&mut out, -25);
        write_int(&mut out, 500);
        write_int(&mut out, i128::from(u64::MAX));
        write_int(&mut out, i128::from(i64::MIN));
        assert_eq!(
            out,
            [
                0x20, 0x38, 0x18, 0x19, 0x01, 0xf4, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                0xff, 0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
            ]
        );
    }
}
