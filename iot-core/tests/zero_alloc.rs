//! Proves the zero-allocation claims with a counting global allocator:
//! binary decode, full iteration and encoding into a slice allocate nothing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use iot_core::codec::*;

struct Counting;

thread_local! {
    // Count only this thread's allocations, so the test harness's own
    // threads cannot disturb the figure.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn encode_decode_iterate_100k_frames_without_allocating() {
    let payload = [0xde, 0xad, 0xbe, 0xef];
    let names = ["temperature", "humidity"];
    let mut buf = [0u8; 256];
    let mut birth = [0u8; 128];
    let limits = Limits::default();
    let mut checksum_sum = 0u64;

    let before = allocations();
    let n = encode_birth(
        &FrameHeader::new("dev-4f2a9c01", 0, 1_700_000_000_000),
        &[
            BirthEntry::new(0, names[0]).with_unit("Cel"),
            BirthEntry::new(1, names[1]),
        ],
        &mut birth,
    )
    .unwrap();
    let table = decode_birth(&birth[..n], &limits).unwrap();

    for i in 0..100_000u64 {
        let readings = [
            Reading::new(Channel::Alias(0), Value::F64(20.0 + (i % 50) as f64 * 0.5)),
            Reading::new(Channel::Alias(1), Value::F32(55.5)),
            Reading::new(Channel::Name("rssi"), Value::I64(-(i as i64 % 90))),
            Reading::new(Channel::Alias(3), Value::U64(i)).with_offset_ms(-100),
            Reading::new(Channel::Alias(4), Value::Bool(i % 2 == 0)),
            Reading::new(Channel::Alias(5), Value::Str("ok")).with_unit("state"),
            Reading::new(Channel::Alias(6), Value::Bytes(&payload)),
        ];
        let header = FrameHeader::new("dev-4f2a9c01", i, 1_700_000_000_000 + i);
        let enc = Encoder::new().checksum(i % 2 == 0);
        let len = enc.frame(&header, &readings, &mut buf).unwrap();
        let frame = decode_frame(&buf[..len], &limits).unwrap();
        for r in frame.readings() {
            checksum_sum = checksum_sum.wrapping_add(match r.value {
                Value::F64(v) => v.to_bits(),
                Value::F32(v) => u64::from(v.to_bits()),
                Value::I64(v) => v as u64,
                Value::U64(v) => v,
                Value::Bool(v) => u64::from(v),
                Value::Str(s) => s.len() as u64,
                Value::Bytes(b) => u64::from(b[0]),
            });
            if let Some(name) = r.channel.name(&table) {
                checksum_sum = checksum_sum.wrapping_add(name.len() as u64);
            }
        }
        // Error paths must not allocate either.
        assert!(decode_frame(&buf[..len - 1], &limits).is_err());
    }
    let after = allocations();

    assert_eq!(after - before, 0, "allocations during 100,000 frames");
    // Keep the work observable so it cannot be optimised away.
    assert_ne!(checksum_sum, 0);
}

#[test]
fn the_counter_sees_allocations() {
    // Guards against a counter that never counts.
    let before = allocations();
    let v: Vec<u8> = std::hint::black_box(Vec::with_capacity(16));
    drop(v);
    assert_eq!(allocations() - before, 1);
}
