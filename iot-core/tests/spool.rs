//! The publisher spool: round trips, releases, segment rolls, the disk
//! bound under both overflow policies, group commit, and recovery from
//! truncated and bit-flipped files (proptest).
#![cfg(feature = "spool")]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use iot_core::mqtt::OverflowPolicy;
use iot_core::mqtt::spool::{FsyncPolicy, RecordId, Recovery, Spool, SpoolConfig, SpoolError};
use proptest::prelude::*;

/// A fresh directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("iot-spool-test-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }

    fn config(&self) -> SpoolConfig {
        SpoolConfig::new(&self.0)
    }

    /// Small segments, so tests roll often.
    fn small(&self) -> SpoolConfig {
        self.config()
            .segment_bytes(4096)
            .max_bytes(64 * 1024)
            .max_record_bytes(1024)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn payload(i: u64) -> Vec<u8> {
    let len = (i * 37 % 300) as usize;
    (0..len).map(|j| (i as usize + j) as u8).collect()
}

/// `(id, payload)` of the recovered records.
fn records(r: &Recovery) -> Vec<(u64, Vec<u8>)> {
    r.records
        .iter()
        .map(|r| (r.id.get(), r.payload.to_vec()))
        .collect()
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v
}

fn disk_bytes(dir: &Path) -> u64 {
    segment_files(dir)
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum()
}

#[test]
fn round_trip_across_reopen() {
    let t = TempDir::new("roundtrip");
    let config = t.small().max_bytes(1 << 20);
    let (spool, rec) = Spool::open(config.clone()).unwrap();
    assert!(rec.records.is_empty());
    assert_eq!(rec.report.next_id, RecordId::default());
    for i in 0..1000 {
        let a = spool.append(&payload(i)).unwrap();
        assert_eq!((a.id.get(), a.dropped), (i, 0));
    }
    assert!(segment_files(&t.0).len() > 10, "rolled");
    spool.sync().unwrap();
    drop(spool);
    let (spool, rec) = Spool::open(config).unwrap();
    let expected: Vec<(u64, Vec<u8>)> = (0..1000).map(|i| (i, payload(i))).collect();
    assert_eq!(records(&rec), expected);
    assert_eq!(rec.report.records, 1000);
    assert_eq!(
        (
            rec.report.corrupt_records,
            rec.report.torn_bytes,
            rec.report.released
        ),
        (0, 0, 0)
    );
    assert_eq!(spool.next_id().get(), 1000, "ids continue");
    assert_eq!(spool.append(b"next").unwrap().id.get(), 1000);
    assert_eq!(spool.stats().snapshot().records, 1001);
}

#[test]
fn release_out_of_order_persists_the_watermark() {
    let t = TempDir::new("release");
    let (spool, _) = Spool::open(t.small()).unwrap();
    let ids: Vec<RecordId> = (0..100)
        .map(|i| spool.append(&payload(i)).unwrap().id)
        .collect();
    // Release 0..40 in reverse, then every even id above: the watermark
    // ends at 41 (the lowest unreleased).
    for id in ids[..41].iter().rev() {
        assert!(spool.release(*id).unwrap());
    }
    assert!(!spool.release(ids[3]).unwrap(), "twice");
    assert!(!spool.release(RecordId::default()).unwrap());
    for id in ids[41..].iter().filter(|id| id.get() % 2 == 0) {
        spool.release(*id).unwrap();
    }
    assert_eq!(spool.watermark().get(), 41);
    let s = spool.stats().snapshot();
    assert_eq!((s.released, s.records), (41 + 29, 30));
    drop(spool);
    let (spool, rec) = Spool::open(t.small()).unwrap();
    // Everything from the watermark on comes back, the 29 even ids released
    // out of order above it too (at least once).
    let ids: Vec<u64> = rec.records.iter().map(|r| r.id.get()).collect();
    assert_eq!(ids, (41..100).collect::<Vec<_>>());
    // Released records still on disk (their segment also holds unreleased
    // ones) are counted; the fully released segments are gone.
    assert!((1..41).contains(&rec.report.released), "{:?}", rec.report);
    assert_eq!(rec.report.watermark.map(RecordId::get), Some(41));
    for r in &rec.records {
        assert_eq!(r.payload, payload(r.id.get()));
    }
    assert_eq!(spool.watermark().get(), 41);
}

#[test]
fn released_segments_are_deleted() {
    let t = TempDir::new("delete");
    let (spool, _) = Spool::open(t.small()).unwrap();
    let ids: Vec<RecordId> = (0..400)
        .map(|_| spool.append(&[7; 100]).unwrap().id)
        .collect();
    let files = segment_files(&t.0).len();
    assert!(files >= 10, "{files}");
    assert_eq!(spool.stats().snapshot().bytes, disk_bytes(&t.0));
    // Releasing the newest half first deletes nothing but full segments
    // in the middle: the oldest stay.
    for id in ids[200..399].iter() {
        spool.release(*id).unwrap();
    }
    let after = segment_files(&t.0);
    assert!(after.len() < files, "middle segments deleted");
    assert!(
        after[0].ends_with("00000000000000000000.seg"),
        "oldest kept"
    );
    for id in &ids[..200] {
        spool.release(*id).unwrap();
    }
    assert_eq!(
        segment_files(&t.0).len(),
        1,
        "only the active segment is left"
    );
    assert_eq!(spool.stats().snapshot().bytes, disk_bytes(&t.0));
    assert_eq!(spool.watermark().get(), 399);
    spool.release(ids[399]).unwrap();
    assert_eq!(spool.watermark().get(), 400);
    drop(spool);
    let (spool, rec) = Spool::open(t.small()).unwrap();
    assert!(rec.records.is_empty());
    assert_eq!(rec.report.segments_deleted, 1);
    assert_eq!(spool.next_id().get(), 400, "ids are never reused");
    drop(spool);
    // Opening again and again leaves one (empty) segment.
    for _ in 0..3 {
        let (spool, rec) = Spool::open(t.small()).unwrap();
        assert!(rec.records.is_empty());
        assert_eq!(spool.next_id().get(), 400);
    }
    assert_eq!(segment_files(&t.0).len(), 1);
}

/// Deleted segments leave no open handle behind (which would keep their
/// blocks allocated), also under `Os`, where no sync round ever runs.
#[cfg(target_os = "linux")]
#[test]
fn deleted_segments_hold_no_file_handles() {
    let t = TempDir::new("handles");
    let (spool, _) = Spool::open(t.small()).unwrap();
    for _ in 0..2000 {
        let id = spool.append(&[1; 100]).unwrap().id;
        spool.release(id).unwrap();
    }
    let open: Vec<PathBuf> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|p| p.starts_with(&t.0))
        .collect();
    assert_eq!(
        open.len(),
        2,
        "the active segment and the watermark: {open:?}"
    );
}

