//! Encode and decode times of iot-core's binary codec and its peers on the
//! fixtures of `iot_benches::fixtures`.
//!
//! ```sh
//! cargo bench -p iot-benches --bench codec -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Benchmark ids are `<fixture>/<encode|decode>/<format>`. After the run, a
//! Markdown table per fixture (bytes, median encode and decode times) and
//! the target ratios are printed from criterion's saved estimates, followed
//! by the same target ratios measured interleaved ([`paired`]), which a
//! busy shared machine distorts less.

use std::hint::black_box;

use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
use iot_benches::formats::{Format, Prepared};
use iot_benches::native::{self, SCRATCH_LEN};
use iot_benches::{fixtures, paired, report, senml, serde_frame, sparkplug};

fn encode_group(g: &mut BenchmarkGroup<'_, WallTime>, p: &Prepared) {
    let mut scratch = vec![0u8; SCRATCH_LEN];
    let mut out: Vec<u8> = Vec::with_capacity(SCRATCH_LEN);
    for format in Format::ALL {
        g.bench_function(format.id(), |b| match format {
            Format::IotNamed | Format::IotAliased => {
                let readings = p.readings(format.mode());
                b.iter(|| native::encode(black_box(&p.header), black_box(readings), &mut scratch))
            }
            Format::SenmlJson => {
                b.iter(|| senml::json_encode(black_box(&p.header), black_box(&p.named), &mut out))
            }
            Format::SenmlCbor => {
                b.iter(|| senml::cbor_encode(black_box(&p.header), black_box(&p.named), &mut out))
            }
            Format::SparkplugConformant => {
                b.iter(|| sparkplug::encode(black_box(&p.sparkplug_conformant), &mut out))
            }
            Format::SparkplugMinimal => {
                b.iter(|| sparkplug::encode(black_box(&p.sparkplug_minimal), &mut out))
            }
            Format::PostcardNamed | Format::PostcardAliased => {
                let wire = p.wire(format);
                b.iter(|| serde_frame::postcard_encode(black_box(wire), &mut scratch))
            }
            Format::SerdeJsonNamed | Format::SerdeJsonAliased => {
                let wire = p.wire(format);
                b.iter(|| serde_frame::json_encode(black_box(wire), &mut out))
            }
        });
    }
}

fn decode_group(g: &mut BenchmarkGroup<'_, WallTime>, p: &Prepared) {
    for format in Format::ALL {
        let bytes = p.encoded(format);
        let bytes = bytes.as_slice();
        g.bench_function(format.id(), |b| match format {
            Format::IotNamed | Format::IotAliased => {
                b.iter(|| native::decode_touch(black_box(bytes), &p.limits).unwrap())
            }
            Format::SenmlJson => {
                b.iter(|| senml::json_decode_touch(black_box(bytes), &p.limits).unwrap())
            }
            Format::SenmlCbor => {
                b.iter(|| senml::cbor_decode_touch(black_box(bytes), &p.limits).unwrap())
            }
            Format::SparkplugConformant | Format::SparkplugMinimal => b.iter(|| {
                sparkplug::decode_touch(black_box(&p.topic), black_box(bytes), &p.datatypes)
                    .unwrap()
            }),
            Format::PostcardNamed | Format::PostcardAliased => {
                b.iter(|| serde_frame::postcard_decode_touch(black_box(bytes)).unwrap())
            }
            Format::SerdeJsonNamed | Format::SerdeJsonAliased => {
                b.iter(|| serde_frame::json_decode_touch(black_box(bytes)).unwrap())
            }
        });
    }
}

/// The reference-frame target ratios, measured interleaved (see
/// [`paired`]), which a concurrent load on the machine skews far less than
/// the ratio of two criterion benchmarks run minutes apart.
fn paired_targets(p: &Prepared) {
    let iot = |format: Format| {
        let bytes = p.encoded(format);
        move || native::decode_touch(black_box(&bytes), &p.limits).unwrap()
    };
    let postcard = |format: Format| {
        let bytes = p.encoded(format);
        move || serde_frame::postcard_decode_touch(black_box(&bytes)).unwrap()
    };
    let prost = |format: Format| {
        let bytes = p.encoded(format);
        move || {
            sparkplug::decode_touch(black_box(&p.topic), black_box(&bytes), &p.datatypes).unwrap()
        }
    };
    println!(
        "\nPaired ratios on the reference frame (median of 201 interleaved rounds, [p25, p75]):\n"
    );
    println!("| pair | this ns | peer ns | ratio | p25 | p75 | target |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let row = |name: &str, r: paired::Paired, target: &str| {
        println!(
            "| {name} | {:.1} | {:.1} | {:.3} | {:.3} | {:.3} | {target} |",
            r.a_ns, r.b_ns, r.ratio, r.ratio_p25, r.ratio_p75
        );
    };
    let (n, rounds) = (2_000, 201);
    row(
        "decode iot_aliased / postcard_aliased",
        paired::compare(
            iot(Format::IotAliased),
            postcard(Format::PostcardAliased),
            n,
            rounds,
        ),
        "<= 0.5",
    );
    row(
        "decode iot_named / postcard_named",
        paired::compare(
            iot(Format::IotNamed),
            postcard(Format::PostcardNamed),
            n,
            rounds,
        ),
        "-",
    );
    row(
        "decode iot_aliased / sparkplug_minimal",
        paired::compare(
            iot(Format::IotAliased),
            prost(Format::SparkplugMinimal),
            n,
            rounds,
        ),
        "<= 0.15",
    );
    row(
        "decode iot_aliased / sparkplug_conformant",
        paired::compare(
            iot(Format::IotAliased),
            prost(Format::SparkplugConformant),
            n,
            rounds,
        ),
        "<= 0.15",
    );
    let mut buf_a = vec![0u8; SCRATCH_LEN];
    let mut buf_b = vec![0u8; SCRATCH_LEN];
    row(
        "encode iot_aliased / postcard_aliased",
        paired::compare(
            || {
                native::encode(black_box(&p.header), black_box(&p.aliased), &mut buf_a).unwrap()
                    as u64
            },
            || serde_frame::postcard_encode(black_box(&p.wire_aliased), &mut buf_b).unwrap() as u64,
            n,
            rounds,
        ),
        "<= 0.5",
    );
    row(
        "encode iot_named / postcard_named",
        paired::compare(
            || {
                native::encode(black_box(&p.header), black_box(&p.named), &mut buf_a).unwrap()
                    as u64
            },
            || serde_frame::postcard_encode(black_box(&p.wire_named), &mut buf_b).unwrap() as u64,
            n,
            rounds,
        ),
        "-",
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let prepared: Vec<Prepared> = fixtures::all().into_iter().map(Prepared::new).collect();
    // Interleave encode and decode per fixture, reference first.
    for p in &prepared {
        let label = p.fixture.label;
        let mut g = c.benchmark_group(format!("{label}/encode"));
        encode_group(&mut g, p);
        g.finish();
        let mut g = c.benchmark_group(format!("{label}/decode"));
        decode_group(&mut g, p);
        g.finish();
    }
    c.final_summary();
    // `cargo bench` passes `--bench`; `cargo test --benches` runs each
    // benchmark once without it and saves no estimates.
    // `--profile-time` runs (for a profiler) skip the report and pairing.
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--profile-time") {
        report::print(&report::criterion_dir(), &prepared);
        if let Some(reference) = prepared.iter().find(|p| p.fixture.label == "reference") {
            paired_targets(reference);
        }
    }
}
