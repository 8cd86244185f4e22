//! The release watermark: the lowest unreleased record id, persisted so
//! recovery does not hand back records the broker already acknowledged.
//!
//! ```text
//! file "watermark": two 32-byte slots, written alternately
//! slot: magic "ISWM" | version: u32 LE | seq: u64 LE | watermark: u64 LE
//!       | reserved: u32 | crc: u32 LE (of the first 28 bytes)
//! ```
//!
//! Only the watermark is kept, not every out-of-order release above it:
//! one small `pwrite` per advance, no log to compact. Recovery re-sends the
//! records released above the watermark (at most the publisher's in-flight
//! window: acknowledgements arrive out of order only within it). Two slots,
//! each with a sequence number and a checksum, so a write torn by a power
//! failure leaves the previous value readable; recovery takes the valid
//! slot with the highest sequence number. An older value only means more
//! records re-sent, never a record skipped: the watermark only grows.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::SpoolError;

/// The watermark file's name in the spool directory.
pub(crate) const FILE_NAME: &str = "watermark";
const SLOT: usize = 32;
const MAGIC: &[u8; 4] = b"ISWM";
const VERSION: u32 = 1;

fn encode_slot(seq: u64, watermark: u64) -> [u8; SLOT] {
    let mut s = [0u8; SLOT];
    s[..4].copy_from_slice(MAGIC);
    s[4..8].copy_from_slice(&VERSION.to_le_bytes());
    s[8..16].copy_from_slice(&seq.to_le_bytes());
    s[16..24].copy_from_slice(&watermark.to_le_bytes());
    let crc = crc32fast::hash(&s[..28]);
    s[28..].copy_from_slice(&crc.to_le_bytes());
    s
}

/// `(seq, watermark)` of a valid slot.
fn decode_slot(s: &[u8]) -> Option<(u64, u64)> {
    let s = s.get(..SLOT)?;
    let u64_at = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(b)
    };
    let crc = u32::from_le_bytes([s[28], s[29], s[30], s[31]]);
    (&s[..4] == MAGIC && s[4..8] == VERSION.to_le_bytes() && crc32fast::hash(&s[..28]) == crc)
        .then(|| (u64_at(8), u64_at(16)))
}

/// The newest valid `(seq, watermark)` in the file's bytes.
pub(crate) fn decode(buf: &[u8]) -> Option<(u64, u64)> {
    let a = decode_slot(buf);
    let b = buf.get(SLOT..).and_then(decode_slot);
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.0 > a.0 { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// The open watermark file.
#[derive(Debug)]
pub(crate) struct Watermark {
    file: Arc<File>,
    path: PathBuf,
    seq: u64,
    value: u64,
    /// Written since the last `fdatasync`.
    dirty: bool,
}

impl Watermark {
    /// Opens (or creates) the file in `dir`. Returns it and the watermark
    /// read, `None` if the file was new, empty or both slots were damaged.
    pub(crate) fn open(dir: &Path) -> Result<(Self, Option<u64>), SpoolError> {
        let path = dir.join(FILE_NAME);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| SpoolError::io("open", &path, e))?;
        let mut buf = Vec::with_capacity(2 * SLOT);
        (&file)
            .take(2 * SLOT as u64)
            .read_to_end(&mut buf)
            .map_err(|e| SpoolError::io("read", &path, e))?;
        let found = decode(&buf);
        let (seq, value) = found.unwrap_or((0, 0));
        let w = Self {
            file: Arc::new(file),
            path,
            seq,
            value,
            dirty: false,
        };
        Ok((w, found.map(|(_, v)| v)))
    }

    /// The value last stored.
    pub(crate) fn value(&self) -> u64 {
        self.value
    }

    /// Writes `value` into the older slot (to the page cache: no sync).
    pub(crate) fn store(&mut self, value: u64) -> Result<(), SpoolError> {
        if value == self.value && self.seq > 0 {
            return Ok(());
        }
        let seq = self.seq + 1;
        let slot = encode_slot(seq, value);
        write_at(&self.file, &slot, (seq % 2) * SLOT as u64)
            .map_err(|e| SpoolError::io("write", &self.path, e))?;
        self.seq = seq;
        self.value = value;
        self.dirty = true;
        Ok(())
    }

    /// The file to `fdatasync`, if written since the last call.
    pub(crate) fn take_dirty(&mut self) -> Option<(Arc<File>, PathBuf)> {
        std::mem::take(&mut self.dirty).then(|| (self.file.clone(), self.path.clone()))
    }
}

#[cfg(unix)]
fn write_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.write_all_at(buf, offset)
}

#[cfg(not(unix))]
fn write_at(mut file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_valid_slot_wins() {
        let a = encode_slot(4, 100);
        let b = encode_slot(5, 120);
        let mut both = [a, b].concat();
        assert_eq!(decode(&both), Some((5, 120)));
        both[SLOT + 20] ^= 1;
        assert_eq!(decode(&both), Some((4, 100)), "torn newer slot");
        both[3] ^= 1;
        assert_eq!(decode(&both), None);
        assert_eq!(decode(&a[..31]), None);
        assert_eq!(decode(&a), Some((4, 100)));
    }
}