#[test]
fn drop_oldest_bounds_the_disk_and_counts_every_drop() {
    let t = TempDir::new("dropoldest");
    let config = t.small().max_bytes(16 * 1024);
    let (spool, _) = Spool::open(config.clone()).unwrap();
    let mut dropped = 0;
    let mut released = BTreeSet::new();
    for i in 0..2000u64 {
        let a = spool.append(&payload(i)).unwrap();
        dropped += a.dropped;
        if i % 5 == 0 {
            // Some released: a dropped segment counts only unreleased ones.
            spool.release(a.id).unwrap();
            released.insert(a.id.get());
        }
        let bytes = disk_bytes(&t.0);
        assert!(bytes <= config.max_bytes, "{bytes} at {i}");
        assert_eq!(spool.stats().snapshot().bytes, bytes);
    }
    let s = spool.stats().snapshot();
    assert!(dropped > 0);
    assert_eq!(s.dropped, dropped);
    assert_eq!(s.appended - s.released - s.dropped, s.records);
    let watermark = spool.watermark().get();
    drop(spool);
    let (_spool, rec) = Spool::open(config).unwrap();
    // From the watermark on, released ones included (at least once).
    let ids: Vec<u64> = rec.records.iter().map(|r| r.id.get()).collect();
    assert_eq!(ids, (watermark..2000).collect::<Vec<_>>());
    let unreleased = ids.iter().filter(|i| !released.contains(i)).count();
    assert_eq!(unreleased as u64, s.records);
}

