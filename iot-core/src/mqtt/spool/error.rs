//! The spool's typed errors.

use std::io;
use std::path::PathBuf;

use crate::mqtt::ConfigError;

/// Why a spool operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolError {
    /// The configuration is invalid; `field` names the offending field
    /// (`spool.segment_bytes`, ...).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A file-system call failed.
    #[error("spool: {op} {}: {source}", path.display())]
    Io {
        /// What was being done (`write`, `fdatasync`, `open`, ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The record is larger than [`SpoolConfig::max_record_bytes`](super::SpoolConfig::max_record_bytes).
    #[error("spool: record of {len} bytes exceeds max_record_bytes {max}")]
    RecordTooLarge {
        /// The payload's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The spool is full and its overflow policy is
    /// [`RejectNew`](crate::mqtt::OverflowPolicy::RejectNew): nothing was
    /// written. Space comes back as records are released.
    #[error("spool full: {bytes} bytes on disk, {needed} more needed, max_bytes {max_bytes}")]
    Full {
        /// Bytes of segment files on disk now.
        bytes: u64,
        /// Bytes the record would add (header included).
        needed: u64,
        /// The limit.
        max_bytes: u64,
    },
    /// A segment file was written by a newer format version: this code
    /// neither reads nor deletes it.
    #[error("spool: {} has format version {version}, not 1", path.display())]
    UnsupportedVersion {
        /// The segment file.
        path: PathBuf,
        /// Its version.
        version: u32,
    },
    /// An earlier `fdatasync` or write failed, so what reached the disk is
    /// unknown (after a failed `fsync`, Linux may drop the dirty pages and
    /// report success to the next one): the spool accepts nothing more.
    /// Open it again to recover what is on disk.
    #[error("spool failed earlier and accepts nothing more: {reason}")]
    Failed {
        /// The first failure.
        reason: String,
    },
}

impl SpoolError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
