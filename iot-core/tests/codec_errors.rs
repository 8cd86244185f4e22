//! The byte-exact examples of `docs/wire-format.md`, and one test per
//! decode error naming the offset it must report.

use iot_core::codec::*;
use iot_core::device::DeviceIdError;

/// The data-frame example of docs/wire-format.md, byte for byte.
const FRAME_EXAMPLE: &str = "11 05 64 65 76 2d 31 01 f4 d3 95 ff bc 31 04 \
    01 00 00 00 ac 41 \
    16 04 64 6f 6f 72 \
    63 02 f3 03 03 43 65 6c 05 \
    07 03 02 6f 6b \
    98 eb 39 b3";

/// The birth example of docs/wire-format.md.
const BIRTH_EXAMPLE: &str = "12 05 64 65 76 2d 31 01 f4 d3 95 ff bc 31 02 \
    00 04 74 65 6d 70 01 03 43 65 6c \
    02 04 72 73 73 69 00";

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

fn example_readings() -> [Reading<'static>; 4] {
    [
        Reading::new(Channel::Alias(0), Value::F64(21.5)),
        Reading::new(Channel::Name("door"), Value::Bool(true)),
        Reading::new(Channel::Alias(2), Value::I64(-3))
            .with_offset_ms(-250)
            .with_unit("Cel"),
        Reading::new(Channel::Alias(3), Value::Str("ok")),
    ]
}

const HEADER: FrameHeader<'static> = FrameHeader::new("dev-1", 1, 1_700_000_000_500);

#[test]
fn spec_frame_example_is_exact() {
    let mut buf = [0u8; 64];
    let n = Encoder::new()
        .checksum(true)
        .frame(&HEADER, &example_readings(), &mut buf)
        .unwrap();
    assert_eq!(buf[..n], hex(FRAME_EXAMPLE)[..]);
    let view = decode_frame(&buf[..n], &Limits::default()).unwrap();
    assert_eq!(view.header(), HEADER);
    assert!(view.readings().eq(example_readings()));
}

#[test]
fn spec_birth_example_is_exact() {
    let entries = [
        BirthEntry::new(0, "temp").with_unit("Cel"),
        BirthEntry::new(2, "rssi"),
    ];
    let mut buf = [0u8; 64];
    let n = encode_birth(&HEADER, &entries, &mut buf).unwrap();
    assert_eq!(buf[..n], hex(BIRTH_EXAMPLE)[..]);
    let birth = decode_birth(&buf[..n], &Limits::default()).unwrap();
    assert!(birth.entries().eq(entries));
    assert_eq!(birth.name_of(2), Some("rssi"));
    assert_eq!(birth.unit_of(0), Some("Cel"));
    assert_eq!(birth.name_of(1), None);
    assert!(matches!(
        decode(&buf[..n], &Limits::default()),
        Ok(Message::Birth(_))
    ));
}

fn err(bytes: &[u8]) -> DecodeError {
    decode_frame(bytes, &Limits::default()).unwrap_err()
}

/// The example without its checksum flag and trailer.
fn plain() -> Vec<u8> {
    let mut v = hex(FRAME_EXAMPLE);
    v.truncate(v.len() - 4);
    v[0] = 0x10;
    v
}

#[test]
fn header_errors() {
    assert_eq!(
        err(&[]),
        DecodeError {
            offset: 0,
            kind: DecodeErrorKind::Truncated { needed: 1 }
        }
    );
    assert_eq!(
        err(&[0x20]).kind,
        DecodeErrorKind::UnsupportedVersion { version: 2 }
    );
    assert_eq!(
        err(&[0x18]).kind,
        DecodeErrorKind::ReservedFlags { flags: 0x18 }
    );
    // Bit 2 announces an epoch: a header that ends before it is truncated.
    assert_eq!(
        err(&[0x14, 0x01, b'a', 0x00, 0x00]),
        DecodeError {
            offset: 5,
            kind: DecodeErrorKind::Truncated { needed: 1 }
        }
    );
    assert_eq!(
        err(&hex(BIRTH_EXAMPLE)).kind,
        DecodeErrorKind::WrongMessageKind {
            expected: MessageKind::Data,
            found: MessageKind::Birth
        }
    );
    let too_big = Limits::default().max_frame_len(10);
    assert_eq!(
        decode_frame(&plain(), &too_big).unwrap_err(),
        DecodeError {
            offset: 0,
            kind: DecodeErrorKind::FrameTooLarge { len: 41, max: 10 }
        }
    );
}