#[test]
fn reject_new_refuses_until_space_is_released() {
    let t = TempDir::new("rejectnew");
    let config = t
        .small()
        .max_bytes(8 * 1024)
        .overflow(OverflowPolicy::RejectNew);
    let (spool, _) = Spool::open(config.clone()).unwrap();
    let mut ids = Vec::new();
    let err = loop {
        match spool.append(&[1; 200]) {
            Ok(a) => ids.push(a.id),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(
            err,
            SpoolError::Full {
                max_bytes: 8192,
                ..
            }
        ),
        "{err}"
    );
    let bytes = disk_bytes(&t.0);
    assert!(bytes <= 8192);
    assert!(spool.append(&[1; 200]).is_err(), "still full");
    assert_eq!(disk_bytes(&t.0), bytes, "nothing written");
    assert_eq!(spool.stats().snapshot().rejected, 2);
    assert_eq!(spool.stats().snapshot().dropped, 0);
    // Releasing the first segment's records frees it.
    for id in &ids {
        spool.release(*id).unwrap();
        if spool.append(&[2; 200]).is_ok() {
            break;
        }
    }
    assert!(disk_bytes(&t.0) <= 8192);
}

#[test]
fn too_large_is_refused() {
    let t = TempDir::new("toolarge");
    let (spool, _) = Spool::open(t.small()).unwrap();
    let e = spool.append(&[0; 1025]).unwrap_err();
    assert!(matches!(
        e,
        SpoolError::RecordTooLarge {
            len: 1025,
            max: 1024
        }
    ));
    spool.append(&[0; 1024]).unwrap();
}

#[test]
fn invalid_config_names_the_field() {
    match Spool::open(SpoolConfig::default()) {
        Err(SpoolError::Config(e)) => assert_eq!(e.field, "spool.dir"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn concurrent_producers_share_fsyncs() {
    let t = TempDir::new("groupcommit");
    let (spool, _) = Spool::open(t.config().fsync(FsyncPolicy::Always)).unwrap();
    std::thread::scope(|s| {
        for p in 0..8u8 {
            let spool = &spool;
            s.spawn(move || {
                for _ in 0..100 {
                    let id = spool.append(&[p; 64]).unwrap().id;
                    spool.wait_durable_blocking(id).unwrap();
                }
            });
        }
    });
    let s = spool.stats().snapshot();
    assert_eq!(s.appended, 800);
    assert!(s.fsyncs < s.appended, "group commit: {s:?}");
    drop(spool);
    let (_, rec) = Spool::open(t.config()).unwrap();
    assert_eq!(rec.records.len(), 800);
}

#[test]
fn async_waiters_share_fsyncs() {
    let t = TempDir::new("async");
    let (spool, _) = Spool::open(t.config().fsync(FsyncPolicy::Always)).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..8u8)
            .map(|p| {
                let spool = spool.clone();
                tokio::spawn(async move {
                    for _ in 0..100 {
                        let id = spool.append(&[p; 64]).unwrap().id;
                        spool.wait_durable(id).await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    let s = spool.stats().snapshot();
    assert_eq!(s.appended, 800);
    assert!(s.fsyncs < s.appended, "group commit: {s:?}");
}

#[test]
fn interval_policy_syncs_in_the_background() {
    let t = TempDir::new("interval");
    let config = t
        .config()
        .fsync(FsyncPolicy::Interval(Duration::from_millis(10)));
    let (spool, _) = Spool::open(config).unwrap();
    let id = spool.append(b"x").unwrap().id;
    spool.wait_durable_blocking(id).unwrap(); // returns at once
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while spool.stats().snapshot().fsyncs == 0 {
        assert!(std::time::Instant::now() < deadline, "no background sync");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn damaged_watermark_returns_everything() {
    let t = TempDir::new("watermark");
    let (spool, _) = Spool::open(t.small()).unwrap();
    for i in 0..10 {
        let id = spool.append(&payload(i)).unwrap().id;
        if i < 5 {
            spool.release(id).unwrap();
        }
    }
    drop(spool);
    std::fs::write(t.0.join("watermark"), [0xAB; 64]).unwrap();
    let (_, rec) = Spool::open(t.small()).unwrap();
    assert_eq!(rec.report.watermark, None);
    let ids: Vec<u64> = rec.records.iter().map(|r| r.id.get()).collect();
    assert_eq!(ids, (0..10).collect::<Vec<_>>(), "at least once");
}

/// A closed spool's files, with where each record is.
struct Layout {
    files: Vec<(PathBuf, Vec<u8>)>,
    /// Record id -> (file index, start, end) of its bytes.
    at: BTreeMap<u64, (usize, usize, usize)>,
    payloads: BTreeMap<u64, Vec<u8>>,
}

fn write_spool(dir: &TempDir, sizes: &[usize]) -> Layout {
    let (spool, _) = Spool::open(dir.small()).unwrap();
    let mut payloads = BTreeMap::new();
    for (i, &len) in sizes.iter().enumerate() {
        let p: Vec<u8> = (0..len).map(|j| (i * 31 + j) as u8).collect();
        let id = spool.append(&p).unwrap().id.get();
        payloads.insert(id, p);
    }
    drop(spool);
    let files: Vec<(PathBuf, Vec<u8>)> = segment_files(&dir.0)
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    // Walk the format: 32-byte header, then 8-byte record headers.
    let mut at = BTreeMap::new();
    for (f, (path, bytes)) in files.iter().enumerate() {
        let name = path.file_stem().unwrap().to_str().unwrap();
        let mut id: u64 = name.parse().unwrap();
        let mut pos = 32;
        while pos < bytes.len() {
            let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
            at.insert(id, (f, pos, pos + 8 + len));
            pos += 8 + len;
            id += 1;
        }
    }
    assert_eq!(at.len(), sizes.len());
    Layout {
        files,
        at,
        payloads,
    }
}

/// Opens copies of the damaged files twice and checks both give the same
/// result; returns it.
fn recover_twice(layout: &Layout, damaged: &TempDir) -> Recovery {
    let copy = TempDir::new("copy");
    std::fs::create_dir_all(&copy.0).unwrap();
    for e in std::fs::read_dir(&damaged.0).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, copy.0.join(p.file_name().unwrap())).unwrap();
    }
    let (_, first) = Spool::open(damaged.small()).unwrap();
    let (_, second) = Spool::open(copy.small()).unwrap();
    assert_eq!(first, second, "deterministic");
    // Reopening the repaired files gives the same records.
    let (_, again) = Spool::open(damaged.small()).unwrap();
    assert_eq!(records(&again), records(&first));
    for r in &first.records {
        assert_eq!(
            Some(&r.payload.to_vec()),
            layout.payloads.get(&r.id.get()),
            "only intact records, under their own ids"
        );
    }
    first
}

fn sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(prop_oneof![0..20usize, 0..1025usize], 1..120)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// A file cut anywhere loses exactly the records not fully before the
    /// cut, and the cut part is counted as torn.
    #[test]
    fn truncated_anywhere(sizes in sizes(), file in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>()) {
        let dir = TempDir::new("truncate");
        let layout = write_spool(&dir, &sizes);
        let f = file.index(layout.files.len());
        let (path, bytes) = &layout.files[f];
        let cut = cut.index(bytes.len() + 1);
        std::fs::OpenOptions::new().write(true).open(path).unwrap().set_len(cut as u64).unwrap();
        let rec = recover_twice(&layout, &dir);
        let expected: Vec<u64> = layout.at.iter()
            .filter(|(_, (file, _, end))| *file != f || (*end <= cut && cut >= 32))
            .map(|(id, _)| *id)
            .collect();
        let ids: Vec<u64> = rec.records.iter().map(|r| r.id.get()).collect();
        prop_assert_eq!(ids, expected);
        let kept_end = layout.at.values()
            .filter(|(file, _, end)| *file == f && *end <= cut)
            .map(|(_, _, end)| *end)
            .max()
            .unwrap_or(32);
        let torn = if cut < 32 { cut } else { cut - kept_end };
        prop_assert_eq!(rec.report.torn_bytes, torn as u64);
        prop_assert_eq!(rec.report.corrupt_records, 0);
    }

    /// A flipped bit loses at most the damaged record and, when its length
    /// is what was hit, the rest of its segment; never an intact record
    /// before it, never a wrong payload, and the damage is counted.
    #[test]
    fn bit_flipped_anywhere(sizes in sizes(), file in any::<prop::sample::Index>(), pos in any::<prop::sample::Index>(), bit in 0..8u8) {
        let dir = TempDir::new("flip");
        let layout = write_spool(&dir, &sizes);
        let f = file.index(layout.files.len());
        let (path, bytes) = &layout.files[f];
        let pos = pos.index(bytes.len());
        let mut damaged = bytes.clone();
        damaged[pos] ^= 1 << bit;
        std::fs::write(path, &damaged).unwrap();
        let rec = recover_twice(&layout, &dir);
        let got: BTreeSet<u64> = rec.records.iter().map(|r| r.id.get()).collect();
        let hit = layout.at.iter()
            .find(|(_, (file, start, end))| *file == f && (*start..*end).contains(&pos))
            .map(|(id, &(_, start, _))| (*id, pos - start));
        for (id, (file, _, end)) in &layout.at {
            let before = *file != f || *end <= pos;
            if before {
                prop_assert!(got.contains(id), "intact record {} lost", id);
            }
        }
        match hit {
            None => {
                // The header: the file name has the id, nothing is lost.
                prop_assert_eq!(got.len(), layout.at.len());
                prop_assert_eq!(rec.report.corrupt_headers, 1);
            }
            Some((id, offset)) => {
                prop_assert!(!got.contains(&id), "damaged record {} returned", id);
                prop_assert!(rec.report.corrupt_records + rec.report.torn_bytes > 0);
                let next_intact = layout.at.get(&(id + 1)).is_some_and(|(file, _, _)| *file == f);
                if offset >= 4 && next_intact {
                    // Checksum or payload: only this record is skipped.
                    prop_assert_eq!(got.len(), layout.at.len() - 1);
                    prop_assert_eq!(rec.report.corrupt_records, 1);
                }
            }
        }
    }
}
