//! SenML (RFC 8428) JSON and CBOR packs, through `iot_core::senml`.
//!
//! A frame becomes one pack: the first record carries `bn =
//! "<device_id>/"` and `bt` (the frame timestamp in seconds), every reading
//! is a record with its channel name (SenML has no aliases) and a relative
//! `t` when it has a time offset. SenML has no sequence number, and SenML
//! JSON has no integers (its numbers are doubles); see `docs/senml.md`.
//! Encoding starts from the named readings, so no alias lookup is timed.

use iot_core::codec::{FrameHeader, Limits, NoAliases, Reading};
use iot_core::senml::{Record, SenmlEncodeError, SenmlError, decode_cbor, decode_json};

use crate::touch;

/// SenML JSON: encodes into `out` (cleared first; capacity reused).
#[inline]
pub fn json_encode(
    header: &FrameHeader<'_>,
    readings: &[Reading<'_>],
    out: &mut Vec<u8>,
) -> Result<(), SenmlEncodeError> {
    out.clear();
    iot_core::senml::encode_json(header, readings, &NoAliases, out)
}

/// SenML CBOR: encodes into `out` (cleared first; capacity reused).
#[inline]
pub fn cbor_encode(
    header: &FrameHeader<'_>,
    readings: &[Reading<'_>],
    out: &mut Vec<u8>,
) -> Result<(), SenmlEncodeError> {
    out.clear();
    iot_core::senml::encode_cbor(header, readings, &NoAliases, out)
}

/// Folds every field of every resolved record into a checksum: name, value,
/// unit and time (SenML's records carry no separate header).
#[inline]
pub fn touch_records(records: &[Record<'_>]) -> u64 {
    records.iter().fold(touch::SEED, |acc, r| {
        let value = r
            .value
            .as_ref()
            .map_or(0, |v| touch::value_key(&v.as_value()));
        let unit = r.unit.as_deref().map_or(0, touch::name_key);
        let time = r.time.secs().to_bits();
        touch::mix(
            acc,
            touch::reading_key(touch::name_key(&r.name), value ^ unit, time),
        )
    })
}

/// SenML JSON: decode (resolve base fields, validate names), then touch.
#[inline]
pub fn json_decode_touch(bytes: &[u8], limits: &Limits) -> Result<u64, SenmlError> {
    Ok(touch_records(&decode_json(bytes, limits)?))
}

/// SenML CBOR: decode (resolve base fields, validate names), then touch.
#[inline]
pub fn cbor_decode_touch(bytes: &[u8], limits: &Limits) -> Result<u64, SenmlError> {
    Ok(touch_records(&decode_cbor(bytes, limits)?))
}
