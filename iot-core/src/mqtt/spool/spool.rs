//! The spool itself: appends, releases, group commit and reclaiming space.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use crate::mqtt::OverflowPolicy;

use super::config::{FsyncPolicy, SpoolConfig};
use super::error::SpoolError;
use super::record::{self, RECORD_HEADER, RecordId};
use super::recover::{self, Recovery};
use super::segment::{self, SEGMENT_HEADER, Segment};
use super::stats::SpoolStats;
use super::watermark::Watermark;

/// How often the release watermark is synced under [`FsyncPolicy::Always`]
/// (under `Interval` it goes with each interval's sync). A stale watermark
/// after a power failure only re-sends released records, so it need not
/// cost an `fdatasync` per acknowledgement.
const WATERMARK_SYNC: Duration = Duration::from_secs(1);

/// A crash-safe, bounded, on-disk log of payloads awaiting acknowledgement.
/// See the [module documentation](super) for the guarantees.
///
/// Cloning is cheap; clones share the spool. All methods take `&self` and
/// may be called from any thread.
#[derive(Clone)]
pub struct Spool {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("dir", &self.inner.config.dir)
            .field("fsync", &self.inner.config.fsync)
            .field("stats", &self.inner.stats.snapshot())
            .finish_non_exhaustive()
    }
}

/// The result of [`Spool::append`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Appended {
    /// The new record's id.
    pub id: RecordId,
    /// Unreleased records deleted to make room for it (drop-oldest
    /// overflow): every id below [`Spool::watermark`] that was not released
    /// is gone. Usually 0.
    pub dropped: u64,
}

struct Inner {
    config: SpoolConfig,
    state: Mutex<State>,
    sync: Mutex<SyncState>,
    /// Signals blocking waiters that a sync round finished.
    synced: Condvar,
    /// Signals async waiters the same (a round counter).
    rounds: watch::Sender<u64>,
    /// One past the last id written (the same as `State::next_id`, readable
    /// without the lock).
    written: AtomicU64,
    stats: SpoolStats,
    stop: Arc<Stop>,
}

/// Everything appends and releases change, behind one lock.
struct State {
    /// Oldest first; never empty: the back is the active segment.
    segments: VecDeque<Segment>,
    active: Arc<File>,
    active_path: PathBuf,
    /// Segments written since their last `fdatasync` other than the
    /// active one (rolled, or recovered at open).
    unsynced: Vec<(Arc<File>, PathBuf)>,
    /// A segment was created since the directory's last `fsync`.
    dir_dirty: bool,
    next_id: u64,
    disk_bytes: u64,
    live: u64,
    watermark: Watermark,
    /// Reused encoding buffer: one `write` per record.
    buf: Vec<u8>,
    failed: Option<String>,
}

/// Group-commit bookkeeping.
struct SyncState {
    /// Every id below this is on disk.
    durable: u64,
    /// A leader is syncing; others wait for its round.
    syncing: bool,
    failed: Option<String>,
}

/// Where a durability waiter stands.
enum Claim {
    /// Its record is durable.
    Done,
    /// It runs the next round.
    Lead,
    /// A round is running; wait for its end.
    Wait,
}

/// Tells the background sync thread to stop.
#[derive(Default)]
struct Stop {
    stopped: Mutex<bool>,
    cond: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves consistent-enough state: every
    // update is a few field writes with no `?` between them.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn failed(reason: &str) -> SpoolError {
    SpoolError::Failed {
        reason: reason.to_owned(),
    }
}

/// Creates the segment file for `first_id` with its header.
fn create_segment(dir: &Path, first_id: u64) -> Result<(File, PathBuf), SpoolError> {
    let path = dir.join(segment::file_name(first_id));
    // `append`: after a failed write is truncated away, the next write
    // goes to the new end, not past a hole.
    let mut file = OpenOptions::new()
        .append(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| SpoolError::io("create", &path, e))?;
    file.write_all(&segment::encode_header(first_id))
        .map_err(|e| SpoolError::io("write", &path, e))?;
    Ok((file, path))
}

