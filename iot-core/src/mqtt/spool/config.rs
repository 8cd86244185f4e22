//! The spool's configuration: where, how large, how durable.

use std::path::PathBuf;
use std::time::Duration;

use crate::mqtt::{ConfigError, OverflowPolicy};

use super::record::RECORD_HEADER;
use super::segment::SEGMENT_HEADER;

/// When appended records are forced from the page cache to the disk.
///
/// Every [`append`](super::Spool::append) hands its record to the
/// operating system (`write`) before it returns, whatever the policy: the
/// page cache outlives the process, so a crash or `kill -9` of the process
/// loses no record whose `append` returned. The policy only bounds what a
/// **power failure or kernel crash** can lose:
///
/// | policy | lost on power failure / kernel crash |
/// | --- | --- |
/// | `Always` | nothing that [`wait_durable`](super::Spool::wait_durable) confirmed; records appended but not yet confirmed may be lost |
/// | `Interval(d)` | records appended in the last `d` (plus the time one `fdatasync` takes) |
/// | `Os` | whatever the kernel had not written back yet (Linux: typically up to 30 s, `vm.dirty_expire_centisecs`) |
///
/// With `serde`: `"always"`, `"os"` or `{"interval": "100ms"}` (the
/// interval in [the iot-rs duration format](iot_duration), or integer
/// milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum FsyncPolicy {
    /// Every record is made durable before
    /// [`wait_durable`](super::Spool::wait_durable) confirms it. Concurrent
    /// waiters share one `fdatasync` (group commit): one waiter syncs
    /// everything written so far while the others wait for it.
    Always,
    /// A background thread runs `fdatasync` this often (when something
    /// was written); `wait_durable` does not wait for it.
    Interval(#[cfg_attr(feature = "serde", serde(with = "iot_duration::serde"))] Duration),
    /// Never `fdatasync` (except for [`sync`](super::Spool::sync)): the
    /// kernel writes back when it likes. Loses nothing to a process crash
    /// and costs nothing per record.
    Os,
}

impl Default for FsyncPolicy {
    /// `Interval(1 s)`: a gateway that loses power loses about a second of
    /// records, for one `fdatasync` a second.
    fn default() -> Self {
        FsyncPolicy::Interval(Duration::from_secs(1))
    }
}

/// Configuration of a [`Spool`](super::Spool).
///
/// `Default` leaves [`dir`](Self::dir) empty, which does not validate: use
/// [`new`](Self::new). With `serde`, sizes are integers (bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct SpoolConfig {
    /// The directory of the segment files, created if missing. One spool
    /// per directory, and one process at a time: nothing locks it.
    pub dir: PathBuf,
    /// A segment file is closed and a new one started once the next record
    /// would take it past this many bytes. Space is reclaimed a whole
    /// segment at a time (when all its records are released, or the oldest
    /// one under [`OverflowPolicy::DropOldest`]), so smaller segments
    /// reclaim sooner and drop fewer records at once; each costs a file
    /// creation and, unless the policy is `Os`, two `fsync`s. Default 4 MiB.
    pub segment_bytes: u64,
    /// Most bytes of segment files on disk, headers included. At least two
    /// segments. Default 64 MiB.
    pub max_bytes: u64,
    /// Largest record payload accepted by `append`; must fit in a segment
    /// with its headers. Default 256 KiB, the default
    /// [`max_packet_size`](crate::mqtt::MqttConfig::max_packet_size): set it
    /// to the publisher's largest frame.
    pub max_record_bytes: usize,
    /// When records are forced to the disk. Default
    /// `FsyncPolicy::Interval(1 s)`.
    pub fsync: FsyncPolicy,
    /// What `append` does when the record would take the spool past
    /// [`max_bytes`](Self::max_bytes): delete the oldest segment (every
    /// unreleased record in it counted as dropped), or refuse the record
    /// with [`SpoolError::Full`](super::SpoolError::Full). Default
    /// `DropOldest`, like the publisher's queue.
    pub overflow: OverflowPolicy,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::new(),
            segment_bytes: 4 << 20,
            max_bytes: 64 << 20,
            max_record_bytes: 256 << 10,
            fsync: FsyncPolicy::default(),
            overflow: OverflowPolicy::DropOldest,
        }
    }
}

/// The smallest segment allowed: a header and a few records.
const MIN_SEGMENT: u64 = 4096;
/// The longest interval allowed: longer only widens what a power failure
/// loses without saving anything measurable.
const MAX_INTERVAL: Duration = Duration::from_secs(60);
/// The largest record the format allows (its length field is a `u32`;
/// kept well below so `len + header` never overflows).
pub(crate) const MAX_RECORD_LIMIT: usize = 256 << 20;

