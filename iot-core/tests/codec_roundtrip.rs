//! Property tests: every frame the encoder accepts decodes to itself, bit
//! for bit, through every output path; damaged input never panics.
#![cfg(feature = "alloc")]

use iot_core::codec::*;
use proptest::prelude::*;

/// Owned mirror of a reading so proptest can generate it.
#[derive(Debug, Clone)]
enum OwnedValue {
    F64(u64),
    F32(u32),
    I64(i64),
    U64(u64),
    Bool(bool),
    Str(String),
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone)]
struct OwnedReading {
    name: Option<String>,
    alias: u32,
    value: OwnedValue,
    offset: Option<i64>,
    unit: Option<String>,
}

impl OwnedReading {
    fn view(&self) -> Reading<'_> {
        Reading {
            channel: match &self.name {
                Some(n) => Channel::Name(n),
                None => Channel::Alias(self.alias),
            },
            value: match &self.value {
                OwnedValue::F64(bits) => Value::F64(f64::from_bits(*bits)),
                OwnedValue::F32(bits) => Value::F32(f32::from_bits(*bits)),
                OwnedValue::I64(v) => Value::I64(*v),
                OwnedValue::U64(v) => Value::U64(*v),
                OwnedValue::Bool(v) => Value::Bool(*v),
                OwnedValue::Str(v) => Value::Str(v),
                OwnedValue::Bytes(v) => Value::Bytes(v),
            },
            time_offset_ms: self.offset,
            unit: self.unit.as_deref(),
        }
    }
}

fn special_f64() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        Just(f64::NAN.to_bits()),
        Just(0x7ff0_0000_0000_0001), // signalling NaN
        Just(0xfff8_dead_beef_0001), // negative NaN with payload
        Just(0.0f64.to_bits()),
        Just((-0.0f64).to_bits()),
        Just(f64::INFINITY.to_bits()),
        Just(f64::NEG_INFINITY.to_bits()),
        Just(f64::MIN_POSITIVE.to_bits()),
        Just(1e-310f64.to_bits()),                         // subnormal
        any::<f32>().prop_map(|f| f64::from(f).to_bits()), // takes the 4-byte path
    ]
}

fn special_f32() -> impl Strategy<Value = u32> {
    prop_oneof![
        any::<u32>(),
        Just(f32::NAN.to_bits()),
        Just(0x7f80_0001), // signalling NaN
        Just((-0.0f32).to_bits()),
    ]
}

fn value() -> impl Strategy<Value = OwnedValue> {
    prop_oneof![
        special_f64().prop_map(OwnedValue::F64),
        special_f32().prop_map(OwnedValue::F32),
        prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX), Just(0)]
            .prop_map(OwnedValue::I64),
        prop_oneof![any::<u64>(), Just(u64::MAX), Just(0)].prop_map(OwnedValue::U64),
        any::<bool>().prop_map(OwnedValue::Bool),
        prop_oneof![Just(String::new()), ".{0,40}", ".{300,400}"].prop_map(OwnedValue::Str),
        prop::collection::vec(any::<u8>(), 0..600).prop_map(OwnedValue::Bytes),
    ]
}

fn reading() -> impl Strategy<Value = OwnedReading> {
    (
        prop::option::of(".{0,24}"),
        prop_oneof![0u32..128, any::<u32>(), Just(u32::MAX)],
        value(),
        prop::option::of(prop_oneof![any::<i64>(), Just(i64::MIN), -5000i64..5000]),
        prop::option::of("[A-Za-z%/]{0,6}"),
    )
        .prop_map(|(name, alias, value, offset, unit)| OwnedReading {
            name,
            alias,
            value,
            offset,
            unit,
        })
}

fn device_id() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9][A-Za-z0-9._:-]{0,40}",
        "[a-z]{1,3}[äöü€日本]{1,8}",
        "[a-z]{128}"
    ]
}

fn frame() -> impl Strategy<Value = (String, u64, u64, Vec<OwnedReading>)> {
    (
        device_id(),
        any::<u64>(),
        prop_oneof![any::<u64>(), 1_600_000_000_000u64..1_900_000_000_000],
        prop::collection::vec(reading(), 0..24),
    )
}

/// No epoch, a start time in milliseconds (what the publisher uses), or any.
fn epoch() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        1_600_000_000_000u64..1_900_000_000_000,
        any::<u64>()
    ]
}

