//! A crash-safe on-disk spool for the publisher (feature `spool`).
//!
//! Payloads (encoded frames) are appended to checksummed segment files
//! before they are published and released when the broker acknowledges
//! them; after a crash or restart, [`Spool::open`] hands back every record
//! never released, to be sent again.
//!
//! ```
//! use iot_core::mqtt::spool::{FsyncPolicy, Spool, SpoolConfig};
//!
//! let dir = std::env::temp_dir().join(format!("iot-spool-doc-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir);
//! let config = SpoolConfig::new(&dir).fsync(FsyncPolicy::Always);
//! let (spool, recovery) = Spool::open(config.clone())?;
//! assert!(recovery.records.is_empty());
//!
//! let a = spool.append(b"frame a")?.id;
//! let b = spool.append(b"frame b")?.id;
//! spool.wait_durable_blocking(b)?; // on disk: survives a power failure
//! spool.release(a)?; // the broker acknowledged `a`
//! drop(spool); // or a crash, or kill -9
//!
//! let (_spool, recovery) = Spool::open(config)?;
//! assert_eq!(recovery.records.len(), 1);
//! assert_eq!((recovery.records[0].id, &recovery.records[0].payload[..]), (b, &b"frame b"[..]));
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Guarantees
//!
//! * **Process crash, `kill -9`**: nothing is lost, under every
//!   [`FsyncPolicy`]. [`append`](Spool::append) returns only after `write`
//!   handed the whole record to the operating system, whose page cache
//!   outlives the process.
//! * **Power failure, kernel crash**: bounded by the policy. Under
//!   [`FsyncPolicy::Always`], nothing that [`wait_durable`](Spool::wait_durable)
//!   confirmed; under `Interval(d)`, about the last `d`; under `Os`,
//!   whatever the kernel had not written back.
//! * **Damage** (a torn write, flipped bits, a truncated file): recovery
//!   never panics and returns only records whose checksum holds, each under
//!   its original id. A damaged record is skipped when the next one is
//!   intact; otherwise the rest of that segment is truncated. Everything is
//!   counted in the [`RecoveryReport`].
//! * **Re-sends** (at least once): recovery returns every record at or
//!   above the persisted release watermark (the lowest unreleased id).
//!   After a process crash, the released records re-sent are those
//!   released out of order above it: at most the publisher's in-flight
//!   window. After a power failure, add the releases of the last
//!   watermark sync period (1 s under `Always`, `d` under `Interval(d)`,
//!   unbounded under `Os`) and the records of fully released segments
//!   whose deletion had not reached the disk.
//! * **Bounded disk**: segment files never exceed
//!   [`SpoolConfig::max_bytes`] through appends: drop-oldest deletes the
//!   oldest segment (its unreleased records counted in
//!   [`Appended::dropped`] and the stats); reject-new refuses with
//!   [`SpoolError::Full`]. Space is reclaimed by segment: one is deleted
//!   once all its records are released, so a single old unreleased record
//!   keeps its segment on disk.
//!
//! One process at a time per directory: nothing locks it.
//!
//! # Durability and group commit
//!
//! Under `Always`, a producer awaits [`Spool::wait_durable`] (async, runs
//! `fdatasync` on a blocking thread) or calls
//! [`Spool::wait_durable_blocking`] after `append`. Rounds are shared: the
//! first waiter leads a round that syncs everything written so far; the
//! others wait for it, and the records appended meanwhile go together in
//! the next round. A serial producer pays one `fdatasync` per record, as a
//! bare `write` + `fdatasync` loop would; concurrent producers share them.
//! Under `Interval` and `Os` both return at once.
//!
//! # Use by the publisher
//!
//! Open the spool before starting, queue [`Recovery::records`] first (in
//! order), `append` each frame as it is accepted (and await `wait_durable`
//! before `send` returns, under `Always`), `release` on the broker's
//! acknowledgement and when the publisher gives a frame up itself (its own
//! drop-oldest), and count [`Appended::dropped`] as dropped frames.
//!
//! # Layout
//!
//! A directory of segment files `<first id>.seg` (a header, then records:
//! length, CRC-32, payload) and a small `watermark` file. Space per record:
//! its payload plus 8 bytes.

mod config;
mod error;
mod record;
mod recover;
mod segment;
#[allow(clippy::module_inception)]
mod spool;
mod stats;
mod watermark;

pub use config::{FsyncPolicy, SpoolConfig};
pub use error::SpoolError;
pub use record::RecordId;
pub use recover::{RecoveredRecord, Recovery, RecoveryReport};
pub use spool::{Appended, Spool};
pub use stats::{SpoolStats, SpoolStatsSnapshot};