/// Makes created and deleted directory entries durable.
fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| SpoolError::io("fsync", dir, e))
    }
    #[cfg(not(unix))]
    {
        // Windows cannot open a directory as a file; NTFS journals
        // directory changes itself.
        let _ = dir;
        Ok(())
    }
}

impl Spool {
    /// Opens the spool in `config.dir` (created if missing), recovers what
    /// is there and starts a new segment for appends.
    ///
    /// Returns the records never released, oldest first, to be sent again,
    /// and a report of what recovery found: records skipped for a failed
    /// checksum, torn tails truncated, segments deleted. Damage is repaired,
    /// not returned as an error; errors are file-system failures, a segment
    /// of a newer format version, or an invalid configuration.
    ///
    /// Not `async`: it reads the whole spool. From a Tokio runtime, call it
    /// through `spawn_blocking` when the spool may be large.
    pub fn open(config: SpoolConfig) -> Result<(Spool, Recovery), SpoolError> {
        config.validate()?;
        let dir = config.dir.clone();
        fs::create_dir_all(&dir).map_err(|e| SpoolError::io("create_dir", &dir, e))?;
        let (mut watermark, found) = Watermark::open(&dir)?;
        let scan = recover::scan(&dir, found)?;
        for (path, len) in &scan.truncate {
            OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|f| f.set_len(*len))
                .map_err(|e| SpoolError::io("truncate", path, e))?;
        }
        // The watermark goes first: if deleting fully released segments
        // were persisted but not it, the next id could go back below ids
        // already handed out.
        watermark.store(scan.watermark)?;
        for path in &scan.delete {
            fs::remove_file(path).map_err(|e| SpoolError::io("remove", path, e))?;
        }
        let mut segments = VecDeque::with_capacity(scan.kept.len() + 1);
        let mut unsynced = Vec::with_capacity(scan.kept.len());
        let mut disk_bytes = 0;
        let mut live = 0;
        for kept in scan.kept {
            // Recovered records may still be only in the page cache (the
            // previous process was killed): the first sync round covers them.
            let file = OpenOptions::new()
                .append(true)
                .open(&kept.path)
                .map_err(|e| SpoolError::io("open", &kept.path, e))?;
            unsynced.push((Arc::new(file), kept.path));
            disk_bytes += kept.segment.bytes;
            live += kept.segment.live_count;
            segments.push_back(kept.segment);
        }
        let next_id = scan.next_id;
        let (file, active_path) = create_segment(&dir, next_id)?;
        segments.push_back(Segment::new(next_id, SEGMENT_HEADER as u64));
        disk_bytes += SEGMENT_HEADER as u64;

