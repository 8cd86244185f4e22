//! Recovery: reading the segment files back after a restart or a crash.
//!
//! Every segment is read whole and checked record by record. A record
//! whose checksum fails is skipped when the record after it is intact (a
//! flipped payload bit costs one record); otherwise, and at a record cut
//! short, reading that segment stops and the rest of it is a *torn tail*:
//! counted and truncated, so it is reported once and appends never follow
//! garbage. A damaged header is survivable: the file name carries the same
//! first id, and each record's checksum covers its id. No length is
//! trusted before it is checked against the bytes actually there, so a
//! corrupt length costs no allocation, and reading is linear in the file
//! size. Parsing is a pure function of the files' bytes: the same files
//! give the same records.

use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::config::MAX_RECORD_LIMIT;
use super::error::SpoolError;
use super::record::{self, Decoded, RECORD_HEADER, RecordId};
use super::segment::{self, BadHeader, SEGMENT_HEADER, Segment};

/// A record found unreleased at open: send it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredRecord {
    /// Its id, for [`Spool::release`](super::Spool::release).
    pub id: RecordId,
    /// The payload as appended (a slice of the segment read from disk).
    pub payload: Bytes,
}

/// What [`Spool::open`](super::Spool::open) found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// Segment files found.
    pub segments: usize,
    /// Unreleased records recovered (the length of
    /// [`Recovery::records`]).
    pub records: u64,
    /// Intact records below the persisted release watermark: released
    /// before the restart, not returned.
    pub released: u64,
    /// Records skipped because their checksum failed while the record
    /// after them was intact.
    pub corrupt_records: u64,
    /// Segments whose header was damaged (read by the id in their name).
    pub corrupt_headers: usize,
    /// Bytes at segment ends that held no valid record (a write cut short
    /// by a crash, or damage), truncated.
    pub torn_bytes: u64,
    /// Segments deleted because nothing in them was unreleased.
    pub segments_deleted: usize,
    /// The release watermark read from disk (`None`: none, or both copies
    /// damaged, so every intact record is returned).
    pub watermark: Option<RecordId>,
    /// The id the next append gets.
    pub next_id: RecordId,
}

/// The result of opening a spool: the records to send again, in id order,
/// and what recovery found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Unreleased records, oldest first.
    pub records: Vec<RecoveredRecord>,
    /// Counts of what was found, skipped and repaired.
    pub report: RecoveryReport,
}

/// One segment's bytes, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// The header was missing, damaged or named another id.
    pub(crate) bad_header: bool,
    /// Intact records: id and payload range, ascending.
    pub(crate) records: Vec<(u64, Range<usize>)>,
    /// Records skipped for a failed checksum.
    pub(crate) corrupt: u64,
    /// One past the last id read (intact or skipped).
    pub(crate) end_id: u64,
    /// Bytes up to the end of the last intact record (or the header).
    pub(crate) valid_len: usize,
}

/// Checks the bytes of the segment named `first_id`. Stops at `limit_id`
/// (the next segment's first id), so no id is read twice.
pub(crate) fn parse(first_id: u64, buf: &[u8], limit_id: u64) -> Result<Parsed, u32> {
    let bad_header = match segment::decode_header(buf) {
        Ok(id) => id != first_id,
        Err(BadHeader::Version(v)) => return Err(v),
        Err(BadHeader::Short | BadHeader::Corrupt) => true,
    };
    let mut p = Parsed {
        bad_header,
        records: Vec::new(),
        corrupt: 0,
        end_id: first_id,
        valid_len: buf.len().min(SEGMENT_HEADER),
    };
    if buf.len() < SEGMENT_HEADER {
        // A crash while the header was written; nothing to read.
        p.valid_len = 0;
        return Ok(p);
    }
    let mut at = SEGMENT_HEADER;
    let mut id = first_id;
    while id < limit_id {
        let rest = &buf[at..];
        match record::decode(rest, id, MAX_RECORD_LIMIT) {
            Decoded::Record { size } => {
                p.records.push((id, at + RECORD_HEADER..at + size));
                at += size;
                id += 1;
                p.valid_len = at;
            }
            Decoded::BadChecksum { size } if id + 1 < limit_id => {
                // Skip it only if the next record proves the length right.
                let next = &rest[size..];
                if !matches!(
                    record::decode(next, id + 1, MAX_RECORD_LIMIT),
                    Decoded::Record { .. }
                ) {
                    break;
                }
                p.corrupt += 1;
                at += size;
                id += 1;
            }
            _ => break,
        }
    }
    p.end_id = id;
    Ok(p)
}

/// A segment kept after recovery.
#[derive(Debug)]
pub(crate) struct Kept {
    pub(crate) segment: Segment,
    pub(crate) path: PathBuf,
}

/// The result of [`scan`]: what to keep, what to repair.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub(crate) kept: Vec<Kept>,
    pub(crate) records: Vec<RecoveredRecord>,
    pub(crate) report: RecoveryReport,
    /// Files to truncate to a length (torn tails).
    pub(crate) truncate: Vec<(PathBuf, u64)>,
    /// Files to delete (nothing unreleased in them).
    pub(crate) delete: Vec<PathBuf>,
    /// The lowest unreleased id, or `next_id` if none.
    pub(crate) watermark: u64,
    pub(crate) next_id: u64,
}

