//! The header shared by data frames and birth messages.

use super::error::{DecodeError, DecodeErrorKind, Field, MessageKind};
use super::reader::Reader;
use super::wire::{CRC_LEN, FLAG_BIRTH, FLAG_CHECKSUM, FLAG_EPOCH, FLAG_RESERVED, VERSION};
use super::{FrameHeader, Limits};
use crate::device::{MAX_DEVICE_ID_LEN, validate_device_id};

/// A validated header, and a reader positioned at the entry count.
pub(crate) struct Parsed<'a> {
    pub(crate) header: FrameHeader<'a>,
    pub(crate) checksum: bool,
    /// Reader over the body (checksum trailer excluded), at the first entry.
    pub(crate) body: Reader<'a>,
    pub(crate) count: usize,
}

/// The kind of message in `buf`, from its first byte only.
pub fn peek_kind(buf: &[u8]) -> Result<MessageKind, DecodeError> {
    let first = *buf.first().ok_or(DecodeError::new(
        0,
        DecodeErrorKind::Truncated { needed: 1 },
    ))?;
    check_first_byte(first)?;
    Ok(kind_of(first))
}

fn kind_of(first: u8) -> MessageKind {
    if first & FLAG_BIRTH != 0 {
        MessageKind::Birth
    } else {
        MessageKind::Data
    }
}

fn check_first_byte(first: u8) -> Result<(), DecodeError> {
    let version = first >> 4;
    if version != VERSION {
        return Err(DecodeError::new(
            0,
            DecodeErrorKind::UnsupportedVersion { version },
        ));
    }
    if first & FLAG_RESERVED != 0 {
        return Err(DecodeError::new(
            0,
            DecodeErrorKind::ReservedFlags { flags: first },
        ));
    }
    Ok(())
}

/// Checks size, version, flags and checksum, then reads the fixed fields.
#[inline]
pub(crate) fn parse<'a>(
    buf: &'a [u8],
    limits: &Limits,
    expected: MessageKind,
) -> Result<Parsed<'a>, DecodeError> {
    if buf.len() > limits.max_frame_len {
        return Err(DecodeError::new(
            0,
            DecodeErrorKind::FrameTooLarge {
                len: buf.len(),
                max: limits.max_frame_len,
            },
        ));
    }
    let found = peek_kind(buf)?;
    if found != expected {
        return Err(DecodeError::new(
            0,
            DecodeErrorKind::WrongMessageKind { expected, found },
        ));
    }
    let checksum = buf[0] & FLAG_CHECKSUM != 0;
    let body_end = if checksum {
        verify_crc(buf)?
    } else {
        buf.len()
    };

    let mut r = Reader::new(&buf[..body_end], 1);
    let device_id = read_device_id(&mut r)?;
    let seq = r.varint()?;
    let timestamp_ms = r.varint()?;
    let epoch = if buf[0] & FLAG_EPOCH != 0 {
        r.varint()?
    } else {
        0
    };
    let count = read_count(&mut r, limits.max_readings)?;
    Ok(Parsed {
        header: FrameHeader {
            device_id,
            seq,
            timestamp_ms,
            epoch,
        },
        checksum,
        body: r,
        count,
    })
}

/// Verifies the CRC-32 trailer and returns where the body ends.
fn verify_crc(buf: &[u8]) -> Result<usize, DecodeError> {
    // A checksummed message has at least the header byte and the trailer.
    if buf.len() < 1 + CRC_LEN {
        return Err(DecodeError::new(
            buf.len(),
            DecodeErrorKind::Truncated {
                needed: 1 + CRC_LEN - buf.len(),
            },
        ));
    }
    let body_end = buf.len() - CRC_LEN;
    let mut trailer = [0u8; CRC_LEN];
    trailer.copy_from_slice(&buf[body_end..]);
    let stored = u32::from_le_bytes(trailer);
    let computed = crc32fast::hash(&buf[..body_end]);
    if stored != computed {
        return Err(DecodeError::new(
            body_end,
            DecodeErrorKind::ChecksumMismatch { stored, computed },
        ));
    }
    Ok(body_end)
}

fn read_device_id<'a>(r: &mut Reader<'a>) -> Result<&'a str, DecodeError> {
    let start = r.pos();
    let len = r.varint()?;
    if len > MAX_DEVICE_ID_LEN as u64 {
        return Err(DecodeError::new(
            start,
            DecodeErrorKind::TooLong {
                field: Field::DeviceId,
                len,
                max: MAX_DEVICE_ID_LEN,
            },
        ));
    }
    let at = r.pos();
    let bytes = r.take(len as usize)?;
    let id = super::utf8::to_str::<true>(bytes).ok_or_else(|| {
        DecodeError::new(
            at,
            DecodeErrorKind::InvalidUtf8 {
                field: Field::DeviceId,
            },
        )
    })?;
    validate_device_id(id)
        .map_err(|e| DecodeError::new(at, DecodeErrorKind::InvalidDeviceId(e)))?;
    Ok(id)
}

pub(crate) fn read_count(r: &mut Reader<'_>, max: usize) -> Result<usize, DecodeError> {
    let start = r.pos();
    let count = r.varint()?;
    if count > max as u64 {
        return Err(DecodeError::new(
            start,
            DecodeErrorKind::TooManyReadings { count, max },
        ));
    }
    Ok(count as usize)
}