        let stats = SpoolStats::new();
        let report = scan.report;
        stats.recovered(report.corrupt_records, report.torn_bytes);
        stats.set_usage(disk_bytes, live);
        if report.corrupt_records > 0 || report.torn_bytes > 0 || report.corrupt_headers > 0 {
            tracing::warn!(
                dir = %dir.display(),
                corrupt_records = report.corrupt_records,
                torn_bytes = report.torn_bytes,
                corrupt_headers = report.corrupt_headers,
                "spool recovery skipped damaged data"
            );
        }
        let (rounds, _) = watch::channel(0);
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                segments,
                active: Arc::new(file),
                active_path,
                unsynced,
                dir_dirty: true,
                next_id,
                disk_bytes,
                live,
                watermark,
                buf: Vec::new(),
                failed: None,
            }),
            sync: Mutex::new(SyncState {
                durable: 0,
                syncing: false,
                failed: None,
            }),
            synced: Condvar::new(),
            rounds,
            written: AtomicU64::new(next_id),
            stats,
            stop: Arc::default(),
            config,
        });
        match inner.config.fsync {
            FsyncPolicy::Always => spawn_syncer(&inner, WATERMARK_SYNC, false)?,
            FsyncPolicy::Interval(every) => spawn_syncer(&inner, every, true)?,
            FsyncPolicy::Os => {}
        }
        let recovery = Recovery {
            records: scan.records,
            report,
        };
        Ok((Spool { inner }, recovery))
    }

    /// Appends a record and returns its id once the operating system has
    /// it (`write` returned): from then on a crash or `kill -9` of this
    /// process cannot lose it. Surviving a power failure is the
    /// [`FsyncPolicy`]'s business; under `Always`, await
    /// [`wait_durable`](Self::wait_durable) for that.
    ///
    /// Never waits for the disk: an append costs one `write` (plus, once
    /// per segment, creating a file; its `fsync`s are left to the next sync
    /// round). Under drop-oldest overflow it may delete the oldest segment
    /// first ([`Appended::dropped`]).
    pub fn append(&self, payload: &[u8]) -> Result<Appended, SpoolError> {
        let inner = &*self.inner;
        let config = &inner.config;
        if payload.len() > config.max_record_bytes {
            return Err(SpoolError::RecordTooLarge {
                len: payload.len(),
                max: config.max_record_bytes,
            });
        }
        let mut guard = inner.lock_state();
        let st = &mut *guard;
        if let Some(reason) = &st.failed {
            return Err(failed(reason));
        }
        if st.next_id == u64::MAX {
            // Only reachable through a segment file named near 2^64.
            return Err(failed("record ids exhausted"));
        }
        let size = (RECORD_HEADER + payload.len()) as u64;
        let active = st.segments.back().expect("the active segment");
        let roll = active.end_id() > active.first_id && active.bytes + size > config.segment_bytes;
        let need = size + if roll { SEGMENT_HEADER as u64 } else { 0 };
        let mut dropped = 0;
        if st.disk_bytes + need > config.max_bytes {
            if config.overflow == OverflowPolicy::RejectNew {
                inner.stats.rejected();
                return Err(SpoolError::Full {
                    bytes: st.disk_bytes,
                    needed: need,
                    max_bytes: config.max_bytes,
                });
            }
            dropped = inner.drop_oldest(st, need)?;
        }
        if roll {
            inner.roll(st)?;
        }
        let id = st.next_id;
        st.buf.clear();
        record::encode(&mut st.buf, id, payload);
        if let Err(e) = (&*st.active).write_all(&st.buf) {
            // Cut a partial record off, or later records would follow
            // garbage and be lost at recovery.
            let len = st.segments.back().map_or(0, |s| s.bytes);
            if let Err(e2) = st.active.set_len(len) {
                st.failed = Some(format!(
                    "write {}: {e}; truncating it back failed: {e2}",
                    st.active_path.display()
                ));
            }
            return Err(SpoolError::io("write", &st.active_path, e));
        }
        st.segments
            .back_mut()
            .expect("the active segment")
            .push(true, size);
        st.next_id += 1;
        st.disk_bytes += size;
        st.live += 1;
        inner.written.store(st.next_id, Ordering::Release);
        inner.stats.appended();
        if dropped > 0 {
            // The record is written: report it, not the watermark's
            // failure (a stale watermark only costs re-sends).
            if let Err(e) = inner.store_watermark(st) {
                tracing::warn!(error = %e, "spool watermark not written");
            }
        }
        inner.stats.set_usage(st.disk_bytes, st.live);
        Ok(Appended {
            id: RecordId(id),
            dropped,
        })
    }

    /// The broker acknowledged record `id`: it will not be recovered
    /// again (see the module documentation for the bound on re-sends after
    /// a crash). Releases may come in any order. A segment whose records
    /// are all released is deleted. Returns whether `id` was unreleased;
    /// unknown, dropped and already released ids are ignored.
    ///
    /// An error means the watermark could not be written; the release
    /// took effect all the same.
    pub fn release(&self, id: RecordId) -> Result<bool, SpoolError> {
        let inner = &*self.inner;
        let mut guard = inner.lock_state();
        let st = &mut *guard;
        let at = st.segments.partition_point(|s| s.first_id <= id.0);
        let Some(seg) = at.checked_sub(1).and_then(|i| st.segments.get_mut(i)) else {
            return Ok(false);
        };
        if !seg.release(id.0) {
            return Ok(false);
        }
        let emptied = seg.live_count == 0;
        st.live -= 1;
        inner.stats.released();
        if emptied {
            inner.sweep(st);
        }
        let stored = inner.store_watermark(st);
        inner.stats.set_usage(st.disk_bytes, st.live);
        stored.map(|()| true)
    }

    /// Waits until record `id` is as durable as the policy promises
    /// before a producer is told its record is safe:
    ///
    /// * `Always`: on disk (`fdatasync`). Concurrent waiters share
    ///   rounds: one waiter syncs everything written so far on a blocking
    ///   thread (`spawn_blocking`) while the others wait for it; a waiter
    ///   whose record missed a round leads or joins the next.
    /// * `Interval` and `Os`: returns at once (the record is in the page
    ///   cache since `append` returned).
    ///
    /// Must run within a Tokio runtime. Cancel-safe: a round already
    /// started finishes without the waiter. Returns [`SpoolError::Failed`]
    /// (or the `fdatasync` error itself, to the waiter that saw it) once
    /// a sync failed.
    pub async fn wait_durable(&self, id: RecordId) -> Result<(), SpoolError> {
        let inner = &self.inner;
        if inner.config.fsync != FsyncPolicy::Always {
            return inner.check_failed();
        }
        let upto = inner.clamp(id);
        let mut rounds = inner.rounds.subscribe();
        loop {
            match inner.claim(upto)? {
                Claim::Done => return Ok(()),
                Claim::Lead => {
                    // The guard is built before the task is spawned, so a
                    // task dropped unstarted still ends the round.
                    let leader = Leader::new(inner.clone());
                    match tokio::task::spawn_blocking(move || leader.run()).await {
                        Ok(result) => result?,
                        Err(e) => return Err(failed(&format!("sync task: {e}"))),
                    }
                }
                // The sender lives as long as `inner`, so this only
                // returns when a round ends.
                Claim::Wait => {
                    let _ = rounds.changed().await;
                }
            }
        }
    }

    /// [`wait_durable`](Self::wait_durable) for threads that may block: the
    /// leader of a round runs `fdatasync` on the calling thread.
    pub fn wait_durable_blocking(&self, id: RecordId) -> Result<(), SpoolError> {
        let inner = &*self.inner;
        if inner.config.fsync != FsyncPolicy::Always {
            return inner.check_failed();
        }
        inner.commit(inner.clamp(id))
    }

    /// Forces everything appended so far, the new segments' directory
    /// entries and the release watermark to disk, whatever the policy:
    /// for a clean shutdown, or a checkpoint under `Os`. Blocks.
    pub fn sync(&self) -> Result<(), SpoolError> {
        let inner = &*self.inner;
        inner.commit(inner.written.load(Ordering::Acquire))?;
        inner.sync_watermark()
    }

    /// The lowest unreleased id; every id below it is released or was
    /// dropped. The next id when nothing is unreleased.
    pub fn watermark(&self) -> RecordId {
        RecordId(self.inner.lock_state().watermark.value())
    }

    /// The id the next append gets.
    pub fn next_id(&self) -> RecordId {
        RecordId(self.inner.written.load(Ordering::Acquire))
    }

    /// The counters.
    pub fn stats(&self) -> &SpoolStats {
        &self.inner.stats
    }

    /// The configuration.
    pub fn config(&self) -> &SpoolConfig {
        &self.inner.config
    }
}

