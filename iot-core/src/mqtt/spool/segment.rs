//! Segment files: their header and name, and the in-memory account of
//! which of a segment's records are still unreleased.
//!
//! ```text
//! header (32 bytes): magic "IOTSPOOL" | version: u32 LE | reserved: u32
//!                    | first_id: u64 LE | reserved: u32 | crc: u32 LE
//! then records (see `record.rs`), ids first_id, first_id + 1, ...
//! file name: <first_id, 20 decimal digits>.seg
//! ```
//!
//! The header names the first record id so ids survive restarts and the
//! deletion of older segments; the file name repeats it so a directory
//! listing sorts segments in id order without opening them. The header has
//! its own checksum: a damaged header makes the whole segment unreadable,
//! since every record's id (and so its checksum) depends on it.

/// Bytes of a segment header.
pub(crate) const SEGMENT_HEADER: usize = 32;
const MAGIC: &[u8; 8] = b"IOTSPOOL";
const VERSION: u32 = 1;
const SUFFIX: &str = ".seg";

/// The header of a segment whose first record is `first_id`.
pub(crate) fn encode_header(first_id: u64) -> [u8; SEGMENT_HEADER] {
    let mut h = [0u8; SEGMENT_HEADER];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&first_id.to_le_bytes());
    let crc = crc32fast::hash(&h[..28]);
    h[28..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Why a header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadHeader {
    /// Shorter than a header.
    Short,
    /// Wrong magic or checksum.
    Corrupt,
    /// A format version this code does not know.
    Version(u32),
}

/// The first record id from a segment's header.
pub(crate) fn decode_header(buf: &[u8]) -> Result<u64, BadHeader> {
    let h = buf.get(..SEGMENT_HEADER).ok_or(BadHeader::Short)?;
    let word = |at: usize| u32::from_le_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
    if &h[..8] != MAGIC || crc32fast::hash(&h[..28]) != word(28) {
        return Err(BadHeader::Corrupt);
    }
    if word(8) != VERSION {
        return Err(BadHeader::Version(word(8)));
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&h[16..24]);
    Ok(u64::from_le_bytes(id))
}

/// The file name of the segment starting at `first_id`.
pub(crate) fn file_name(first_id: u64) -> String {
    format!("{first_id:020}{SUFFIX}")
}

/// The first id in a segment file name, or `None` for other files.
pub(crate) fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// One segment's records: which ids it holds and which are unreleased.
#[derive(Debug)]
pub(crate) struct Segment {
    /// The id of its first record slot.
    pub(crate) first_id: u64,
    /// Record slots: ids `first_id..first_id + slots`. A slot is dead when
    /// released, dropped, or found corrupt at recovery.
    slots: u64,
    /// Bit `i` set: record `first_id + i` is unreleased.
    live: Vec<u64>,
    /// Unreleased records.
    pub(crate) live_count: u64,
    /// Every slot below this is dead (a hint for the watermark).
    first_live: u64,
    /// The file's length.
    pub(crate) bytes: u64,
}

impl Segment {
    /// An empty segment of `bytes` (its header).
    pub(crate) fn new(first_id: u64, bytes: u64) -> Self {
        Self {
            first_id,
            slots: 0,
            live: Vec::new(),
            live_count: 0,
            first_live: 0,
            bytes,
        }
    }

    /// One past its last id.
    pub(crate) fn end_id(&self) -> u64 {
        self.first_id + self.slots
    }

    /// Adds the next id's slot, `live` or not, of `size` bytes.
    pub(crate) fn push(&mut self, live: bool, size: u64) {
        let i = self.slots;
        if i % 64 == 0 {
            self.live.push(0);
        }
        if live {
            self.live[(i / 64) as usize] |= 1 << (i % 64);
            self.live_count += 1;
        }
        self.slots += 1;
        self.bytes += size;
    }

    /// Adds `n` dead slots (ids lost to corruption).
    pub(crate) fn skip(&mut self, n: u64) {
        for _ in 0..n {
            self.push(false, 0);
        }
    }

    /// Marks `id` released; whether it was unreleased.
    pub(crate) fn release(&mut self, id: u64) -> bool {
        let Some(i) = id.checked_sub(self.first_id).filter(|&i| i < self.slots) else {
            return false;
        };
        let (word, bit) = ((i / 64) as usize, 1u64 << (i % 64));
        if self.live[word] & bit == 0 {
            return false;
        }
        self.live[word] &= !bit;
        self.live_count -= 1;
        true
    }

    /// Its lowest unreleased id. Amortized O(1): the scan resumes where the
    /// last one stopped, since slots only ever die.
    pub(crate) fn first_live_id(&mut self) -> Option<u64> {
        if self.live_count == 0 {
            self.first_live = self.slots;
            return None;
        }
        while self.first_live < self.slots {
            let i = self.first_live;
            let word = self.live[(i / 64) as usize] >> (i % 64);
            if word != 0 {
                self.first_live += u64::from(word.trailing_zeros());
                return Some(self.first_id + self.first_live);
            }
            // Nothing live in the rest of this word.
            self.first_live = (i / 64 + 1) * 64;
        }
        self.first_live = self.slots;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_damage() {
        let h = encode_header(123_456);
        assert_eq!(decode_header(&h), Ok(123_456));
        assert_eq!(decode_header(&h[..31]), Err(BadHeader::Short));
        for bit in 0..SEGMENT_HEADER * 8 {
            let mut b = h;
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(decode_header(&b).is_err(), "flip {bit}");
        }
    }

    #[test]
    fn names_sort_by_id() {
        assert_eq!(parse_name(&file_name(42)), Some(42));
        assert_eq!(parse_name(&file_name(u64::MAX)), Some(u64::MAX));
        assert!(file_name(9) < file_name(10));
        for bad in ["42.seg", "0000000000000000004x.seg", "watermark", ".seg"] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn live_slots_and_first_live() {
        let mut s = Segment::new(100, 32);
        for i in 0..200 {
            s.push(i != 3, 10);
        }
        assert_eq!((s.end_id(), s.live_count, s.bytes), (300, 199, 2032));
        assert_eq!(s.first_live_id(), Some(100));
        assert!(s.release(100));
        assert!(!s.release(100), "twice");
        assert!(!s.release(103), "dead from the start");
        assert!(!s.release(300), "outside");
        assert_eq!(s.first_live_id(), Some(101));
        for id in 101..290 {
            s.release(id);
        }
        assert_eq!(s.first_live_id(), Some(290));
        for id in 290..300 {
            s.release(id);
        }
        assert_eq!((s.first_live_id(), s.live_count), (None, 0));
    }
}
