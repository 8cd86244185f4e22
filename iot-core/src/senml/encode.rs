//! The frame -> SenML mapping shared by the JSON and CBOR encoders.

use alloc::string::String;

use super::error::SenmlEncodeError;
use super::float::widen_f32;
use super::record::{RELATIVE_TIME_LIMIT, validate_name, validate_name_chars};
use crate::codec::{AliasResolver, Channel, FrameHeader, Reading, Value};
use crate::device::validate_device_id;

/// The validated frame header, as SenML base fields.
pub(crate) struct Frame<'h> {
    /// Written as `bn = "<device_id>/"`.
    pub device_id: &'h str,
    /// `bt`: the frame timestamp in seconds.
    pub base_time: f64,
}

impl<'h> Frame<'h> {
    pub(crate) fn new(header: &FrameHeader<'h>) -> Result<Self, SenmlEncodeError> {
        let device_id = header.device_id;
        validate_device_id(device_id).map_err(SenmlEncodeError::InvalidDeviceId)?;
        validate_name(device_id).map_err(|error| SenmlEncodeError::InvalidBaseName {
            device_id: String::from(device_id),
            error,
        })?;
        let base_time = header.timestamp_ms as f64 / 1000.0;
        if base_time < RELATIVE_TIME_LIMIT {
            return Err(SenmlEncodeError::TimestampNotAbsolute {
                timestamp_ms: header.timestamp_ms,
            });
        }
        Ok(Self {
            device_id,
            base_time,
        })
    }
}

/// A reading's value as it is written.
#[derive(Clone, Copy)]
pub(crate) enum ValueRef<'r> {
    /// `v`: F64, or F32 widened exactly (NaN payloads included).
    Float(f64),
    /// `v`: I64.
    Int(i64),
    /// `v`: U64.
    UInt(u64),
    /// `vb`.
    Bool(bool),
    /// `vs`.
    Str(&'r str),
    /// `vd`.
    Bytes(&'r [u8]),
}

/// One reading, resolved and checked, ready to be written.
pub(crate) struct EncodedReading<'r> {
    /// `n`: the channel name (written only if non-empty).
    pub name: &'r str,
    /// `u`.
    pub unit: Option<&'r str>,
    /// `t`: the offset in seconds (omitted when the offset is 0 or absent).
    pub time: Option<f64>,
    /// The value field.
    pub value: ValueRef<'r>,
}

impl<'r> EncodedReading<'r> {
    pub(crate) fn new(
        frame: &Frame<'_>,
        index: usize,
        reading: &'r Reading<'_>,
        aliases: &'r dyn AliasResolver,
    ) -> Result<Self, SenmlEncodeError> {
        let (name, unit) = match reading.channel {
            Channel::Name(name) => (name, reading.unit),
            Channel::Alias(alias) => {
                let name = aliases
                    .name_of(alias)
                    .ok_or(SenmlEncodeError::UnknownAlias { index, alias })?;
                (name, reading.unit.or_else(|| aliases.unit_of(alias)))
            }
        };
        // The device id passed the name rules, so "<device_id>/" is a valid
        // prefix and only the channel's characters remain to be checked.
        if let Err(error) = validate_name_chars(name, frame.device_id.len() + 1) {
            let mut full = String::with_capacity(frame.device_id.len() + 1 + name.len());
            full.push_str(frame.device_id);
            full.push('/');
            full.push_str(name);
            return Err(SenmlEncodeError::InvalidName {
                index,
                name: full,
                error,
            });
        }
        let time = match reading.time_offset_ms {
            None | Some(0) => None,
            Some(offset_ms) => {
                let t = offset_ms as f64 / 1000.0;
                // What a decoder will compute as bt + t.
                if frame.base_time + t < RELATIVE_TIME_LIMIT {
                    return Err(SenmlEncodeError::OffsetNotAbsolute { index, offset_ms });
                }
                Some(t)
            }
        };
        let value = match reading.value {
            Value::F64(v) => ValueRef::Float(v),
            Value::F32(v) => ValueRef::Float(widen_f32(v)),
            Value::I64(v) => ValueRef::Int(v),
            Value::U64(v) => ValueRef::UInt(v),
            Value::Bool(b) => ValueRef::Bool(b),
            Value::Str(s) => ValueRef::Str(s),
            Value::Bytes(b) => ValueRef::Bytes(b),
        };
        Ok(Self {
            name,
            unit,
            time,
            value,
        })
    }
}
