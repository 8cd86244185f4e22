//! The record format: what one appended payload looks like on disk.
//!
//! ```text
//! len: u32 LE | crc: u32 LE | payload: len bytes
//! crc = CRC-32 (IEEE, the codec's polynomial) of id: u64 LE | len: u32 LE | payload
//! ```
//!
//! The record id is not stored: it is the segment's first id plus the
//! record's position. It is in the checksum all the same, so a record read
//! at the wrong position (after a corrupt length sent the reader astray)
//! fails its check instead of surfacing under another id, and the length is
//! in it so a flipped length bit is caught before the reader trusts it.

use std::fmt;

/// The id of a spooled record: unique within a spool directory and stable
/// across restarts, increasing in append order. Ids lost to corruption or
/// dropped by overflow leave gaps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId(pub(crate) u64);

impl RecordId {
    /// The id `id`, e.g. as stored elsewhere by the caller.
    pub const fn new(id: u64) -> Self {
        Self(id)
    }

    /// The id as a number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Bytes before each payload: length and checksum.
pub(crate) const RECORD_HEADER: usize = 8;

/// The checksum of record `id` with `payload`.
pub(crate) fn checksum(id: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&id.to_le_bytes());
    // Lengths above u32::MAX never get here: `max_record_bytes` is capped.
    h.update(&(payload.len() as u32).to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// Appends record `id` to `out`.
pub(crate) fn encode(out: &mut Vec<u8>, id: u64, payload: &[u8]) {
    out.reserve(RECORD_HEADER + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&checksum(id, payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// What [`decode`] found at a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decoded {
    /// A valid record; its payload is `buf[RECORD_HEADER..size]`.
    Record {
        /// Header plus payload.
        size: usize,
    },
    /// Fewer bytes than the header, or than the length claims: a write that
    /// did not finish (or a corrupt length pointing past the end).
    Incomplete,
    /// The length is plausible and the bytes are there, but the checksum
    /// does not match. `size` is where the next record would start if only
    /// the payload or checksum is damaged.
    BadChecksum {
        /// Header plus the claimed payload length.
        size: usize,
    },
    /// The length exceeds `max_len`: never written by this format.
    BadLength,
}

/// Reads the record `id` at the start of `buf`. Allocates nothing and
/// trusts no length before checking it against `max_len` and `buf`.
pub(crate) fn decode(buf: &[u8], id: u64, max_len: usize) -> Decoded {
    let Some(header) = buf.get(..RECORD_HEADER) else {
        return Decoded::Incomplete;
    };
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len > max_len {
        return Decoded::BadLength;
    }
    let size = RECORD_HEADER + len;
    let Some(payload) = buf.get(RECORD_HEADER..size) else {
        return Decoded::Incomplete;
    };
    if checksum(id, payload) == crc {
        Decoded::Record { size }
    } else {
        Decoded::BadChecksum { size }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_damage() {
        let mut buf = Vec::new();
        encode(&mut buf, 7, b"hello");
        assert_eq!(decode(&buf, 7, 100), Decoded::Record { size: 13 });
        assert_eq!(
            decode(&buf, 8, 100),
            Decoded::BadChecksum { size: 13 },
            "the id is checked"
        );
        assert_eq!(decode(&buf, 7, 4), Decoded::BadLength);
        for cut in 0..buf.len() {
            assert_eq!(decode(&buf[..cut], 7, 100), Decoded::Incomplete, "{cut}");
        }
        for bit in 0..buf.len() * 8 {
            let mut b = buf.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(
                !matches!(decode(&b, 7, 100), Decoded::Record { .. }),
                "flip {bit} undetected"
            );
        }
    }

    #[test]
    fn empty_payload() {
        let mut buf = Vec::new();
        encode(&mut buf, 0, b"");
        assert_eq!(decode(&buf, 0, 0), Decoded::Record { size: 8 });
    }
}
