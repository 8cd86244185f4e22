//! The frame as a plain Rust struct with serde derives, for postcard and
//! serde_json.
//!
//! [`WireFrame`] carries exactly what an iot-core frame carries. Strings and
//! byte arrays borrow from the input when the format allows (postcard always;
//! serde_json for strings without escapes, while its byte arrays are JSON
//! arrays of numbers and are copied). The `Vec` of readings is the one
//! allocation a decode cannot avoid with this shape.
//!
//! As for the other peers, an `f64` that survives `f32` bit for bit is sent
//! as [`WireValue::F32`] (4 bytes in postcard), the same rule iot-core's
//! encoder applies, so the comparison gives the peer its best case.

use std::borrow::Cow;

use iot_core::codec::{Channel, FrameHeader, Reading, Value};
use serde::{Deserialize, Serialize};

use crate::fixtures::fits_f32;
use crate::touch;

/// A frame: header fields and readings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireFrame<'a> {
    /// The sending device.
    pub device_id: &'a str,
    /// Sequence number.
    pub seq: u64,
    /// Frame timestamp, ms since the epoch.
    pub timestamp_ms: u64,
    /// The readings.
    #[serde(borrow)]
    pub readings: Vec<WireReading<'a>>,
}

/// One reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireReading<'a> {
    /// Name or alias.
    #[serde(borrow)]
    pub channel: WireChannel<'a>,
    /// The value.
    #[serde(borrow)]
    pub value: WireValue<'a>,
    /// Milliseconds relative to the frame timestamp.
    pub offset: Option<i64>,
    /// Unit symbol.
    pub unit: Option<&'a str>,
}

/// What a reading measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WireChannel<'a> {
    /// A channel name.
    Name(&'a str),
    /// A numeric alias.
    Alias(u32),
}

/// A value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WireValue<'a> {
    /// 64-bit float.
    F64(f64),
    /// 32-bit float (also an `f64` that survives `f32`).
    F32(f32),
    /// Signed integer.
    I64(i64),
    /// Unsigned integer.
    U64(u64),
    /// Boolean.
    Bool(bool),
    /// String.
    Str(&'a str),
    /// Bytes: borrowed from postcard input, owned from a JSON array.
    Bytes(#[serde(with = "serde_bytes", borrow)] Cow<'a, [u8]>),
}

impl<'a> WireFrame<'a> {
    /// The frame of iot-core's `header` and `readings`.
    pub fn new(header: &FrameHeader<'a>, readings: &[Reading<'a>]) -> Self {
        WireFrame {
            device_id: header.device_id,
            seq: header.seq,
            timestamp_ms: header.timestamp_ms,
            readings: readings
                .iter()
                .map(|r| WireReading {
                    channel: match r.channel {
                        Channel::Name(n) => WireChannel::Name(n),
                        Channel::Alias(a) => WireChannel::Alias(a),
                    },
                    value: match r.value {
                        Value::F64(v) if fits_f32(v) => WireValue::F32(v as f32),
                        Value::F64(v) => WireValue::F64(v),
                        Value::F32(v) => WireValue::F32(v),
                        Value::I64(v) => WireValue::I64(v),
                        Value::U64(v) => WireValue::U64(v),
                        Value::Bool(b) => WireValue::Bool(b),
                        Value::Str(s) => WireValue::Str(s),
                        Value::Bytes(b) => WireValue::Bytes(Cow::Borrowed(b)),
                    },
                    offset: r.time_offset_ms,
                    unit: r.unit,
                })
                .collect(),
        }
    }

    /// The header in iot-core's model.
    pub fn header(&self) -> FrameHeader<'a> {
        FrameHeader::new(self.device_id, self.seq, self.timestamp_ms)
    }

    /// The readings in iot-core's model. `F32` widens to `Value::F64`
    /// (exactly), the inverse of [`WireFrame::new`] for the fixtures, which
    /// hold no `Value::F32`.
    pub fn readings(&self) -> Vec<Reading<'_>> {
        self.readings
            .iter()
            .map(|r| Reading {
                channel: match r.channel {
                    WireChannel::Name(n) => Channel::Name(n),
                    WireChannel::Alias(a) => Channel::Alias(a),
                },
                value: r.value.as_value(),
                time_offset_ms: r.offset,
                unit: r.unit,
            })
            .collect()
    }

    /// Folds every field of every reading into a checksum (see [`touch`]).
    #[inline]
    pub fn touch(&self) -> u64 {
        let acc = touch::header(self.device_id, self.seq, self.timestamp_ms);
        self.readings.iter().fold(acc, |acc, r| {
            let ch = match r.channel {
                WireChannel::Name(n) => touch::name_key(n),
                WireChannel::Alias(a) => touch::alias_key(u64::from(a)),
            };
            touch::mix(
                acc,
                touch::reading_key(
                    ch,
                    touch::value_key(&r.value.as_value()),
                    touch::offset_key(r.offset),
                ),
            )
        })
    }
}

impl WireValue<'_> {
    /// The value in iot-core's model, borrowing strings and bytes.
    #[inline(always)]
    pub fn as_value(&self) -> Value<'_> {
        match self {
            WireValue::F64(v) => Value::F64(*v),
            WireValue::F32(v) => Value::F64(f64::from(*v)),
            WireValue::I64(v) => Value::I64(*v),
            WireValue::U64(v) => Value::U64(*v),
            WireValue::Bool(b) => Value::Bool(*b),
            WireValue::Str(s) => Value::Str(s),
            WireValue::Bytes(b) => Value::Bytes(b),
        }
    }
}

/// postcard: encodes into a slice (no allocation); returns the length.
#[inline]
pub fn postcard_encode(frame: &WireFrame<'_>, buf: &mut [u8]) -> postcard::Result<usize> {
    postcard::to_slice(frame, buf).map(|s| s.len())
}

/// postcard: zero-copy decode into the borrowed struct, then touch.
#[inline]
pub fn postcard_decode_touch(bytes: &[u8]) -> postcard::Result<u64> {
    let frame: WireFrame<'_> = postcard::from_bytes(bytes)?;
    Ok(frame.touch())
}

/// serde_json: encodes into `out` (cleared first; capacity reused).
#[inline]
pub fn json_encode(frame: &WireFrame<'_>, out: &mut Vec<u8>) -> serde_json::Result<()> {
    out.clear();
    serde_json::to_writer(out, frame)
}

/// serde_json: borrowing decode into the struct, then touch.
#[inline]
pub fn json_decode_touch(bytes: &[u8]) -> serde_json::Result<u64> {
    let frame: WireFrame<'_> = serde_json::from_slice(bytes)?;
    Ok(frame.touch())
}