impl SpoolConfig {
    /// A spool in `dir`, otherwise default.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            ..Self::default()
        }
    }

    /// Sets [`dir`](Self::dir).
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = dir.into();
        self
    }

    /// Sets [`segment_bytes`](Self::segment_bytes).
    pub fn segment_bytes(mut self, bytes: u64) -> Self {
        self.segment_bytes = bytes;
        self
    }

    /// Sets [`max_bytes`](Self::max_bytes).
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// Sets [`max_record_bytes`](Self::max_record_bytes).
    pub fn max_record_bytes(mut self, bytes: usize) -> Self {
        self.max_record_bytes = bytes;
        self
    }

    /// Sets [`fsync`](Self::fsync).
    pub fn fsync(mut self, policy: FsyncPolicy) -> Self {
        self.fsync = policy;
        self
    }

    /// Sets [`overflow`](Self::overflow).
    pub fn overflow(mut self, policy: OverflowPolicy) -> Self {
        self.overflow = policy;
        self
    }

    /// Checks every field; the error names it (`spool.max_bytes`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.dir.as_os_str().is_empty() {
            return Err(ConfigError::new("spool.dir", "must be set"));
        }
        if self.segment_bytes < MIN_SEGMENT {
            return Err(ConfigError::new(
                "spool.segment_bytes",
                format!("{} is below {MIN_SEGMENT}", self.segment_bytes),
            ));
        }
        if self.max_record_bytes == 0 || self.max_record_bytes > MAX_RECORD_LIMIT {
            return Err(ConfigError::new(
                "spool.max_record_bytes",
                format!(
                    "{} is not within 1..={MAX_RECORD_LIMIT}",
                    self.max_record_bytes
                ),
            ));
        }
        // A record must fit in an empty segment, so every segment but an
        // oversized-record one stays within `segment_bytes`.
        let largest = (SEGMENT_HEADER + RECORD_HEADER + self.max_record_bytes) as u64;
        if largest > self.segment_bytes {
            return Err(ConfigError::new(
                "spool.max_record_bytes",
                format!(
                    "{} plus {} header bytes exceeds segment_bytes {}",
                    self.max_record_bytes,
                    SEGMENT_HEADER + RECORD_HEADER,
                    self.segment_bytes
                ),
            ));
        }
        // Two segments: the active one and one to drop, so a drop-oldest
        // spool always finds room.
        if self.max_bytes < 2 * self.segment_bytes {
            return Err(ConfigError::new(
                "spool.max_bytes",
                format!(
                    "{} is below two segments (2 x segment_bytes {})",
                    self.max_bytes, self.segment_bytes
                ),
            ));
        }
        if let FsyncPolicy::Interval(d) = self.fsync {
            if d.is_zero() || d > MAX_INTERVAL {
                return Err(ConfigError::new(
                    "spool.fsync",
                    format!(
                        "interval {d:?} must be above zero and at most 60 s (`always` syncs every record)"
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_with_dir_validates() {
        SpoolConfig::new("/tmp/x").validate().unwrap();
        assert_eq!(
            SpoolConfig::default().validate().unwrap_err().field,
            "spool.dir"
        );
    }

    #[test]
    fn errors_name_the_field() {
        let base = SpoolConfig::new("/tmp/x");
        let cases = [
            (base.clone().segment_bytes(100), "spool.segment_bytes"),
            (base.clone().max_record_bytes(0), "spool.max_record_bytes"),
            (
                base.clone().segment_bytes(8192).max_record_bytes(8192),
                "spool.max_record_bytes",
            ),
            (base.clone().max_bytes((4 << 20) + 1), "spool.max_bytes"),
            (
                base.clone().fsync(FsyncPolicy::Interval(Duration::ZERO)),
                "spool.fsync",
            ),
            (
                base.clone()
                    .fsync(FsyncPolicy::Interval(Duration::from_secs(61))),
                "spool.fsync",
            ),
        ];
        for (c, field) in cases {
            assert_eq!(c.validate().unwrap_err().field, field, "{c:?}");
        }
    }

    #[cfg(feature = "serde")]
    #[test]
    fn deserializes_with_durations() {
        let c: SpoolConfig = serde_json::from_str(
            r#"{"dir": "/var/spool/iot", "fsync": {"interval": "250ms"},
                "overflow": "reject_new", "max_bytes": 1048576, "segment_bytes": 65536,
                "max_record_bytes": 4096}"#,
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.fsync, FsyncPolicy::Interval(Duration::from_millis(250)));
        assert_eq!(c.overflow, OverflowPolicy::RejectNew);
        let c: SpoolConfig = serde_json::from_str(r#"{"dir": "d", "fsync": "always"}"#).unwrap();
        assert_eq!(c.fsync, FsyncPolicy::Always);
        let back: SpoolConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        let e = serde_json::from_str::<SpoolConfig>(r#"{"dir": "d", "segment": 1}"#);
        assert!(e.is_err(), "unknown fields are refused");
    }
}