#[test]
fn checksum_mismatch_reports_trailer_offset() {
    let mut v = hex(FRAME_EXAMPLE);
    v[20] ^= 0x01; // inside the first reading's value
    let e = err(&v);
    assert_eq!(e.offset, 41);
    assert!(matches!(
        e.kind,
        DecodeErrorKind::ChecksumMismatch {
            stored: 0xb339_eb98,
            ..
        }
    ));
}

#[test]
fn device_id_errors_point_at_the_id() {
    let mut v = plain();
    v[4] = b'/'; // "de/-1"
    assert_eq!(
        err(&v),
        DecodeError {
            offset: 2,
            kind: DecodeErrorKind::InvalidDeviceId(DeviceIdError::ForbiddenChar {
                ch: '/',
                index: 2,
                reason: "'/' separates MQTT topic levels"
            })
        }
    );
    v[4] = 0xff;
    assert_eq!(
        err(&v),
        DecodeError {
            offset: 2,
            kind: DecodeErrorKind::InvalidUtf8 {
                field: Field::DeviceId
            }
        }
    );
    assert_eq!(
        err(&[0x10, 0x81, 0x01]).kind,
        DecodeErrorKind::TooLong {
            field: Field::DeviceId,
            len: 129,
            max: 128
        }
    );
    assert_eq!(
        err(&[0x10, 0x00, 1, 1, 0]).kind,
        DecodeErrorKind::InvalidDeviceId(DeviceIdError::Empty)
    );
}

#[test]
fn varint_overflow_is_rejected() {
    // seq = eleven continuation bytes
    let mut v = vec![0x10, 1, b'd'];
    v.extend_from_slice(&[0xff; 10]);
    v.push(0x01);
    assert_eq!(
        err(&v),
        DecodeError {
            offset: 3,
            kind: DecodeErrorKind::VarintOverflow
        }
    );
    // The tenth byte may carry only the 64th bit.
    let mut v = vec![0x10, 1, b'd'];
    v.extend_from_slice(&[0xff; 9]);
    v.push(0x02);
    assert_eq!(err(&v).kind, DecodeErrorKind::VarintOverflow);
    // u64::MAX itself is fine.
    let mut v = vec![0x10, 1, b'd'];
    v.extend_from_slice(&[0xff; 9]);
    v.extend_from_slice(&[0x01, 0, 0]);
    assert_eq!(
        decode_frame(&v, &Limits::default()).unwrap().seq(),
        u64::MAX
    );
}

#[test]
fn reading_errors_name_the_tag_offset() {
    let base = [0x10, 1, b'd', 1, 1, 1];
    let with = |tail: &[u8]| {
        let mut v = base.to_vec();
        v.extend_from_slice(tail);
        err(&v)
    };
    assert_eq!(
        with(&[0x09, 0]),
        DecodeError {
            offset: 6,
            kind: DecodeErrorKind::UnknownValueType {
                tag: 0x09,
                value_type: 9
            }
        }
    );
    assert_eq!(
        with(&[0x85, 0]),
        DecodeError {
            offset: 6,
            kind: DecodeErrorKind::ReservedTagBit { tag: 0x85 }
        }
    );
    assert_eq!(
        with(&[0x05, 0x80, 0x80, 0x80, 0x80, 0x10]),
        DecodeError {
            offset: 7,
            kind: DecodeErrorKind::OutOfRange {
                what: "channel alias",
                value: 1 << 32
            }
        }
    );
    assert_eq!(
        with(&[0x17, 2, 0xc3, 0x28]),
        DecodeError {
            offset: 8,
            kind: DecodeErrorKind::InvalidUtf8 {
                field: Field::ChannelName
            }
        }
    );
    assert_eq!(
        with(&[0x00, 0, 1, 2, 3]),
        DecodeError {
            offset: 8,
            kind: DecodeErrorKind::Truncated { needed: 5 }
        }
    );
    assert_eq!(
        with(&[0x05, 0, 0xAA]),
        DecodeError {
            offset: 8,
            kind: DecodeErrorKind::TrailingBytes { count: 1 }
        }
    );
}

