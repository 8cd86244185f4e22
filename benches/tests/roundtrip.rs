//! Every format round-trips every fixture, carrying the same information,
//! and the encoded sizes are as documented.

use iot_benches::fixtures::{self, ChannelMode, Fixture};
use iot_benches::formats::{Format, Prepared};
use iot_benches::native;
use iot_benches::serde_frame::WireFrame;
use iot_benches::sparkplug;
use iot_core::codec::{Channel, Limits, Reading, Value, decode_frame};

fn prepared() -> Vec<Prepared> {
    fixtures::all().into_iter().map(Prepared::new).collect()
}

fn assert_same(label: &str, got: &[Reading<'_>], want: &[Reading<'_>]) {
    assert_eq!(got.len(), want.len(), "{label}: reading count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g.bitwise_eq(w),
            "{label}: reading {i}: got {g:?}, want {w:?}"
        );
    }
}

#[test]
fn every_format_decodes_to_the_same_checksum() {
    for p in prepared() {
        for format in Format::ALL {
            let bytes = p.encoded(format);
            let sum = p
                .decode_touch(format, &bytes)
                .unwrap_or_else(|e| panic!("{}: {e}", p.fixture.label));
            if format.exact() {
                let want = native::expected_touch(&p.header, p.readings(format.mode()));
                assert_eq!(sum, want, "{} {format:?}", p.fixture.label);
            }
        }
    }
}

#[test]
fn iot_core_round_trips() {
    for p in prepared() {
        for format in [Format::IotNamed, Format::IotAliased] {
            let bytes = p.encoded(format);
            let frame = decode_frame(&bytes, &Limits::default()).unwrap();
            assert_eq!(frame.header(), p.header);
            let got: Vec<_> = frame.readings().collect();
            assert_same(p.fixture.label, &got, p.readings(format.mode()));
        }
    }
}

#[test]
fn sparkplug_round_trips() {
    for p in prepared() {
        for format in [Format::SparkplugConformant, Format::SparkplugMinimal] {
            let bytes = p.encoded(format);
            let payload = sparkplug::decode_payload(&bytes).unwrap();
            assert_eq!(sparkplug::header(&p.topic, &payload), p.header);
            assert!(
                payload
                    .metrics
                    .iter()
                    .all(|m| m.name.is_none() && m.datatype.is_none())
            );
            if format == Format::SparkplugConformant {
                assert!(payload.metrics.iter().all(|m| m.timestamp.is_some()));
            }
            let got = sparkplug::readings(&payload, &p.datatypes).unwrap();
            assert_same(p.fixture.label, &got, &p.aliased);
        }
    }
}

#[test]
fn sparkplug_stores_negative_int32_in_five_bytes() {
    use sparkplug::{Metric, metric};
    let m = |v: metric::Value| Metric {
        value: Some(v),
        ..Metric::default()
    };
    let neg = prost::Message::encoded_len(&m(sparkplug::encode_value(&Value::I64(-67)).1));
    let pos = prost::Message::encoded_len(&m(sparkplug::encode_value(&Value::I64(67)).1));
    assert_eq!(neg, 1 + 5, "field tag + 5-byte varint of 0xffff_ffbd");
    assert_eq!(pos, 1 + 1);
    let (dt, v) = sparkplug::encode_value(&Value::I64(-67));
    assert_eq!(sparkplug::decode_value(dt, &v), Some(Value::I64(-67)));
}

#[test]
fn serde_struct_round_trips_in_postcard_and_json() {
    for p in prepared() {
        for mode in [ChannelMode::Named, ChannelMode::Aliased] {
            let (pc, js) = match mode {
                ChannelMode::Named => (Format::PostcardNamed, Format::SerdeJsonNamed),
                ChannelMode::Aliased => (Format::PostcardAliased, Format::SerdeJsonAliased),
            };
            let bytes = p.encoded(pc);
            let frame: WireFrame<'_> = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(frame.header(), p.header);
            assert_same(p.fixture.label, &frame.readings(), p.readings(mode));

            let bytes = p.encoded(js);
            let frame: WireFrame<'_> = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(frame.header(), p.header);
            assert_same(p.fixture.label, &frame.readings(), p.readings(mode));
        }
    }
}

/// SenML loses the sequence number, and JSON's numbers are doubles: compare
/// what SenML carries, numbers by value.
#[test]
fn senml_round_trips_what_it_carries() {
    for p in prepared() {
        for (format, json) in [(Format::SenmlJson, true), (Format::SenmlCbor, false)] {
            let bytes = p.encoded(format);
            let records = match format {
                Format::SenmlJson => iot_core::senml::decode_json(&bytes, &p.limits).unwrap(),
                _ => iot_core::senml::decode_cbor(&bytes, &p.limits).unwrap(),
            };
            assert_eq!(records.len(), p.named.len());
            for (i, (rec, want)) in records.iter().zip(&p.named).enumerate() {
                let ctx = format!("{} {format:?} record {i}", p.fixture.label);
                let (device, _) = rec.split_device().unwrap();
                assert_eq!(device, p.header.device_id, "{ctx}");
                let got = rec.to_frame_reading(p.header.timestamp_ms, 0.0).unwrap();
                assert_eq!(got.channel, want.channel, "{ctx}");
                assert_eq!(got.time_offset_ms, want.time_offset_ms, "{ctx}");
                match (got.value, want.value) {
                    (g, w) if json && w.as_f64().is_some() => {
                        assert_eq!(g.as_f64(), w.as_f64(), "{ctx}")
                    }
                    (Value::U64(g), Value::I64(w)) => assert_eq!(i128::from(g), i128::from(w)),
                    (g, w) => assert!(g.bitwise_eq(&w), "{ctx}: got {g:?}, want {w:?}"),
                }
            }
        }
    }
}

/// The fixtures hold no `Value::F32`, so the peers' `f32` members can widen
/// back to `Value::F64` without loss of type.
#[test]
fn fixtures_hold_no_f32_values() {
    for f in fixtures::all() {
        assert!(!f.samples.iter().any(|s| matches!(s.value, Value::F32(_))));
        assert!(
            f.readings(ChannelMode::Named)
                .iter()
                .all(|r| matches!(r.channel, Channel::Name(_)))
        );
    }
}

fn sizes(f: Fixture) -> Vec<(Format, usize)> {
    let p = Prepared::new(f);
    Format::ALL
        .iter()
        .map(|&fmt| (fmt, p.encoded(fmt).len()))
        .collect()
}

#[test]
fn encoded_sizes() {
    for f in fixtures::all() {
        let label = f.label;
        let topic = sparkplug::topic(f.header.device_id).len();
        println!("{label} (Sparkplug topic: {topic} bytes)");
        for (fmt, n) in sizes(f) {
            println!("  {:<22} {n:>5}", fmt.id());
        }
    }
    let s: std::collections::HashMap<_, _> = sizes(fixtures::reference()).into_iter().collect();
    let aliased = s[&Format::IotAliased];
    // Header 22 bytes; 5 floats x 6; -67: 4; 123456: 5; bool 2; "ok" 5; 4 bytes 7.
    assert_eq!(aliased, 22 + 30 + 4 + 5 + 2 + 5 + 7);
    assert!(aliased <= 100);
    assert!(aliased * 100 <= 85 * s[&Format::SparkplugMinimal]);
    assert!(aliased * 100 <= 85 * s[&Format::SparkplugConformant]);
}