impl Inner {
    fn lock_state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn check_failed(&self) -> Result<(), SpoolError> {
        match &lock(&self.sync).failed {
            Some(reason) => Err(failed(reason)),
            None => Ok(()),
        }
    }

    /// The durability target for `id`: one past it, but never past what
    /// was written (a round could never reach it).
    fn clamp(&self, id: RecordId) -> u64 {
        id.0.saturating_add(1)
            .min(self.written.load(Ordering::Acquire))
    }

    /// Where a waiter for `upto` stands.
    fn claim(&self, upto: u64) -> Result<Claim, SpoolError> {
        let mut s = lock(&self.sync);
        if let Some(reason) = &s.failed {
            return Err(failed(reason));
        }
        if s.durable >= upto {
            return Ok(Claim::Done);
        }
        if s.syncing {
            return Ok(Claim::Wait);
        }
        s.syncing = true;
        Ok(Claim::Lead)
    }

    /// Group commit on the calling thread: lead a round or wait for one
    /// until every id below `upto` is durable.
    fn commit(&self, upto: u64) -> Result<(), SpoolError> {
        let mut s = lock(&self.sync);
        loop {
            if let Some(reason) = &s.failed {
                return Err(failed(reason));
            }
            if s.durable >= upto {
                return Ok(());
            }
            if !s.syncing {
                s.syncing = true;
                drop(s);
                Leader::new(self).run()?;
                s = lock(&self.sync);
                continue;
            }
            s = self.synced.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Ends a round: records the outcome and wakes every waiter.
    fn finish(&self, outcome: Option<Result<u64, String>>) {
        let reason = {
            let mut s = lock(&self.sync);
            s.syncing = false;
            match outcome {
                Some(Ok(target)) => {
                    s.durable = s.durable.max(target);
                    None
                }
                Some(Err(reason)) => {
                    s.failed.get_or_insert(reason.clone());
                    Some(reason)
                }
                None => None,
            }
        };
        if let Some(reason) = reason {
            self.lock_state().failed.get_or_insert(reason);
        }
        self.synced.notify_all();
        self.rounds.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// One round of the interval policy's thread, unless one is running.
    fn tick(&self) {
        let due = {
            let mut s = lock(&self.sync);
            let due = s.failed.is_none()
                && !s.syncing
                && s.durable < self.written.load(Ordering::Acquire);
            s.syncing |= due;
            due
        };
        if due {
            if let Err(e) = Leader::new(self).run() {
                tracing::error!(error = %e, "spool fdatasync failed; the spool accepts nothing more");
            }
        }
    }

    /// Syncs the watermark file if written since its last sync. A failure
    /// is logged and returned, not fatal: a stale watermark only re-sends.
    fn sync_watermark(&self) -> Result<(), SpoolError> {
        let dirty = self.lock_state().watermark.take_dirty();
        if let Some((file, path)) = dirty {
            self.stats.fsyncs(1);
            if let Err(e) = file.sync_data() {
                tracing::warn!(path = %path.display(), error = %e, "spool watermark fdatasync failed");
                return Err(SpoolError::io("fdatasync", path, e));
            }
        }
        Ok(())
    }

    /// Deletes the oldest segments until `need` more bytes fit; returns the
    /// unreleased records deleted.
    fn drop_oldest(&self, st: &mut State, need: u64) -> Result<u64, SpoolError> {
        let mut dropped = 0;
        while st.disk_bytes + need > self.config.max_bytes && st.segments.len() > 1 {
            dropped += self.delete(st, 0)?.live_count;
        }
        if dropped > 0 {
            self.stats.dropped(dropped);
            tracing::warn!(dropped, "spool full; oldest segment deleted");
        }
        Ok(dropped)
    }

    /// Deletes segment `i` (not the active one) and forgets it.
    fn delete(&self, st: &mut State, i: usize) -> Result<Segment, SpoolError> {
        let path = self
            .config
            .dir
            .join(segment::file_name(st.segments[i].first_id));
        fs::remove_file(&path).map_err(|e| SpoolError::io("remove", &path, e))?;
        // Its handle would keep the deleted file's blocks allocated (and,
        // under `Os`, where no round drains the list, pile up).
        st.unsynced.retain(|(_, p)| *p != path);
        let seg = st.segments.remove(i).expect("in range");
        st.disk_bytes -= seg.bytes;
        st.live -= seg.live_count;
        Ok(seg)
    }

    /// Starts a new active segment at `next_id`.
    fn roll(&self, st: &mut State) -> Result<(), SpoolError> {
        let (file, path) = create_segment(&self.config.dir, st.next_id)?;
        let old = std::mem::replace(&mut st.active, Arc::new(file));
        let old_path = std::mem::replace(&mut st.active_path, path);
        // Synced by the next round, off the append path.
        st.unsynced.push((old, old_path));
        st.dir_dirty = true;
        st.segments
            .push_back(Segment::new(st.next_id, SEGMENT_HEADER as u64));
        st.disk_bytes += SEGMENT_HEADER as u64;
        self.sweep(st);
        Ok(())
    }

    /// Deletes every segment but the active one whose records are all
    /// released. A failure is logged; the next sweep tries again.
    fn sweep(&self, st: &mut State) {
        let mut i = 0;
        while i + 1 < st.segments.len() {
            if st.segments[i].live_count > 0 {
                i += 1;
            } else if let Err(e) = self.delete(st, i) {
                tracing::warn!(error = %e, "spool could not delete a released segment");
                i += 1;
            }
        }
    }

    /// Persists the lowest unreleased id if it moved.
    fn store_watermark(&self, st: &mut State) -> Result<(), SpoolError> {
        let next = st.next_id;
        let low = st
            .segments
            .iter_mut()
            .find_map(Segment::first_live_id)
            .unwrap_or(next);
        st.watermark.store(low)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        *lock(&self.stop.stopped) = true;
        self.stop.cond.notify_all();
    }
}

/// The waiter that runs a sync round. Dropped without running (its
/// blocking task was cancelled before it started), it still ends the round,
/// so the other waiters do not wait forever.
struct Leader<D: Deref<Target = Inner>> {
    inner: D,
    done: bool,
}

impl<D: Deref<Target = Inner>> Leader<D> {
    fn new(inner: D) -> Self {
        Self { inner, done: false }
    }

    /// Syncs every segment written since the last round and, when a
    /// segment was created, the directory; everything written before the
    /// round started is then durable.
    fn run(mut self) -> Result<(), SpoolError> {
        let inner = &*self.inner;
        let (target, files, dir) = {
            let mut st = inner.lock_state();
            let mut files = std::mem::take(&mut st.unsynced);
            files.push((st.active.clone(), st.active_path.clone()));
            (st.next_id, files, std::mem::take(&mut st.dir_dirty))
        };
        let mut result = Ok(());
        let mut calls = 0;
        for (file, path) in &files {
            calls += 1;
            if let Err(e) = file.sync_data() {
                result = Err(SpoolError::io("fdatasync", path, e));
                break;
            }
        }
        if result.is_ok() && dir {
            calls += 1;
            result = sync_dir(&inner.config.dir);
        }
        inner.stats.fsyncs(calls);
        self.done = true;
        inner.finish(Some(match &result {
            Ok(()) => Ok(target),
            Err(e) => Err(e.to_string()),
        }));
        result
    }
}

impl<D: Deref<Target = Inner>> Drop for Leader<D> {
    fn drop(&mut self) {
        if !self.done {
            self.inner.finish(None);
        }
    }
}

/// Starts the thread that syncs every `period`: the data too with `data`
/// (interval policy), the watermark only otherwise.
fn spawn_syncer(inner: &Arc<Inner>, period: Duration, data: bool) -> Result<(), SpoolError> {
    let weak = Arc::downgrade(inner);
    let stop = inner.stop.clone();
    std::thread::Builder::new()
        .name("iot-spool-sync".into())
        .spawn(move || {
            loop {
                let stopped = lock(&stop.stopped);
                let (stopped, _) = stop
                    .cond
                    .wait_timeout_while(stopped, period, |s| !*s)
                    .unwrap_or_else(PoisonError::into_inner);
                if *stopped {
                    return;
                }
                drop(stopped);
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                if data {
                    inner.tick();
                }
                let _ = inner.sync_watermark();
            }
        })
        .map(drop)
        .map_err(|e| SpoolError::io("spawn sync thread", &inner.config.dir, e))
}
