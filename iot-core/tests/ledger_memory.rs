//! The consumer's ledger at fleet scale: 1,000,000 devices, each sending
//! one frame twice, through a ledger sized for the default 100,000
//! devices. A counting global allocator measures the heap it holds: under
//! the bound `docs/mqtt.md` states, and every eviction counted.

#![cfg(feature = "mqtt")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use iot_core::mqtt::{DedupConfig, Observation, SequenceLedger};

struct Counting;

/// Bytes allocated and not freed, by every thread (this binary runs one
/// test).
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The bound `docs/mqtt.md` documents: bytes per tracked device, device id
/// excluded (ids here are 11 bytes).
const BYTES_PER_DEVICE: usize = 256;

#[test]
fn a_million_devices_stay_within_the_bound_and_every_eviction_is_counted() {
    const DEVICES: u64 = 1_000_000;
    let config = DedupConfig::default();
    assert_eq!(
        config.max_devices, 100_000,
        "the default is sized for 100,000"
    );
    let before = LIVE.load(Ordering::Relaxed);
    let mut ledger = SequenceLedger::new(config);
    let mut id = String::new();
    let mut peak = 0isize;
    for d in 0..DEVICES {
        id.clear();
        use std::fmt::Write;
        write!(id, "dev-{d:07}").unwrap();
        // The frame, then its redelivery right away: a duplicate.
        assert_eq!(ledger.observe(&id, 1, 7, 1_000), Observation::Fresh);
        assert_eq!(ledger.observe(&id, 1, 7, 1_000), Observation::Duplicate);
        if d % 1_000 == 0 {
            peak = peak.max(LIVE.load(Ordering::Relaxed) - before);
        }
    }
    let held = LIVE.load(Ordering::Relaxed) - before;
    peak = peak.max(held);
    let t = ledger.totals();
    assert_eq!(t.duplicates, DEVICES, "every duplicate suppressed");
    assert_eq!(
        t.evictions,
        DEVICES - config.max_devices as u64,
        "every device beyond max_devices evicted one, and counted"
    );
    assert_eq!((t.missing, t.stale), (0, 0));
    let per_device = peak as usize / config.max_devices;
    eprintln!(
        "ledger of {} devices: {} bytes held, peak {} ({} per device, id of 11 bytes included)",
        config.max_devices, held, peak, per_device
    );
    assert!(
        peak as usize <= config.max_devices * (BYTES_PER_DEVICE + 11),
        "{peak} bytes for {} devices exceeds {BYTES_PER_DEVICE} + id per device",
        config.max_devices
    );

    // An evicted device is a new one again: its duplicate cannot be judged
    // then, which is what the eviction count warns about.
    assert_eq!(
        ledger.observe("dev-0000000", 1, 7, 1_000),
        Observation::Fresh
    );
}
