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
                    epoch: layout.epoch,
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

/// Where a validated frame's readings lie in its buffer, and what its
/// header said: what the holder of an immutable, already validated buffer
/// keeps to rebuild the [`FrameView`] without validating again (the MQTT
/// consumer's `ReceivedFrame`).
#[cfg(feature = "mqtt")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameLayout {
    seq: u64,
    timestamp_ms: u64,
    epoch: u64,
    count: usize,
    readings: (usize, usize),
    checksum: bool,
}

#[cfg(feature = "mqtt")]
impl FrameLayout {
    /// The frame's sequence number.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// The frame's timestamp, milliseconds since the Unix epoch.
    pub(crate) fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }

    /// The sender's session epoch, `0` for none.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The view over `buf`, the very bytes `FrameView::layout` was taken
    /// from, with `device_id` equal to the frame's.
    pub(crate) fn view<'a>(&self, buf: &'a [u8], device_id: &'a str) -> FrameView<'a> {
        FrameView {
            header: FrameHeader {
                device_id,
                seq: self.seq,
                timestamp_ms: self.timestamp_ms,
                epoch: self.epoch,
            },
            count: self.count,
            // In range for the buffer the layout came from; an empty slice
            // otherwise, which the trusted reader ends on.
            readings: buf.get(self.readings.0..self.readings.1).unwrap_or(&[]),
            raw: buf,
            checksum: self.checksum,
        }
    }
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
    /// The sender's session epoch, `0` for none.
    pub fn epoch(&self) -> u64 {
        self.header.epoch
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
    /// The layout to rebuild this view later over the same buffer.
    #[cfg(feature = "mqtt")]
    pub(crate) fn layout(&self) -> FrameLayout {
        // `readings` is a subslice of `raw`; its offset is address arithmetic.
        let start = (self.readings.as_ptr() as usize).wrapping_sub(self.raw.as_ptr() as usize);
        FrameLayout {
            seq: self.header.seq,
            timestamp_ms: self.header.timestamp_ms,
            epoch: self.header.epoch,
            count: self.count,
            readings: (start, start + self.readings.len()),
            checksum: self.checksum,
        }
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

// `layout` exists for the MQTT consumer only.
#[cfg(all(test, feature = "mqtt"))]
mod tests {
    use super::*;
    use crate::codec::{Encoder, Value};

    /// A view rebuilt from its layout equals the validated one, field by
    /// field and reading by reading.
    #[test]
    fn layout_rebuilds_the_same_view() {
        let many: Vec<Reading<'_>> = (0..40)
            .map(|i| Reading::new(Channel::Alias(i), Value::U64(u64::from(i) << 20)))
            .collect();
        let frames: [(bool, Vec<Reading<'_>>); 4] = [
            (false, Vec::new()),
            (
                true,
                vec![
                    Reading::new(Channel::Name("temperature"), Value::F64(21.5))
                        .with_unit("Cel")
                        .with_offset_ms(-250),
                    Reading::new(Channel::Alias(7), Value::Str("ok")),
                    Reading::new(Channel::Alias(9), Value::Bytes(&[1, 2, 3, 4])),
                ],
            ),
            (false, many.clone()),
            (true, many),
        ];
        for (checksum, readings) in &frames {
            let header = FrameHeader::new("pump-7", 1 << 40, 1_700_000_000_000);
            let mut buf = std::vec![0u8; 1024];
            let len = Encoder::new()
                .checksum(*checksum)
                .frame(&header, readings, &mut buf)
                .unwrap();
            let buf = &buf[..len];
            let view = decode_frame(buf, &Limits::default()).unwrap();
            let rebuilt = view.layout().view(buf, "pump-7");
            assert_eq!(rebuilt.header(), view.header());
            assert_eq!(rebuilt.len(), view.len());
            assert_eq!(rebuilt.has_checksum(), *checksum);
            assert_eq!(rebuilt.as_bytes(), buf);
            assert!(rebuilt.readings().eq(view.readings()));
            assert!(rebuilt.readings().eq(readings.iter().copied()));
        }
    }
}