/// Reads every segment in `dir`; changes nothing on disk. Records below
/// `watermark` count as released.
pub(crate) fn scan(dir: &Path, watermark: Option<u64>) -> Result<Scan, SpoolError> {
    let mut names: Vec<(u64, PathBuf)> = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| SpoolError::io("read_dir", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| SpoolError::io("read_dir", dir, e))?;
        let name = entry.file_name();
        if let Some(id) = name.to_str().and_then(segment::parse_name) {
            names.push((id, entry.path()));
        }
    }
    names.sort_unstable_by_key(|(id, _)| *id);
    let floor = watermark.unwrap_or(0);
    let mut s = Scan {
        report: RecoveryReport {
            segments: names.len(),
            watermark: watermark.map(RecordId),
            ..RecoveryReport::default()
        },
        next_id: floor,
        ..Scan::default()
    };
    for (i, (first_id, path)) in names.iter().enumerate() {
        let limit = names.get(i + 1).map_or(u64::MAX, |(next, _)| *next);
        let buf = Bytes::from(fs::read(path).map_err(|e| SpoolError::io("read", path, e))?);
        let p =
            parse(*first_id, &buf, limit).map_err(|version| SpoolError::UnsupportedVersion {
                path: path.clone(),
                version,
            })?;
        s.report.corrupt_headers += usize::from(p.bad_header);
        s.report.corrupt_records += p.corrupt;
        let torn = (buf.len() - p.valid_len) as u64;
        s.report.torn_bytes += torn;
        s.next_id = s.next_id.max(p.end_id);
        let mut seg = Segment::new(*first_id, SEGMENT_HEADER as u64);
        let mut records = p.records.iter().peekable();
        for id in *first_id..p.end_id {
            match records.next_if(|(rid, _)| *rid == id) {
                Some((_, range)) => {
                    let live = id >= floor;
                    seg.push(live, (RECORD_HEADER + range.len()) as u64);
                    if live {
                        s.records.push(RecoveredRecord {
                            id: RecordId(id),
                            payload: buf.slice(range.clone()),
                        });
                    } else {
                        s.report.released += 1;
                    }
                }
                None => seg.skip(1),
            }
        }
        // Skipped records' bytes still occupy the file.
        seg.bytes = p.valid_len.max(SEGMENT_HEADER) as u64;
        if seg.live_count == 0 {
            s.delete.push(path.clone());
            s.report.segments_deleted += 1;
            continue;
        }
        if torn > 0 {
            s.truncate.push((path.clone(), p.valid_len as u64));
        }
        s.kept.push(Kept {
            segment: seg,
            path: path.clone(),
        });
    }
    s.report.records = s.records.len() as u64;
    s.watermark = s.records.first().map_or(s.next_id, |r| r.id.0);
    s.report.next_id = RecordId(s.next_id);
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(first_id: u64, payloads: &[&[u8]]) -> Vec<u8> {
        let mut buf = segment::encode_header(first_id).to_vec();
        for (i, p) in payloads.iter().enumerate() {
            record::encode(&mut buf, first_id + i as u64, p);
        }
        buf
    }

    #[test]
    fn intact_segment() {
        let buf = segment(10, &[b"a", b"bb", b""]);
        let p = parse(10, &buf, u64::MAX).unwrap();
        assert!(!p.bad_header);
        assert_eq!(p.end_id, 13);
        assert_eq!(p.valid_len, buf.len());
        let payloads: Vec<&[u8]> = p.records.iter().map(|(_, r)| &buf[r.clone()]).collect();
        assert_eq!(payloads, [&b"a"[..], b"bb", b""]);
    }

    #[test]
    fn flipped_payload_costs_one_record() {
        let mut buf = segment(0, &[b"one", b"two", b"three"]);
        let second = SEGMENT_HEADER + RECORD_HEADER + 3 + RECORD_HEADER;
        buf[second] ^= 0x10;
        let p = parse(0, &buf, u64::MAX).unwrap();
        let ids: Vec<u64> = p.records.iter().map(|(id, _)| *id).collect();
        assert_eq!((ids, p.corrupt, p.valid_len), (vec![0, 2], 1, buf.len()));
    }

    #[test]
    fn damaged_header_is_read_by_name() {
        let mut buf = segment(5, &[b"x"]);
        buf[0] ^= 1;
        let p = parse(5, &buf, u64::MAX).unwrap();
        assert!(p.bad_header);
        assert_eq!(p.records.len(), 1);
        let p = parse(6, &buf, u64::MAX).unwrap();
        assert!(p.records.is_empty(), "ids are in the checksums");
    }

    #[test]
    fn stops_at_the_next_segment() {
        let buf = segment(0, &[b"a", b"b", b"c"]);
        let p = parse(0, &buf, 2).unwrap();
        assert_eq!(p.end_id, 2);
        assert!(p.valid_len < buf.len());
    }

    #[test]
    fn newer_version_is_refused() {
        let mut h = segment::encode_header(0);
        h[8] = 2;
        let crc = crc32fast::hash(&h[..28]);
        h[28..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(parse(0, &h, u64::MAX), Err(2));
    }
}
