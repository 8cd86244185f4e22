//! Any bytes as a spool segment file: opening the spool never panics,
//! returns records in id order, and opening the repaired files again
//! returns the same records. Odd first bytes build a valid segment from
//! the input's chunks and cut it short instead: exactly the records fully
//! before the cut come back.
#![no_main]

use std::path::PathBuf;

use iot_core::mqtt::spool::{FsyncPolicy, Spool, SpoolConfig, SpoolError};
use libfuzzer_sys::fuzz_target;

const SEGMENT: &str = "00000000000000000000.seg";

fn config(dir: &PathBuf) -> SpoolConfig {
    SpoolConfig::new(dir)
        .segment_bytes(64 * 1024)
        .max_record_bytes(4096)
        .fsync(FsyncPolicy::Os)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("iot-spool-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Record ids expected back, if known.
    let mut expected = None;
    if mode % 2 == 0 {
        std::fs::write(dir.join(SEGMENT), rest).unwrap();
    } else {
        // Chunks: a length byte, then that many payload bytes; the cut
        // position is the mode byte's share of the file.
        let (spool, _) = Spool::open(config(&dir)).unwrap();
        let mut ends = Vec::new();
        let mut end = 32;
        let mut input = rest;
        while let Some((&len, tail)) = input.split_first() {
            let len = usize::from(len).min(tail.len());
            spool.append(&tail[..len]).unwrap();
            end += 8 + len;
            ends.push(end);
            input = &tail[len..];
        }
        drop(spool);
        let path = dir.join(SEGMENT);
        let cut = end * usize::from(mode) / 255;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(cut as u64)
            .unwrap();
        let intact = ends.iter().filter(|&&e| e <= cut && cut >= 32).count() as u64;
        expected = Some((0..intact).collect::<Vec<u64>>());
    }
    let recovery = match Spool::open(config(&dir)) {
        Ok((_, recovery)) => recovery,
        Err(SpoolError::UnsupportedVersion { .. }) => return,
        Err(e) => panic!("open failed: {e}"),
    };
    let ids: Vec<u64> = recovery.records.iter().map(|r| r.id.get()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert_eq!(recovery.report.records, ids.len() as u64);
    if let Some(expected) = expected {
        assert_eq!(ids, expected);
    }
    let (_, again) = Spool::open(config(&dir)).expect("repaired files open");
    assert_eq!(again.records, recovery.records);
    assert_eq!(again.report.torn_bytes, 0, "repaired once");
});
