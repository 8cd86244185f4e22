//! The lean paths of the decoder: a validator that only answers "valid or
//! not" for the common shapes of frames, and the parser the iterator uses
//! on frames already validated.
//!
//! Why a second validator: precise errors (offset and cause) cost
//! instructions on every field even when nothing is wrong. `decode_frame`
//! runs [`validate_frame`] first and, only when it declines, the detailed
//! validator in `decode.rs`, which accepts every valid frame and describes
//! what is wrong with the others. [`validate_frame`] may decline valid but
//! unusual input (non-ASCII strings, ids of 128 bytes, the 10-byte varint
//! of `u64::MAX`); it must never accept invalid input. Debug builds check
//! every acceptance against the detailed validator.

use super::limits::Limits;
use super::value::{Channel, Reading, Value};
use super::wire::{self, ty};
use crate::device::MAX_DEVICE_ID_LEN;

/// A frame's layout as found by a validator.
pub(crate) struct Layout<'a> {
    pub(crate) device_id: &'a str,
    pub(crate) seq: u64,
    pub(crate) timestamp_ms: u64,
    pub(crate) epoch: u64,
    pub(crate) count: usize,
    pub(crate) readings: &'a [u8],
    pub(crate) checksum: bool,
}

/// ASCII bytes allowed in device ids without further checks (see
/// `device::id`): `A-Z a-z 0-9 - _ . :`.
const PLAIN_ID: [bool; 256] = crate::device::PLAIN_ID_BYTES;

/// Validates a data frame of the common shape, or declines (`None`).
#[inline]
pub(crate) fn validate_frame<'a>(buf: &'a [u8], limits: &Limits) -> Option<Layout<'a>> {
    if buf.len() > limits.max_frame_len {
        return None;
    }
    let first = *buf.first()?;
    // Version 1, data frame; bit 0 checksum, bit 2 epoch.
    if first & !(wire::FLAG_CHECKSUM | wire::FLAG_EPOCH) != 0x10 {
        return None;
    }
    let checksum = first & wire::FLAG_CHECKSUM != 0;
    let body = if checksum {
        let end = buf.len().checked_sub(wire::CRC_LEN)?;
        let stored = u32::from_le_bytes(buf.get(end..)?.try_into().ok()?);
        if end == 0 || crc32fast::hash(&buf[..end]) != stored {
            return None;
        }
        &buf[..end]
    } else {
        buf
    };

    let mut pos = 1;
    let id_len = usize::from(*body.get(pos)?);
    if id_len == 0 || id_len > 0x7f || id_len > MAX_DEVICE_ID_LEN {
        return None;
    }
    let id = body.get(pos + 1..pos + 1 + id_len)?;
    // Branch-free over the id: every byte must be a plain id byte.
    if !id.iter().fold(true, |ok, &b| ok & PLAIN_ID[usize::from(b)]) {
        return None;
    }
    let device_id = super::utf8::to_str::<true>(id)?;
    pos += 1 + id_len;
    let seq = wire::read_varint(body, &mut pos)?;
    let timestamp_ms = wire::read_varint(body, &mut pos)?;
    let epoch = if first & wire::FLAG_EPOCH != 0 {
        wire::read_varint(body, &mut pos)?
    } else {
        0
    };
    let count = wire::read_varint(body, &mut pos)?;
    if count > limits.max_readings as u64 {
        return None;
    }
    let count = count as usize;
    let start = pos;
    for _ in 0..count {
        skip_reading(body, &mut pos, limits)?;
    }
    if pos != body.len() {
        return None;
    }
    Some(Layout {
        device_id,
        seq,
        timestamp_ms,
        epoch,
        count,
        readings: &body[start..],
        checksum,
    })
}