#[test]
fn length_limits_apply_before_reading() {
    let limits = Limits::default().max_str_len(3).max_bytes_len(2);
    // A string value claiming 4 bytes with only 1 present: the limit is
    // reported, not the truncation, so nothing is trusted beyond the limit.
    let v = [0x10, 1, b'd', 1, 1, 1, 0x07, 0, 4, b'a'];
    assert_eq!(
        decode_frame(&v, &limits).unwrap_err(),
        DecodeError {
            offset: 8,
            kind: DecodeErrorKind::TooLong {
                field: Field::StringValue,
                len: 4,
                max: 3
            }
        }
    );
    let v = [0x10, 1, b'd', 1, 1, 1, 0x08, 0, 3, 1, 2, 3];
    assert_eq!(
        decode_frame(&v, &limits).unwrap_err().kind,
        DecodeErrorKind::TooLong {
            field: Field::BytesValue,
            len: 3,
            max: 2
        }
    );
    // A count far beyond the limit is rejected at once.
    let v = [0x10, 1, b'd', 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f];
    assert_eq!(
        decode_frame(&v, &limits).unwrap_err(),
        DecodeError {
            offset: 5,
            kind: DecodeErrorKind::TooManyReadings {
                count: 0xffff_ffff,
                max: 1024
            }
        }
    );
}

#[test]
fn errors_display_offset_and_cause() {
    let e = err(&[0x20]);
    assert_eq!(e.to_string(), "at byte 0: unsupported format version 2");
    let enc = encode_frame(&FrameHeader::new("a b", 0, 0), &[], &mut [0u8; 16]).unwrap_err();
    assert!(matches!(
        enc,
        EncodeError::InvalidDeviceId(DeviceIdError::ForbiddenChar { ch: ' ', .. })
    ));
}

/// The encoder checks the device id in the pass that copies it (plain
/// ASCII ids of up to 32 bytes) or with the full rules otherwise: every
/// path accepts exactly what `validate_device_id` accepts, and an invalid
/// id is reported before a buffer that is too small.
#[test]
fn encoder_checks_ids_on_every_path() {
    let readings = [Reading::new(Channel::Alias(1), Value::U64(7))];
    let long_ok = "d".repeat(100);
    let too_long = "d".repeat(129);
    // Plain, long (slow path), non-ASCII, empty, forbidden, too long.
    let cases = [
        "dev-4f2a9c01",
        long_ok.as_str(),
        "gerät-7",
        "",
        "a/b",
        "a+b",
        too_long.as_str(),
    ];
    for id in cases {
        let expected = iot_core::device::validate_device_id(id);
        for buf_len in [4096, 8] {
            let mut buf = vec![0u8; buf_len];
            let got = Encoder::new().frame(&FrameHeader::new(id, 1, 2), &readings, &mut buf);
            match (&expected, got) {
                (Ok(()), Ok(n)) => {
                    let frame = decode_frame(&buf[..n], &Limits::default()).unwrap();
                    assert_eq!(frame.header().device_id, id);
                }
                (Ok(()), Err(EncodeError::BufferTooSmall { .. })) => assert_eq!(buf_len, 8),
                (Err(want), Err(EncodeError::InvalidDeviceId(e))) => assert_eq!(&e, want, "{id:?}"),
                (want, got) => panic!("{id:?} with {buf_len} bytes: want {want:?}, got {got:?}"),
            }
        }
    }
}