fn assert_same(view: &FrameView<'_>, header: &FrameHeader<'_>, readings: &[Reading<'_>]) {
    assert_eq!(view.header(), *header);
    assert_eq!(view.len(), readings.len());
    assert_eq!(view.readings().len(), readings.len());
    for (got, want) in view.readings().zip(readings) {
        assert!(got.bitwise_eq(want), "{got:?} != {want:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn frames_round_trip_bit_for_bit((id, seq, ts, owned) in frame(), checksum in any::<bool>(), epoch in epoch()) {
        let header = FrameHeader::new(&id, seq, ts).with_epoch(epoch);
        let readings: Vec<Reading<'_>> = owned.iter().map(OwnedReading::view).collect();
        let enc = Encoder::new().checksum(checksum);
        let len = enc.frame_len(&header, &readings);

        // Into a slice of exactly the right size.
        let mut buf = vec![0u8; len];
        prop_assert_eq!(enc.frame(&header, &readings, &mut buf).unwrap(), len);
        let view = decode_frame(&buf, &Limits::default()).unwrap();
        prop_assert_eq!(view.has_checksum(), checksum);
        assert_same(&view, &header, &readings);

        // Into a roomy slice (every reading through the encoder's window
        // fast path, where the exact one ends on the per-field path): same
        // bytes.
        let mut roomy = vec![0u8; len + 256];
        prop_assert_eq!(enc.frame(&header, &readings, &mut roomy).unwrap(), len);
        prop_assert_eq!(&roomy[..len], &buf[..]);

        // Into a Vec (appending), same bytes.
        let mut v = vec![0xAA];
        prop_assert_eq!(enc.frame_to_vec(&header, &readings, &mut v).unwrap(), len);
        prop_assert_eq!(&v[1..], &buf[..]);

        // Into a BufMut, same bytes.
        #[cfg(feature = "bytes")]
        {
        let mut b = bytes::BytesMut::new();
        prop_assert_eq!(enc.frame_to_buf(&header, &readings, &mut b).unwrap(), len);
        prop_assert_eq!(&b[..], &buf[..]);
        // A bounded `BufMut` one byte short (frames both below and above
        // the 256-byte stack fast path): the exact size needed, nothing
        // written.
        if len > 0 {
            let mut backing = vec![0x55u8; len - 1];
            let mut bounded: &mut [u8] = &mut backing[..];
            prop_assert_eq!(
                enc.frame_to_buf(&header, &readings, &mut bounded),
                Err(EncodeError::BufferTooSmall { needed: len, available: len - 1 })
            );
            prop_assert!(backing.iter().all(|&b| b == 0x55));
        }
        }

        // Re-encoding the view reproduces the message.
        let mut again = vec![0u8; len];
        prop_assert_eq!(enc.frame_iter(&header, view.readings(), &mut again).unwrap(), len);
        prop_assert_eq!(&again, &buf);

        // Every shorter buffer reports the exact size needed.
        if len > 0 {
            let short = len - 1;
            let mut small = vec![0u8; short];
            prop_assert_eq!(
                enc.frame(&header, &readings, &mut small),
                Err(EncodeError::BufferTooSmall { needed: len, available: short })
            );
        }
    }

    #[test]
    fn births_round_trip(
        id in device_id(),
        entries in prop::collection::vec((any::<u32>(), ".{0,20}", prop::option::of("[A-Za-z%]{0,5}")), 0..40),
        checksum in any::<bool>(),
        epoch in epoch(),
    ) {
        let header = FrameHeader::new(&id, 0, 1).with_epoch(epoch);
        let entries: Vec<BirthEntry<'_>> = entries
            .iter()
            .map(|(a, n, u)| BirthEntry { alias: *a, name: n, unit: u.as_deref() })
            .collect();
        let enc = Encoder::new().checksum(checksum);
        let mut v = Vec::new();
        enc.birth_to_vec(&header, &entries, &mut v).unwrap();
        let mut buf = vec![0u8; v.len()];
        prop_assert_eq!(enc.birth(&header, &entries, &mut buf).unwrap(), v.len());
        prop_assert_eq!(&buf, &v);
        let view = decode_birth(&v, &Limits::default()).unwrap();
        prop_assert_eq!(view.header(), header);
        prop_assert_eq!(view.entries().collect::<Vec<_>>(), entries.clone());
        let mut sorted: Vec<u32> = entries.iter().map(|e| e.alias).collect();
        sorted.sort_unstable();
        let has_dup = sorted.windows(2).any(|w| w[0] == w[1]);
        match AliasTable::from_birth(&view) {
            Ok(table) => {
                prop_assert!(!has_dup);
                for e in &entries {
                    prop_assert_eq!(table.name_of(e.alias), Some(e.name));
                    prop_assert_eq!(table.unit_of(e.alias), e.unit);
                    prop_assert_eq!(view.name_of(e.alias), Some(e.name));
                }
            }
            Err(DuplicateAlias { alias }) => {
                prop_assert!(has_dup);
                prop_assert!(entries.iter().filter(|e| e.alias == alias).count() > 1);
            }
        }
    }

    #[test]
    fn every_truncation_is_an_error((id, seq, ts, owned) in frame(), checksum in any::<bool>(), epoch in epoch()) {
        let header = FrameHeader::new(&id, seq, ts).with_epoch(epoch);
        let readings: Vec<Reading<'_>> = owned.iter().map(OwnedReading::view).collect();
        let mut v = Vec::new();
        Encoder::new().checksum(checksum).frame_to_vec(&header, &readings, &mut v).unwrap();
        for cut in 0..v.len() {
            prop_assert!(decode_frame(&v[..cut], &Limits::default()).is_err(), "prefix {cut} of {} decoded", v.len());
        }
    }

    #[test]
    fn bit_flips_never_panic_and_crc_catches_them((id, seq, ts, owned) in frame(), flips in prop::collection::vec(any::<prop::sample::Index>(), 1..4)) {
        let header = FrameHeader::new(&id, seq, ts);
        let readings: Vec<Reading<'_>> = owned.iter().map(OwnedReading::view).collect();
        for checksum in [false, true] {
            let mut v = Vec::new();
            Encoder::new().checksum(checksum).frame_to_vec(&header, &readings, &mut v).unwrap();
            let bit = flips[0].index(v.len() * 8);
            v[bit / 8] ^= 1 << (bit % 8);
            let result = decode_frame(&v, &Limits::default());
            if checksum {
                // CRC-32 detects every single-bit error.
                prop_assert!(result.is_err());
            } else if let Ok(view) = result {
                // A flip that still decodes must still iterate cleanly.
                prop_assert_eq!(view.readings().count(), view.len());
            }
            for f in &flips[1..] {
                let bit = f.index(v.len() * 8);
                v[bit / 8] ^= 1 << (bit % 8);
                if let Ok(view) = decode_frame(&v, &Limits::default()) {
                    prop_assert_eq!(view.readings().count(), view.len());
                }
            }
        }
    }

    #[test]
    fn garbage_never_panics(data in prop::collection::vec(any::<u8>(), 0..512)) {
        let limits = Limits::default();
        if let Ok(view) = decode_frame(&data, &limits) {
            prop_assert_eq!(view.readings().count(), view.len());
        }
        if let Ok(view) = decode_birth(&data, &limits) {
            prop_assert_eq!(view.entries().count(), view.len());
        }
        let _ = decode(&data, &limits);
    }

    #[test]
    fn garbage_after_a_valid_header_never_panics(tail in prop::collection::vec(any::<u8>(), 0..256)) {
        // Valid header announcing 5 readings, followed by noise: exercises
        // the reading parser rather than the header checks.
        let mut v = vec![0x10, 3, b'd', b'e', b'v', 1, 2, 5];
        v.extend_from_slice(&tail);
        if let Ok(view) = decode_frame(&v, &Limits::default()) {
            prop_assert_eq!(view.readings().count(), 5);
        }
    }
}

#[test]
fn maximum_reading_count_is_accepted_and_one_more_rejected() {
    let limits = Limits::default().max_readings(1000);
    let r = Reading::new(Channel::Alias(3), Value::Bool(true));
    let header = FrameHeader::new("dev", 1, 2);
    let mut v = Vec::new();
    Encoder::new()
        .frame_to_vec(&header, &vec![r; 1000], &mut v)
        .unwrap();
    let view = decode_frame(&v, &limits).unwrap();
    assert_eq!(view.readings().filter(|x| x.bitwise_eq(&r)).count(), 1000);

    v.clear();
    Encoder::new()
        .frame_to_vec(&header, &vec![r; 1001], &mut v)
        .unwrap();
    let err = decode_frame(&v, &limits).unwrap_err();
    assert_eq!(
        err.kind,
        DecodeErrorKind::TooManyReadings {
            count: 1001,
            max: 1000
        }
    );
}