#[inline(always)]
fn skip_reading(b: &[u8], pos: &mut usize, limits: &Limits) -> Option<()> {
    let tag = *b.get(*pos)?;
    *pos += 1;
    if tag & wire::TAG_RESERVED != 0 {
        return None;
    }
    if tag & wire::TAG_NAMED != 0 {
        skip_ascii(b, pos, limits.max_str_len)?;
    } else if wire::read_varint(b, pos)? > u64::from(u32::MAX) {
        return None;
    }
    if tag & wire::TAG_OFFSET != 0 {
        wire::read_varint(b, pos)?;
    }
    if tag & wire::TAG_UNIT != 0 {
        skip_ascii(b, pos, limits.max_str_len)?;
    }
    let fixed = match tag & wire::TAG_TYPE_MASK {
        ty::F64 => 8,
        ty::F64_AS_F32 | ty::F32 => 4,
        ty::FALSE | ty::TRUE => 0,
        ty::I64 | ty::U64 => {
            wire::read_varint(b, pos)?;
            0
        }
        ty::STR => {
            skip_ascii(b, pos, limits.max_str_len)?;
            0
        }
        ty::BYTES => {
            let len = wire::read_varint(b, pos)?;
            if len > limits.max_bytes_len as u64 {
                return None;
            }
            len as usize
        }
        _ => return None,
    };
    *pos = pos.checked_add(fixed).filter(|&end| end <= b.len())?;
    Some(())
}

/// Skips a length-prefixed string, accepting only ASCII (others decline to
/// the detailed validator, which checks full UTF-8).
#[inline(always)]
fn skip_ascii(b: &[u8], pos: &mut usize, max: usize) -> Option<()> {
    let len = wire::read_varint(b, pos)?;
    if len > max as u64 {
        return None;
    }
    let end = pos.checked_add(len as usize)?;
    if !b.get(*pos..end)?.is_ascii() {
        return None;
    }
    *pos = end;
    Some(())
}

/// Parses one reading of a validated frame. Returns `None` only if the
/// input was not validated, which the callers rule out.
#[inline(always)]
pub(crate) fn read_trusted<'a>(b: &'a [u8], pos: &mut usize) -> Option<Reading<'a>> {
    let tag = *b.get(*pos)?;
    *pos += 1;
    let channel = if tag & wire::TAG_NAMED != 0 {
        Channel::Name(trusted_str(b, pos)?)
    } else {
        Channel::Alias(wire::read_varint(b, pos)? as u32)
    };
    let time_offset_ms = if tag & wire::TAG_OFFSET != 0 {
        Some(wire::unzigzag(wire::read_varint(b, pos)?))
    } else {
        None
    };
    let unit = if tag & wire::TAG_UNIT != 0 {
        Some(trusted_str(b, pos)?)
    } else {
        None
    };
    let value = match tag & wire::TAG_TYPE_MASK {
        ty::F64 => Value::F64(f64::from_le_bytes(fixed(b, pos)?)),
        ty::F64_AS_F32 => Value::F64(f64::from(f32::from_le_bytes(fixed(b, pos)?))),
        ty::F32 => Value::F32(f32::from_le_bytes(fixed(b, pos)?)),
        ty::I64 => Value::I64(wire::unzigzag(wire::read_varint(b, pos)?)),
        ty::U64 => Value::U64(wire::read_varint(b, pos)?),
        ty::FALSE => Value::Bool(false),
        ty::TRUE => Value::Bool(true),
        ty::STR => Value::Str(trusted_str(b, pos)?),
        ty::BYTES => Value::Bytes(slice(b, pos)?),
        _ => return None,
    };
    Some(Reading {
        channel,
        value,
        time_offset_ms,
        unit,
    })
}

#[inline(always)]
fn fixed<const N: usize>(b: &[u8], pos: &mut usize) -> Option<[u8; N]> {
    let out: [u8; N] = b.get(*pos..*pos + N)?.try_into().ok()?;
    *pos += N;
    Some(out)
}

#[inline(always)]
fn slice<'a>(b: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let len = wire::read_varint(b, pos)? as usize;
    let s = b.get(*pos..pos.checked_add(len)?)?;
    *pos += len;
    Some(s)
}

#[inline(always)]
fn trusted_str<'a>(b: &'a [u8], pos: &mut usize) -> Option<&'a str> {
    super::utf8::to_str::<false>(slice(b, pos)?)
}
