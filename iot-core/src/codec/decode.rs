//! Decoding data frames into borrowed views.

use core::iter::FusedIterator;

use super::error::{DecodeError, DecodeErrorKind, Field, MessageKind};
use super::fast;
use super::header;
use super::reader::Reader;
use super::wire::{self, ty};
use super::{AliasResolver, Channel, FrameHeader, Limits, Reading};

/// A validated data frame borrowed from its input.
///
/// Created by [`decode_frame`]. Every byte was checked when the view was
/// made, so iterating [`FrameView::readings`] cannot fail and does not
/// allocate.
#[derive(Debug, Clone, Copy)]
pub struct FrameView<'a> {
    header: FrameHeader<'a>,
    count: usize,
    readings: &'a [u8],
    raw: &'a [u8],
    checksum: bool,
}

/// Decodes and validates a data frame.
///
/// This is the single validating pass: version, flags, checksum, lengths
/// against `limits`, UTF-8, device-id rules and every reading's tag. Errors
/// carry the byte offset where the problem was found.
#[inline]
pub fn decode_frame<'a>(buf: &'a [u8], limits: &Limits) -> Result<FrameView<'a>, DecodeError> {
    match fast::validate_frame(buf, limits) {
        Some(layout) => {
            // Debug builds and the fuzzers check the lean validator against
            // the detailed one on every frame it accepts.
            #[cfg(any(debug_assertions, fuzzing))]
            assert!(
                decode_frame_detailed(buf, limits).is_ok(),
                "the lean validator accepted a frame the detailed one rejects"
            );
            Ok(FrameView {
                header: FrameHeader {
                    device_id: layout.device_id,
                    seq: layout.seq,
                    timestamp_ms: layout.timestamp_ms,
                },
                count: layout.count,
                readings: layout.readings,
                raw: buf,
                checksum: layout.checksum,
            })
        }
        None => decode_frame_detailed(buf, limits),
    }
}

/// The validator that explains: every check with its offset and cause.
#[cold]
#[inline(never)]
fn decode_frame_detailed<'a>(buf: &'a [u8], limits: &Limits) -> Result<FrameView<'a>, DecodeError> {
    let parsed = header::parse(buf, limits, MessageKind::Data)?;
    let mut r = parsed.body;
    let start = r.pos();
    for _ in 0..parsed.count {
        skip_reading(&mut r, limits)?;
    }
    if r.remaining() != 0 {
        return Err(r.error(DecodeErrorKind::TrailingBytes {
            count: r.remaining(),
        }));
    }
    Ok(FrameView {
        header: parsed.header,
        count: parsed.count,
        readings: &buf[start..r.pos()],
        raw: buf,
        checksum: parsed.checksum,
    })
}

impl<'a> FrameView<'a> {
    /// Device id, sequence number and timestamp.
    pub fn header(&self) -> FrameHeader<'a> {
        self.header
    }
    /// The sending device's id (already validated).
    pub fn device_id(&self) -> &'a str {
        self.header.device_id
    }
    /// The frame's sequence number.
    pub fn seq(&self) -> u64 {
        self.header.seq
    }
    /// The frame timestamp, milliseconds since the Unix epoch.
    pub fn timestamp_ms(&self) -> u64 {
        self.header.timestamp_ms
    }
    /// Number of readings.
    pub fn len(&self) -> usize {
        self.count
    }
    /// Whether the frame has no readings.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// Whether the frame carried (and passed) a CRC-32 trailer.
    pub fn has_checksum(&self) -> bool {
        self.checksum
    }
    /// The whole encoded message, e.g. to forward it without re-encoding.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }
    /// Iterates the readings without allocating or re-validating.
    pub fn readings(&self) -> Readings<'a> {
        Readings {
            buf: self.readings,
            pos: 0,
            remaining: self.count,
        }
    }
}

/// Iterator over a [`FrameView`]'s readings.
#[derive(Debug, Clone)]
pub struct Readings<'a> {
    buf: &'a [u8],
    pos: usize,
    remaining: usize,
}

