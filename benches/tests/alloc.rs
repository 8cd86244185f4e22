//! Zero-allocation checks: iot-core encodes into a slice and decodes (with
//! iteration over every reading) without touching the heap. The peers'
//! counts are printed for `docs/benchmarks.md`
//! (`cargo test -p iot-benches --test alloc -- --nocapture`).

use std::hint::black_box;

use iot_benches::alloc_count::{CountingAlloc, allocations_during};
use iot_benches::fixtures;
use iot_benches::formats::{Format, Prepared};
use iot_benches::native::{self, SCRATCH_LEN};
use iot_benches::{senml, serde_frame, sparkplug};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Allocations of one encode, after a warm-up call (so reused buffers have
/// their capacity), as the benchmark loop sees them.
fn encode_allocs(p: &Prepared, format: Format) -> usize {
    let mut scratch = vec![0u8; SCRATCH_LEN];
    let mut out = Vec::with_capacity(SCRATCH_LEN);
    let run = |scratch: &mut [u8], out: &mut Vec<u8>| match format {
        Format::IotNamed | Format::IotAliased => {
            black_box(native::encode(&p.header, p.readings(format.mode()), scratch).unwrap());
        }
        Format::SenmlJson => senml::json_encode(&p.header, &p.named, out).unwrap(),
        Format::SenmlCbor => senml::cbor_encode(&p.header, &p.named, out).unwrap(),
        Format::SparkplugConformant => sparkplug::encode(&p.sparkplug_conformant, out),
        Format::SparkplugMinimal => sparkplug::encode(&p.sparkplug_minimal, out),
        Format::PostcardNamed | Format::PostcardAliased => {
            black_box(serde_frame::postcard_encode(p.wire(format), scratch).unwrap());
        }
        Format::SerdeJsonNamed | Format::SerdeJsonAliased => {
            serde_frame::json_encode(p.wire(format), out).unwrap()
        }
    };
    run(&mut scratch, &mut out);
    allocations_during(|| run(&mut scratch, &mut out)).0
}

fn decode_allocs(p: &Prepared, format: Format, bytes: &[u8]) -> usize {
    black_box(p.decode_touch(format, bytes).unwrap());
    let (n, sum) = allocations_during(|| p.decode_touch(format, black_box(bytes)));
    black_box(sum.unwrap());
    n
}

#[test]
fn iot_core_never_allocates_and_peers_are_counted() {
    // The counter works (guards against a silently unregistered allocator).
    let (n, v) = allocations_during(|| black_box(vec![1u8; 16]));
    assert_eq!(n, 1);
    drop(v);

    println!("allocations per call: encode (into a reused buffer) / decode + touch");
    for fixture in fixtures::all() {
        let p = Prepared::new(fixture);
        println!("{}", p.fixture.label);
        for format in Format::ALL {
            let bytes = p.encoded(format);
            let enc = encode_allocs(&p, format);
            let dec = decode_allocs(&p, format, &bytes);
            println!("  {:<22} {enc:>3} / {dec:>3}", format.id());
            if matches!(format, Format::IotNamed | Format::IotAliased) {
                assert_eq!(enc, 0, "{} {format:?} encode", p.fixture.label);
                assert_eq!(dec, 0, "{} {format:?} decode", p.fixture.label);
            }
        }
    }
}