impl<'a> Iterator for Readings<'a> {
    type Item = Reading<'a>;

    #[inline]
    fn next(&mut self) -> Option<Reading<'a>> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        // Validated by `decode_frame`: the trusted parse cannot fail.
        fast::read_trusted(self.buf, &mut self.pos)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Readings<'_> {}
impl FusedIterator for Readings<'_> {}

impl<'a> Channel<'a> {
    /// The channel's name: its own, or the one `aliases` knows for its alias.
    pub fn name<'r>(&self, aliases: &'r impl AliasResolver) -> Option<&'r str>
    where
        'a: 'r,
    {
        match *self {
            Channel::Name(n) => Some(n),
            Channel::Alias(a) => aliases.name_of(a),
        }
    }
}

/// Validates one reading without building it: the checked pass only needs
/// to know that every field is well-formed and where the reading ends.
///
/// Must accept exactly the valid readings of `docs/wire-format.md`, like
/// `fast::skip_reading` (which may decline some) and `fast::read_trusted`.
#[inline(always)]
fn skip_reading(r: &mut Reader<'_>, limits: &Limits) -> Result<(), DecodeError> {
    let tag_at = r.pos();
    let tag = r.u8()?;
    if tag & wire::TAG_RESERVED != 0 {
        return Err(DecodeError::new(
            tag_at,
            DecodeErrorKind::ReservedTagBit { tag },
        ));
    }
    if tag & wire::TAG_NAMED != 0 {
        read_str::<true>(r, Field::ChannelName, limits.max_str_len)?;
    } else {
        read_u32::<true>(r, "channel alias")?;
    }
    if tag & wire::TAG_OFFSET != 0 {
        r.varint()?;
    }
    if tag & wire::TAG_UNIT != 0 {
        read_str::<true>(r, Field::Unit, limits.max_str_len)?;
    }
    match tag & wire::TAG_TYPE_MASK {
        ty::F64 => {
            r.take(8)?;
        }
        ty::F64_AS_F32 | ty::F32 => {
            r.take(4)?;
        }
        ty::I64 | ty::U64 => {
            r.varint()?;
        }
        ty::FALSE | ty::TRUE => {}
        ty::STR => {
            read_str::<true>(r, Field::StringValue, limits.max_str_len)?;
        }
        ty::BYTES => {
            read_bytes::<true>(r, Field::BytesValue, limits.max_bytes_len)?;
        }
        value_type => {
            return Err(DecodeError::new(
                tag_at,
                DecodeErrorKind::UnknownValueType { tag, value_type },
            ));
        }
    }
    Ok(())
}

#[inline(always)]
pub(crate) fn read_u32<const CHECK: bool>(
    r: &mut Reader<'_>,
    what: &'static str,
) -> Result<u32, DecodeError> {
    let at = r.pos();
    let v = r.varint()?;
    if CHECK && v > u64::from(u32::MAX) {
        return Err(DecodeError::new(
            at,
            DecodeErrorKind::OutOfRange { what, value: v },
        ));
    }
    Ok(v as u32)
}

#[inline(always)]
pub(crate) fn read_bytes<'a, const CHECK: bool>(
    r: &mut Reader<'a>,
    field: Field,
    max: usize,
) -> Result<&'a [u8], DecodeError> {
    let at = r.pos();
    let len = r.varint()?;
    if CHECK && len > max as u64 {
        return Err(DecodeError::new(
            at,
            DecodeErrorKind::TooLong { field, len, max },
        ));
    }
    // `len` fits in usize here (checked above, or validated earlier).
    r.take(len as usize)
}

#[inline(always)]
pub(crate) fn read_str<'a, const CHECK: bool>(
    r: &mut Reader<'a>,
    field: Field,
    max: usize,
) -> Result<&'a str, DecodeError> {
    let bytes = read_bytes::<CHECK>(r, field, max)?;
    super::utf8::to_str::<CHECK>(bytes).ok_or_else(|| {
        DecodeError::new(
            r.pos() - bytes.len(),
            DecodeErrorKind::InvalidUtf8 { field },
        )
    })
}
