//! SenML (RFC 8428) interop: the RFC's worked examples, the decoding rules,
//! limits, error positions, and frame -> SenML -> frame round trips.
#![cfg(feature = "senml")]

use std::borrow::Cow;

use iot_core::codec::{AliasResolver, Channel, FrameHeader, Limits, NoAliases, Reading, Value};
use iot_core::senml::{
    Label, NameError, Position, Record, SenmlEncodeError, SenmlError, SenmlErrorKind, SenmlTime,
    SenmlValue, decode_cbor, decode_json, encode_cbor, encode_json,
};

fn json(input: &str) -> Vec<Record<'_>> {
    decode_json(input.as_bytes(), &Limits::default()).unwrap_or_else(|e| panic!("{e}\nin {input}"))
}

fn json_err(input: &str) -> SenmlError {
    json_err_with(input, &Limits::default())
}

fn json_err_with(input: &str, limits: &Limits) -> SenmlError {
    match decode_json(input.as_bytes(), limits) {
        Ok(records) => panic!("decoded {records:?}\nfrom {input}"),
        Err(e) => e,
    }
}

fn cbor_err(input: &[u8]) -> SenmlError {
    cbor_err_with(input, &Limits::default())
}

fn cbor_err_with(input: &[u8], limits: &Limits) -> SenmlError {
    match decode_cbor(input, limits) {
        Ok(records) => panic!("decoded {records:?}\nfrom {input:02x?}"),
        Err(e) => e,
    }
}

fn float(v: f64) -> Option<SenmlValue<'static>> {
    Some(SenmlValue::Float(v))
}

/// Builds CBOR test input with minicbor's encoder, independently of the
/// crate's hand-written encoder.
fn cbor(build: impl FnOnce(&mut minicbor::Encoder<&mut Vec<u8>>)) -> Vec<u8> {
    let mut out = Vec::new();
    build(&mut minicbor::Encoder::new(&mut out));
    out
}

// ---------------------------------------------------------------------------
// RFC 8428 section 5 examples (JSON text copied from the RFC).

const RFC_5_1_1: &str = r#"
   [
     {"n":"urn:dev:ow:10e2073a01080063","u":"Cel","v":23.1}
   ]
"#;

const RFC_5_1_2_A: &str = r#"
[
  {"bn":"urn:dev:ow:10e2073a01080063:","n":"voltage","u":"V","v":120.1},
  {"n":"current","u":"A","v":1.2}
]
"#;

const RFC_5_1_2_B: &str = r#"
   [
     {"bn":"urn:dev:ow:10e2073a0108006:","bt":1.276020076001e+09,
      "bu":"A","bver":5,
      "n":"voltage","u":"V","v":120.1},
     {"n":"current","t":-5,"v":1.2},
     {"n":"current","t":-4,"v":1.3},
     {"n":"current","t":-3,"v":1.4},
     {"n":"current","t":-2,"v":1.5},
     {"n":"current","t":-1,"v":1.6},
     {"n":"current","v":1.7}
   ]
"#;

/// The SensML stream example, which the RFC shows unterminated.
const RFC_5_1_2_C: &str = r#"
   [
     {"bn":"urn:dev:ow:10e2073a01080063","bt":1.320067464e+09,
      "bu":"%RH","v":21.2},
     {"t":10,"v":21.3},
     {"t":20,"v":21.4},
     {"t":30,"v":21.4},
     {"t":40,"v":21.5},
     {"t":50,"v":21.5},
     {"t":60,"v":21.5},
     {"t":70,"v":21.6},
     {"t":80,"v":21.7},
   ...
"#;

const RFC_5_1_3: &str = r#"
   [
     {"bn":"urn:dev:ow:10e2073a01080063","bt":1.320067464e+09,
      "bu":"%RH","v":20},
     {"u":"lon","v":24.30621},
     {"u":"lat","v":60.07965},
     {"t":60,"v":20.3},
     {"u":"lon","t":60,"v":24.30622},
     {"u":"lat","t":60,"v":60.07965},
     {"t":120,"v":20.7},
     {"u":"lon","t":120,"v":24.30623},
     {"u":"lat","t":120,"v":60.07966},
     {"u":"%EL","t":150,"v":98},
     {"t":180,"v":21.2},
     {"u":"lon","t":180,"v":24.30628},
     {"u":"lat","t":180,"v":60.07967}
   ]
"#;

const RFC_5_1_4: &str = r#"
   [
     {"n":"urn:dev:ow:10e2073a01080063","u":"%RH","t":1.320067464e+09,
      "v":20},
     {"n":"urn:dev:ow:10e2073a01080063","u":"lon","t":1.320067464e+09,
      "v":24.30621},
     {"n":"urn:dev:ow:10e2073a01080063","u":"lat","t":1.320067464e+09,
      "v":60.07965},
     {"n":"urn:dev:ow:10e2073a01080063","u":"%RH","t":1.320067524e+09,
      "v":20.3},
     {"n":"urn:dev:ow:10e2073a01080063","u":"lon","t":1.320067524e+09,
      "v":24.30622},
     {"n":"urn:dev:ow:10e2073a01080063","u":"lat","t":1.320067524e+09,
      "v":60.07965},
     {"n":"urn:dev:ow:10e2073a01080063","u":"%RH","t":1.320067584e+09,
      "v":20.7},
     {"n":"urn:dev:ow:10e2073a01080063","u":"lon","t":1.320067584e+09,
      "v":24.30623},
     {"n":"urn:dev:ow:10e2073a01080063","u":"lat","t":1.320067584e+09,
      "v":60.07966},
     {"n":"urn:dev:ow:10e2073a01080063","u":"%EL","t":1.320067614e+09,
      "v":98},
     {"n":"urn:dev:ow:10e2073a01080063","u":"%RH","t":1.320067644e+09,
      "v":21.2},
     {"n":"urn:dev:ow:10e2073a01080063","u":"lon","t":1.320067644e+09,
      "v":24.30628},
     {"n":"urn:dev:ow:10e2073a01080063","u":"lat","t":1.320067644e+09,
      "v":60.07967}
   ]
"#;

const RFC_5_1_5: &str = r#"
  [
    {"bn":"urn:dev:ow:10e2073a01080063:","n":"temp","u":"Cel","v":23.1},
    {"n":"label","vs":"Machine Room"},
    {"n":"open","vb":false},
    {"n":"nfv-reader","vd":"aGkgCg"}
  ]
"#;

const RFC_5_1_6: &str = r#"
   [
     {"bn":"2001:db8::2/","bt":1.320078429e+09,
      "n":"temperature","u":"Cel","v":25.2},
     {"n":"humidity","u":"%RH","v":30},
     {"bn":"2001:db8::1/","n":"temperature","u":"Cel","v":12.3},
     {"n":"humidity","u":"%RH","v":67}
   ]
"#;

const RFC_5_1_7_A: &str = r#"
   [
     {"bn":"urn:dev:ow:10e2073a01080063:"},
     {"n":"temp","u":"Cel","v":23.1},
     {"n":"heat","u":"/","v":1},
     {"n":"fan","u":"/","v":0}
   ]
"#;

const RFC_5_1_7_B: &str = r#"
   [
     {"bt":1.320078429e+09,"bu":"/","n":"2001:db8::3","v":1},
     {"n":"2001:db8::4","v":1}
   ]
"#;

const RFC_5_1_7_C: &str = r#"
   [
     {"bt":1.320078429e+09,"bu":"/","n":"2001:db8::3","v":0.5},
     {"n":"2001:db8::4","v":0.5},
     {"n":"2001:db8::3","t":0.1,"v":0},
     {"n":"2001:db8::4","t":0.1,"v":0}
   ]
"#;

/// RFC 8428 section 6: the second example of section 5.1.2 in CBOR (hex
/// dump copied from the RFC).
const RFC_6_CBOR: &str = "
 87 a7 21 78 1b 75 72 6e 3a 64 65 76 3a 6f 77 3a
 31 30 65 32 30 37 33 61 30 31 30 38 30 30 36 3a
 22 fb 41 d3 03 a1 5b 00 10 62 23 61 41 20 05 00
 67 76 6f 6c 74 61 67 65 01 61 56 02 fb 40 5e 06
 66 66 66 66 66 a3 00 67 63 75 72 72 65 6e 74 06
 24 02 fb 3f f3 33 33 33 33 33 33 a3 00 67 63 75
 72 72 65 6e 74 06 23 02 fb 3f f4 cc cc cc cc cc
 cd a3 00 67 63 75 72 72 65 6e 74 06 22 02 fb 3f
 f6 66 66 66 66 66 66 a3 00 67 63 75 72 72 65 6e
 74 06 21 02 f9 3e 00 a3 00 67 63 75 72 72 65 6e
 74 06 20 02 fb 3f f9 99 99 99 99 99 9a a3 00 67
 63 75 72 72 65 6e 74 06 00 02 fb 3f fb 33 33 33
 33 33 33";

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

#[test]
fn rfc_5_1_1_single_datapoint() {
    let r = json(RFC_5_1_1);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].name, "urn:dev:ow:10e2073a01080063");
    assert_eq!(r[0].unit.as_deref(), Some("Cel"));
    assert_eq!(r[0].value, float(23.1));
    assert_eq!(r[0].sum, None);
    // No time at all: taken roughly "now".
    assert_eq!(r[0].time, SenmlTime::Relative(0.0));
    let reading = r[0].reading().unwrap();
    assert_eq!(
        reading.channel,
        Channel::Name("urn:dev:ow:10e2073a01080063")
    );
    assert_eq!(reading.value, Value::F64(23.1));
    assert_eq!(reading.unit, Some("Cel"));
}

#[test]
fn rfc_5_1_2_multiple_datapoints() {
    let r = json(RFC_5_1_2_A);
    let names: Vec<_> = r.iter().map(|r| &*r.name).collect();
    assert_eq!(
        names,
        [
            "urn:dev:ow:10e2073a01080063:voltage",
            "urn:dev:ow:10e2073a01080063:current"
        ]
    );
    assert_eq!(r[0].unit.as_deref(), Some("V"));
    assert_eq!(r[0].value, float(120.1));
    assert_eq!(r[1].unit.as_deref(), Some("A"));
    assert_eq!(r[1].value, float(1.2));
    assert!(r.iter().all(|r| r.time == SenmlTime::Relative(0.0)));
}

fn check_5_1_2_b(r: &[Record<'_>]) {
    // "current at Tue Jun 8 18:01:16.001 UTC 2010 and at each second for
    // the previous 5 seconds"; bver 5 is accepted (<= 10).
    let bt = 1.276020076001e9;
    assert_eq!(r.len(), 7);
    assert_eq!(r[0].name, "urn:dev:ow:10e2073a0108006:voltage");
    assert_eq!(r[0].unit.as_deref(), Some("V"));
    assert_eq!(r[0].value, float(120.1));
    assert_eq!(r[0].time, SenmlTime::Absolute(bt));
    let values = [1.2, 1.3, 1.4, 1.5, 1.6, 1.7];
    for (i, rec) in r[1..].iter().enumerate() {
        assert_eq!(rec.name, "urn:dev:ow:10e2073a0108006:current");
        // No "u": the base unit "A" applies.
        assert_eq!(rec.unit.as_deref(), Some("A"));
        assert_eq!(rec.value, float(values[i]));
        assert_eq!(rec.time, SenmlTime::Absolute(bt - 5.0 + i as f64));
    }
    // The last one has no "t": bt itself, Jun 8 18:01:16.001 UTC 2010.
    assert_eq!(r[6].time.offset_ms(1_276_020_076_001, 0.0), Some(0));
    assert_eq!(r[1].time.offset_ms(1_276_020_076_001, 0.0), Some(-5000));
}

#[test]
fn rfc_5_1_2_relative_times_and_base_version() {
    check_5_1_2_b(&json(RFC_5_1_2_B));
}

#[test]
fn rfc_6_cbor_example_decodes_like_its_json() {
    let bytes = hex(RFC_6_CBOR);
    assert_eq!(bytes.len(), 0xc3);
    let from_cbor = decode_cbor(&bytes, &Limits::default()).unwrap();
    check_5_1_2_b(&from_cbor);
    assert_eq!(from_cbor, json(RFC_5_1_2_B));
    // Zero-copy: the unit comes straight out of the input buffer.
    let unit = from_cbor[0].unit.as_deref().unwrap();
    assert!(bytes.as_ptr_range().contains(&unit.as_ptr()));
}

#[test]
fn rfc_5_1_2_sensml_stream() {
    // As printed, the stream is cut off: a syntax error on the "..." line.
    let e = json_err(RFC_5_1_2_C);
    assert!(matches!(e.kind, SenmlErrorKind::Syntax { .. }), "{e}");
    assert_eq!(
        e.position,
        Position::Json {
            line: 13,
            column: 4,
            offset: 292
        }
    );
    // The records received so far, closed properly.
    let complete = RFC_5_1_2_C.replace(",\n   ...", "]");
    let r = json(&complete);
    assert_eq!(r.len(), 9);
    for (i, rec) in r.iter().enumerate() {
        assert_eq!(rec.name, "urn:dev:ow:10e2073a01080063");
        assert_eq!(rec.unit.as_deref(), Some("%RH"));
        assert_eq!(
            rec.time,
            SenmlTime::Absolute(1.320067464e9 + 10.0 * i as f64)
        );
    }
    assert_eq!(r[8].value, float(21.7));
}

#[test]
fn rfc_5_1_3_multiple_measurements() {
    let r = json(RFC_5_1_3);
    assert_eq!(r.len(), 13);
    // "bn" without "n": the base name is the whole name.
    assert!(r.iter().all(|r| r.name == "urn:dev:ow:10e2073a01080063"));
    // Names that are only a base name are borrowed, not copied.
    assert!(r.iter().all(|r| matches!(r.name, Cow::Borrowed(_))));
    let units: Vec<_> = r.iter().map(|r| r.unit.as_deref().unwrap()).collect();
    assert_eq!(
        units,
        [
            "%RH", "lon", "lat", "%RH", "lon", "lat", "%RH", "lon", "lat", "%EL", "%RH", "lon",
            "lat"
        ]
    );
    assert_eq!(r[9].value, float(98.0));
    assert_eq!(r[9].time, SenmlTime::Absolute(1.320067464e9 + 150.0));
}

#[test]
fn rfc_5_1_4_is_5_1_3_resolved() {
    assert_eq!(json(RFC_5_1_4), json(RFC_5_1_3));
}

#[test]
fn rfc_5_1_5_multiple_data_types() {
    let r = json(RFC_5_1_5);
    let p = "urn:dev:ow:10e2073a01080063:";
    assert_eq!(r[0].name, format!("{p}temp"));
    assert_eq!(r[0].value, float(23.1));
    assert_eq!(r[0].unit.as_deref(), Some("Cel"));
    assert_eq!(r[1].name, format!("{p}label"));
    assert_eq!(r[1].value, Some(SenmlValue::Str("Machine Room".into())));
    assert_eq!(r[1].unit, None);
    assert_eq!(r[2].value, Some(SenmlValue::Bool(false)));
    assert_eq!(r[3].name, format!("{p}nfv-reader"));
    assert_eq!(
        r[3].value,
        Some(SenmlValue::Data(b"hi \n".as_slice().into()))
    );
    assert_eq!(r[3].reading().unwrap().value, Value::Bytes(b"hi \n"));
    // Unescaped strings are borrowed from the input.
    assert!(matches!(
        r[1].value,
        Some(SenmlValue::Str(Cow::Borrowed(_)))
    ));
}

#[test]
fn rfc_5_1_6_collection_of_resources() {
    let r = json(RFC_5_1_6);
    let t = SenmlTime::Absolute(1.320078429e9);
    let expect = [
        ("2001:db8::2", "temperature", "Cel", 25.2),
        ("2001:db8::2", "humidity", "%RH", 30.0),
        ("2001:db8::1", "temperature", "Cel", 12.3),
        // Base name from the 3rd record, base time from the 1st.
        ("2001:db8::1", "humidity", "%RH", 67.0),
    ];
    assert_eq!(r.len(), 4);
    for (rec, (device, channel, unit, v)) in r.iter().zip(expect) {
        assert_eq!(rec.split_device(), Some((device, channel)));
        assert_eq!(rec.name, format!("{device}/{channel}"));
        assert_eq!(rec.unit.as_deref(), Some(unit));
        assert_eq!(rec.value, float(v));
        assert_eq!(rec.time, t);
    }
}

#[test]
fn rfc_5_1_7_setting_an_actuator() {
    // The first record carries only a base name: context, not a reading.
    let r = json(RFC_5_1_7_A);
    assert_eq!(r.len(), 3);
    let p = "urn:dev:ow:10e2073a01080063:";
    assert_eq!(r[0].name, format!("{p}temp"));
    assert_eq!(r[0].value, float(23.1));
    assert_eq!(r[1].name, format!("{p}heat"));
    assert_eq!(r[1].unit.as_deref(), Some("/"));
    assert_eq!(r[1].value, float(1.0));
    assert_eq!(r[2].name, format!("{p}fan"));
    assert_eq!(r[2].value, float(0.0));

    let r = json(RFC_5_1_7_B);
    assert_eq!(r.len(), 2);
    for (rec, name) in r.iter().zip(["2001:db8::3", "2001:db8::4"]) {
        assert_eq!(rec.name, name);
        assert_eq!(rec.unit.as_deref(), Some("/"));
        assert_eq!(rec.value, float(1.0));
        assert_eq!(rec.time, SenmlTime::Absolute(1.320078429e9));
    }

    // Dim both now, switch both off 100 ms later.
    let r = json(RFC_5_1_7_C);
    let got: Vec<_> = r
        .iter()
        .map(|r| {
            (
                &*r.name,
                r.value.clone(),
                r.time.offset_ms(1_320_078_429_000, 0.0),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("2001:db8::3", float(0.5), Some(0)),
            ("2001:db8::4", float(0.5), Some(0)),
            ("2001:db8::3", float(0.0), Some(100)),
            ("2001:db8::4", float(0.0), Some(100)),
        ]
    );
}

// ---------------------------------------------------------------------------
// Rules.

#[test]
fn version_above_10_is_rejected() {
    let e = json_err(r#"[{"bver":11,"n":"a","v":1}]"#);
    assert_eq!(e.kind, SenmlErrorKind::UnsupportedVersion { bver: 11 });
    assert_eq!(e.label, Some(Label::BaseVersion));
    assert_eq!(e.record, Some(0));
    assert_eq!(
        e.position,
        Position::Json {
            line: 1,
            column: 11,
            offset: 10
        }
    );

    let e = json_err(r#"[{"n":"a","v":1},{"bver":0}]"#);
    assert_eq!(e.kind, SenmlErrorKind::UnsupportedVersion { bver: 0 });
    assert_eq!(e.record, Some(1));
    let e = json_err(r#"[{"bver":5.0,"n":"a","v":1}]"#);
    assert!(matches!(e.kind, SenmlErrorKind::WrongType { .. }));

    // {-1: 11, 0: "a", 2: 1}
    let input = cbor(|e| {
        e.array(1).unwrap().map(3).unwrap();
        e.i8(-1).unwrap().u8(11).unwrap();
        e.u8(0)
            .unwrap()
            .str("a")
            .unwrap()
            .u8(2)
            .unwrap()
            .u8(1)
            .unwrap();
    });
    let e = cbor_err(&input);
    assert_eq!(e.kind, SenmlErrorKind::UnsupportedVersion { bver: 11 });
    assert_eq!(e.position, Position::Cbor { offset: 3 });
    assert_eq!(e.label, Some(Label::BaseVersion));

    assert_eq!(json(r#"[{"bver":10,"n":"a","v":1}]"#).len(), 1);
}

#[test]
fn versions_must_agree_within_a_pack() {
    let e = json_err(r#"[{"bver":5,"n":"a","v":1},{"bver":6,"n":"b","v":1}]"#);
    assert_eq!(
        e.kind,
        SenmlErrorKind::VersionMismatch {
            expected: 5,
            found: 6
        }
    );
    let e = json_err(r#"[{"n":"a","v":1},{"bver":5,"n":"b","v":1}]"#);
    assert_eq!(
        e.kind,
        SenmlErrorKind::VersionMismatch {
            expected: 10,
            found: 5
        }
    );
    assert_eq!(
        json(r#"[{"bver":5,"n":"a","v":1},{"bver":5,"n":"b","v":1}]"#).len(),
        2
    );
}

#[test]
fn unknown_mandatory_label_is_rejected() {
    let e = json_err(r#"[{"n":"a","v":1,"foo_":2}]"#);
    assert_eq!(
        e.kind,
        SenmlErrorKind::UnknownMandatoryLabel {
            label: "foo_".into()
        }
    );
    assert_eq!(e.record, Some(0));
    // In CBOR, extension labels are text keys.
    let input = cbor(|e| {
        e.array(1).unwrap().map(3).unwrap();
        e.u8(0)
            .unwrap()
            .str("a")
            .unwrap()
            .u8(2)
            .unwrap()
            .u8(1)
            .unwrap();
        e.str("foo_").unwrap().u8(2).unwrap();
    });
    let e = cbor_err(&input);
    assert_eq!(
        e.kind,
        SenmlErrorKind::UnknownMandatoryLabel {
            label: "foo_".into()
        }
    );
    assert_eq!(e.position, Position::Cbor { offset: 7 });
    // Indefinite-length text key.
    let input = cbor(|e| {
        e.array(1).unwrap().map(2).unwrap();
        e.u8(2).unwrap().u8(1).unwrap();
        e.begin_str()
            .unwrap()
            .str("fo")
            .unwrap()
            .str("o_")
            .unwrap()
            .end()
            .unwrap();
        e.u8(2).unwrap();
    });
    assert!(matches!(
        cbor_err(&input).kind,
        SenmlErrorKind::UnknownMandatoryLabel { label } if label == "foo_"
    ));
}

fn nested_json(depth: usize) -> String {
    format!(
        r#"[{{"n":"a","foo":{}1{},"v":1}}]"#,
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

fn nested_cbor(depth: usize, indefinite: bool) -> Vec<u8> {
    cbor(|e| {
        e.array(1).unwrap().map(3).unwrap();
        e.u8(0)
            .unwrap()
            .str("a")
            .unwrap()
            .u8(2)
            .unwrap()
            .u8(1)
            .unwrap();
        e.str("foo").unwrap();
        for i in 0..depth {
            if indefinite {
                e.begin_map().unwrap().str("k").unwrap();
            } else if i % 2 == 0 {
                e.tag(minicbor::data::Tag::new(1000))
                    .unwrap()
                    .array(2)
                    .unwrap()
                    .null()
                    .unwrap();
            } else {
                e.map(1).unwrap().i32(-70000).unwrap();
            }
        }
        e.f32(1.5).unwrap();
        for _ in 0..depth {
            if indefinite {
                e.end().unwrap();
            }
        }
    })
}

#[test]
fn unknown_labels_are_skipped_within_the_nesting_limit() {
    let r = json(r#"[{"n":"a","foo":{"x":[1,"y",null,true,{"z":2.5}]},"v":1,"bar":"b"}]"#);
    assert_eq!(r[0].value, float(1.0));
    // Default max_nesting 16: pack (1) + record (2) + 14 levels.
    assert_eq!(json(&nested_json(14)).len(), 1);
    let deep = nested_json(15);
    let e = json_err(&deep);
    assert_eq!(e.kind, SenmlErrorKind::TooDeep { max: 16 });
    assert_eq!(e.record, Some(0));
    // Far beyond serde_json's own recursion limit too.
    let e = json_err(&nested_json(30_000));
    assert_eq!(e.kind, SenmlErrorKind::TooDeep { max: 16 });
    // serde_json stops at 128 levels whatever the limit says.
    let e = json_err_with(&nested_json(200), &Limits::default().max_nesting(1000));
    assert_eq!(e.kind, SenmlErrorKind::TooDeep { max: 1000 });

    for indefinite in [false, true] {
        let input = nested_cbor(14, indefinite);
        let r = decode_cbor(&input, &Limits::default()).unwrap();
        assert_eq!(r[0].value, Some(SenmlValue::UInt(1)));
        let e = cbor_err(&nested_cbor(15, indefinite));
        assert_eq!(e.kind, SenmlErrorKind::TooDeep { max: 16 });
        let e = cbor_err(&nested_cbor(10_000, indefinite));
        assert_eq!(e.kind, SenmlErrorKind::TooDeep { max: 16 });
    }
    // Unknown integer labels are ignored as well ({-7: [..], 9: h'00', ...}).
    let input = cbor(|e| {
        e.array(1).unwrap().map(4).unwrap();
        e.i8(-7).unwrap().array(1).unwrap().u8(1).unwrap();
        e.u8(9).unwrap().bytes(&[0]).unwrap();
        e.u8(0)
            .unwrap()
            .str("a")
            .unwrap()
            .u8(2)
            .unwrap()
            .u8(1)
            .unwrap();
    });
    assert_eq!(decode_cbor(&input, &Limits::default()).unwrap().len(), 1);
    // A known label spelled as text is an extension label in CBOR.
    let input = cbor(|e| {
        e.array(1).unwrap().map(3).unwrap();
        e.str("bn").unwrap().str("x:").unwrap();
        e.u8(0)
            .unwrap()
            .str("a")
            .unwrap()
            .u8(2)
            .unwrap()
            .u8(1)
            .unwrap();
    });
    assert_eq!(
        decode_cbor(&input, &Limits::default()).unwrap()[0].name,
        "a"
    );
}

#[test]
fn relative_and_absolute_times() {
    let r = json(
        r#"[{"n":"a","v":1,"t":-5},
            {"n":"a","v":1,"t":268435455.5},
            {"n":"a","v":1,"t":268435456},
            {"bt":268435450,"n":"a","v":1,"t":10},
            {"bt":-10,"n":"a","v":1,"t":2}]"#,
    );
    let times: Vec<_> = r.iter().map(|r| r.time).collect();
    assert_eq!(
        times,
        [
            SenmlTime::Relative(-5.0),
            SenmlTime::Relative(268_435_455.5),
            SenmlTime::Absolute(268_435_456.0),
            // bt + t crosses 2^28: absolute (RFC 8428 §4.5.3 warns about it).
            SenmlTime::Absolute(268_435_460.0),
            SenmlTime::Relative(-8.0),
        ]
    );
    let now = 1_700_000_000.0;
    assert_eq!(r[0].time.resolve(now), now - 5.0);
    assert_eq!(r[2].time.resolve(now), 268_435_456.0);
    assert_eq!(r[4].time.offset_ms(1_700_000_000_000, now), Some(-8_000));
    assert_eq!(
        r[0].to_frame_reading(1_699_999_990_000, now)
            .unwrap()
            .time_offset_ms,
        Some(5_000)
    );
}

#[test]
fn base_fields_persist_until_replaced() {
    let r = json(
        r#"[{"bn":"d1/","bu":"V","bv":10,"bs":100,"n":"a","v":1},
            {"n":"b","v":2,"u":"A","s":1},
            {"bn":"d2/","n":"c","vs":"x"},
            {"bu":"W","bv":0.5,"n":"d","v":-1},
            {"bn":"","n":"e","v":0}]"#,
    );
    let got: Vec<_> = r
        .iter()
        .map(|r| (&*r.name, r.unit.as_deref(), r.value.clone(), r.sum))
        .collect();
    assert_eq!(
        got,
        [
            ("d1/a", Some("V"), float(11.0), Some(100.0)),
            ("d1/b", Some("A"), float(12.0), Some(101.0)),
            // bv applies to numeric values only.
            (
                "d2/c",
                Some("V"),
                Some(SenmlValue::Str("x".into())),
                Some(100.0)
            ),
            ("d2/d", Some("W"), float(-0.5), Some(100.0)),
            ("e", Some("W"), float(0.5), Some(100.0)),
        ]
    );
    // Integer base values stay exact in CBOR: {-5: -20, 0: "a", 2: 5}, {0: "b", 2: 2^64-21}
    let input = cbor(|e| {
        e.array(2).unwrap();
        e.map(3).unwrap().i8(-5).unwrap().i8(-20).unwrap();
        e.u8(0)
            .unwrap()
            .str("a")
            .unwrap()
            .u8(2)
            .unwrap()
            .u8(5)
            .unwrap();
        e.map(2).unwrap().u8(0).unwrap().str("b").unwrap();
        e.u8(2).unwrap().u64(u64::MAX - 20).unwrap();
    });
    let r = decode_cbor(&input, &Limits::default()).unwrap();
    assert_eq!(r[0].value, Some(SenmlValue::Int(-15)));
    assert_eq!(r[1].value, Some(SenmlValue::UInt(u64::MAX - 40)));
}

#[test]
fn values_and_sums() {
    // Sum without value: allowed, but the reading model has no sum.
    let r = json(r#"[{"n":"meter","u":"W","s":5.5}]"#);
    assert_eq!(r[0].value, None);
    assert_eq!(r[0].sum, Some(5.5));
    assert_eq!(r[0].reading(), None);
    // A base sum in effect gives later records a sum.
    let r = json(r#"[{"bs":7,"n":"a","v":1},{"n":"b"}]"#);
    assert_eq!((r[1].value.clone(), r[1].sum), (None, Some(7.0)));

    let e = json_err(r#"[{"n":"a","u":"V"}]"#);
    assert_eq!(e.kind, SenmlErrorKind::MissingValue);
    assert_eq!((e.record, e.label), (Some(0), None));
    let e = json_err(r#"[{"n":"a","v":1},{}]"#);
    assert_eq!((e.kind, e.record), (SenmlErrorKind::MissingValue, Some(1)));
    // Only unknown labels: nothing SenML in it.
    assert_eq!(json_err(r#"[{"x":1}]"#).kind, SenmlErrorKind::MissingValue);
    // Base-only records yield nothing.
    assert!(json(r#"[{"bn":"a","bt":1e9,"bver":10,"x":1}]"#).is_empty());
    assert!(json("[]").is_empty());

    let e = json_err(r#"[{"n":"a","v":1,"vs":"x"}]"#);
    assert_eq!(e.kind, SenmlErrorKind::MultipleValues);
    assert_eq!(e.label, Some(Label::StringValue));
    let e = json_err(r#"[{"vb":true,"n":"a","vd":"AA"}]"#);
    assert_eq!(e.kind, SenmlErrorKind::MultipleValues);
    let e = json_err(r#"[{"n":"a","v":1,"n":"b"}]"#);
    assert_eq!(e.kind, SenmlErrorKind::DuplicateLabel);
    assert_eq!(e.label, Some(Label::Name));
}

#[test]
fn invalid_names_are_rejected() {
    let cases = [
        (r#"[{"n":"_a","v":1}]"#, "_a"),
        (r#"[{"n":"a b","v":1}]"#, "a b"),
        (r#"[{"bn":"dev/","n":"temp°","v":1}]"#, "dev/temp°"),
        (r#"[{"bn":"-x","n":"y","v":1}]"#, "-x"),
        (r#"[{"v":1}]"#, ""),
    ];
    for (input, name) in cases {
        let e = json_err(input);
        match &e.kind {
            SenmlErrorKind::InvalidName { name: got, .. } if got.starts_with(name) => {}
            _ => panic!("{input}: {e}"),
        }
    }
    assert!(matches!(
        json_err(r#"[{"v":1}]"#).kind,
        SenmlErrorKind::InvalidName {
            error: NameError::Empty,
            ..
        }
    ));
    assert!(matches!(
        json_err(r#"[{"n":"a b","v":1}]"#).kind,
        SenmlErrorKind::InvalidName {
            error: NameError::BadChar { ch: ' ', index: 1 },
            ..
        }
    ));
    // All allowed characters.
    assert_eq!(json(r#"[{"n":"Az09-:./_","v":1}]"#).len(), 1);
}

#[test]
fn wrong_types() {
    for (input, label) in [
        (r#"[{"n":5,"v":1}]"#, Label::Name),
        (r#"[{"n":"a","v":"1"}]"#, Label::Value),
        (r#"[{"n":"a","vb":1}]"#, Label::BoolValue),
        (r#"[{"n":"a","vd":[1]}]"#, Label::DataValue),
        (r#"[{"n":"a","v":1,"t":null}]"#, Label::Time),
        (r#"[{"n":"a","v":{"x":1}}]"#, Label::Value),
    ] {
        let e = json_err(input);
        assert!(matches!(e.kind, SenmlErrorKind::WrongType { .. }), "{e}");
        assert_eq!(e.label, Some(label), "{input}");
    }
    let e = json_err(r#"{"n":"a","v":1}"#);
    assert_eq!(
        e.kind,
        SenmlErrorKind::WrongType {
            expected: "a JSON array (pack)"
        }
    );
    let e = json_err("[1]");
    assert_eq!(
        e.kind,
        SenmlErrorKind::WrongType {
            expected: "a JSON object (record)"
        }
    );
    assert!(matches!(
        cbor_err(&[0xa0]).kind,
        SenmlErrorKind::WrongType { .. }
    ));
    assert!(matches!(
        cbor_err(&[0x81, 0x01]).kind,
        SenmlErrorKind::WrongType { .. }
    ));
    // Indefinite-length strings are not allowed for SenML fields (RFC 8428 §6).
    let input = cbor(|e| {
        e.array(1).unwrap().map(2).unwrap();
        e.u8(0)
            .unwrap()
            .begin_str()
            .unwrap()
            .str("a")
            .unwrap()
            .end()
            .unwrap();
        e.u8(2).unwrap().u8(1).unwrap();
    });
    let e = cbor_err(&input);
    assert_eq!(
        e.kind,
        SenmlErrorKind::WrongType {
            expected: "a definite-length text string"
        }
    );
    assert_eq!(e.position, Position::Cbor { offset: 3 });
    // Invalid UTF-8 in CBOR text.
    let e = cbor_err(&[0x81, 0xa2, 0x00, 0x61, 0xff, 0x02, 0x01]);
    assert_eq!(e.kind, SenmlErrorKind::InvalidUtf8);
    assert_eq!(e.position, Position::Cbor { offset: 3 });
}

#[test]
fn data_values() {
    // Padding is tolerated on input; the standard alphabet is not.
    let r = json(r#"[{"n":"a","vd":"aGkgCg=="},{"n":"b","vd":""},{"n":"c","vd":"-_8"}]"#);
    assert_eq!(
        r[0].value,
        Some(SenmlValue::Data(b"hi \n".as_slice().into()))
    );
    assert_eq!(r[1].value, Some(SenmlValue::Data(b"".as_slice().into())));
    assert_eq!(
        r[2].value,
        Some(SenmlValue::Data([0xfb, 0xff].as_slice().into()))
    );
    let e = json_err(r#"[{"n":"a","vd":"+/8"}]"#);
    assert!(
        matches!(e.kind, SenmlErrorKind::InvalidBase64 { .. }),
        "{e}"
    );
    assert_eq!(e.label, Some(Label::DataValue));
    // CBOR byte strings are borrowed.
    let input = cbor(|e| {
        e.array(1).unwrap().map(2).unwrap();
        e.u8(0)
            .unwrap()
            .str("a")
            .unwrap()
            .u8(8)
            .unwrap()
            .bytes(b"xyz")
            .unwrap();
    });
    let r = decode_cbor(&input, &Limits::default()).unwrap();
    match &r[0].value {
        Some(SenmlValue::Data(Cow::Borrowed(d))) => assert_eq!(d.as_ptr(), input[7..].as_ptr()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cbor_numbers() {
    // Integers are exact; half floats and decimal fractions (tag 4) work.
    let input = cbor(|e| {
        type Build = fn(&mut minicbor::Encoder<&mut Vec<u8>>);
        let builders: [Build; 5] = [
            |e| drop(e.u64(u64::MAX)),
            |e| drop(e.i64(i64::MIN)),
            // -2^64: below i64, read as the nearest double.
            |e| {
                e.writer_mut()
                    .extend_from_slice(&[0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
            },
            |e| e.writer_mut().extend_from_slice(&[0xf9, 0x3e, 0x00]),
            // 4([-2, 27115]) = 271.15
            |e| {
                e.writer_mut()
                    .extend_from_slice(&[0xc4, 0x82, 0x21, 0x19, 0x69, 0xeb])
            },
        ];
        e.array(5).unwrap();
        for build in builders {
            e.map(2)
                .unwrap()
                .u8(0)
                .unwrap()
                .str("a")
                .unwrap()
                .u8(2)
                .unwrap();
            build(e);
        }
    });
    let r = decode_cbor(&input, &Limits::default()).unwrap();
    let values: Vec<_> = r.iter().map(|r| r.value.clone().unwrap()).collect();
    assert_eq!(
        values,
        [
            SenmlValue::UInt(u64::MAX),
            SenmlValue::Int(i64::MIN),
            SenmlValue::Float(-18_446_744_073_709_551_616.0),
            SenmlValue::Float(1.5),
            SenmlValue::Float(271.15),
        ]
    );
    assert_eq!(r[0].reading().unwrap().value, Value::U64(u64::MAX));
    assert_eq!(r[1].reading().unwrap().value, Value::I64(i64::MIN));
    // Other tags are not numbers.
    let e = cbor_err(&[0x81, 0xa2, 0x00, 0x61, b'a', 0x02, 0xc1, 0x01]);
    assert!(matches!(e.kind, SenmlErrorKind::WrongType { .. }));
    assert_eq!(e.position, Position::Cbor { offset: 6 });
}

#[test]
fn non_finite_times_are_rejected() {
    let input = cbor(|e| {
        e.array(1).unwrap().map(3).unwrap();
        e.u8(0)
            .unwrap()
            .str("a")
            .unwrap()
            .u8(2)
            .unwrap()
            .u8(1)
            .unwrap();
        e.u8(6).unwrap().f64(f64::NAN).unwrap();
    });
    let e = cbor_err(&input);
    assert_eq!(e.kind, SenmlErrorKind::NonFiniteTime);
    assert_eq!(e.label, Some(Label::Time));
    // bt + t overflowing.
    let e = json_err(r#"[{"bt":1.7e308,"n":"a","v":1,"t":1.7e308}]"#);
    assert_eq!(e.kind, SenmlErrorKind::NonFiniteTime);
}

// ---------------------------------------------------------------------------
// Limits.

#[test]
fn record_count_limit() {
    let limits = Limits::default().max_readings(2);
    let e = json_err_with(
        r#"[{"n":"a","v":1},{"n":"a","v":1},{"n":"a","v":1}]"#,
        &limits,
    );
    assert_eq!(
        e.kind,
        SenmlErrorKind::TooManyRecords {
            count: None,
            max: 2
        }
    );
    assert_eq!(e.record, None);
    assert_eq!(
        e.position,
        Position::Json {
            line: 1,
            column: 33,
            offset: 32
        }
    );
    // Base-only records count too: they are elements of the pack.
    let e = json_err_with(r#"[{"bn":"a"},{"bn":"b"},{"bn":"c"}]"#, &limits);
    assert!(matches!(e.kind, SenmlErrorKind::TooManyRecords { .. }));

    // A definite CBOR array is checked before anything is reserved.
    let e = cbor_err_with(&[0x9a, 0xff, 0xff, 0xff, 0xff], &limits);
    assert_eq!(
        e.kind,
        SenmlErrorKind::TooManyRecords {
            count: Some(u64::from(u32::MAX)),
            max: 2
        }
    );
    assert_eq!(e.position, Position::Cbor { offset: 0 });
    // A huge but allowed count with no data: fails at the end of the input.
    let e = cbor_err(&[0x99, 0x04, 0x00]);
    assert_eq!(e.kind, SenmlErrorKind::UnexpectedEnd);
    // Indefinite arrays (SensML) are counted as they go.
    let mut input = vec![0x9f];
    for _ in 0..3 {
        input.extend_from_slice(&[0xa2, 0x00, 0x61, b'a', 0x02, 0x01]);
    }
    input.push(0xff);
    assert_eq!(decode_cbor(&input, &Limits::default()).unwrap().len(), 3);
    let e = cbor_err_with(&input, &limits);
    assert_eq!(
        e.kind,
        SenmlErrorKind::TooManyRecords {
            count: None,
            max: 2
        }
    );
    assert_eq!(e.position, Position::Cbor { offset: 13 });
}

#[test]
fn string_and_data_length_limits() {
    let limits = Limits::default().max_str_len(4).max_bytes_len(3);
    assert_eq!(
        decode_json(br#"[{"n":"abcd","v":1}]"#, &limits)
            .unwrap()
            .len(),
        1
    );
    let e = json_err_with(r#"[{"n":"abcde","v":1}]"#, &limits);
    assert_eq!(e.kind, SenmlErrorKind::TooLong { len: 5, max: 4 });
    assert_eq!(e.label, Some(Label::Name));
    let e = json_err_with(r#"[{"n":"a","vs":"\u00e9\u00e9\u00e9"}]"#, &limits);
    assert_eq!(e.kind, SenmlErrorKind::TooLong { len: 6, max: 4 });
    assert_eq!(e.label, Some(Label::StringValue));
    // vd: the limit is on the decoded bytes.
    assert!(decode_json(br#"[{"n":"a","vd":"AAAA"}]"#, &limits).is_ok());
    let e = json_err_with(r#"[{"n":"a","vd":"AAAAAA"}]"#, &limits);
    assert_eq!(e.kind, SenmlErrorKind::TooLong { len: 4, max: 3 });

    let input = cbor(|e| {
        e.array(1).unwrap().map(2).unwrap();
        e.u8(0)
            .unwrap()
            .str("a")
            .unwrap()
            .u8(8)
            .unwrap()
            .bytes(b"wxyz")
            .unwrap();
    });
    let e = cbor_err_with(&input, &limits);
    assert_eq!(e.kind, SenmlErrorKind::TooLong { len: 4, max: 3 });
    assert_eq!(e.position, Position::Cbor { offset: 6 });
    let input = cbor(|e| {
        e.array(1).unwrap().map(2).unwrap();
        e.u8(1)
            .unwrap()
            .str("kWh/m")
            .unwrap()
            .u8(5)
            .unwrap()
            .u8(1)
            .unwrap();
    });
    let e = cbor_err_with(&input, &limits);
    assert_eq!(e.kind, SenmlErrorKind::TooLong { len: 5, max: 4 });
    assert_eq!(e.label, Some(Label::Unit));
}

#[test]
fn input_length_and_nesting_limits() {
    let limits = Limits::default().max_frame_len(10);
    let e = json_err_with(r#"[{"n":"a","v":1}]"#, &limits);
    assert_eq!(e.kind, SenmlErrorKind::InputTooLarge { len: 17, max: 10 });
    assert_eq!(e.position, Position::Input);
    let e = cbor_err_with(&[0x80; 11], &limits);
    assert_eq!(e.kind, SenmlErrorKind::InputTooLarge { len: 11, max: 10 });

    let flat = Limits::default().max_nesting(1);
    let e = json_err_with(r#"[{"n":"a","v":1}]"#, &flat);
    assert_eq!(e.kind, SenmlErrorKind::TooDeep { max: 1 });
    assert!(decode_json(b"[]", &flat).unwrap().is_empty());
    let e = cbor_err_with(&[0x81, 0xa0], &flat);
    assert_eq!(e.kind, SenmlErrorKind::TooDeep { max: 1 });
    // With max_nesting 2 no unknown container value fits.
    let two = Limits::default().max_nesting(2);
    assert!(decode_json(br#"[{"n":"a","v":1,"x":1}]"#, &two).is_ok());
    let e = json_err_with(r#"[{"n":"a","v":1,"x":[]}]"#, &two);
    assert_eq!(e.kind, SenmlErrorKind::TooDeep { max: 2 });
}

// ---------------------------------------------------------------------------
// Error positions and messages.

#[test]
fn json_errors_carry_line_column_record_and_label() {
    let input = "[\n  {\"n\":\"a\",\"v\":1},\n  {\"n\":\"b\",\n   \"bver\":11}\n]";
    let e = json_err(input);
    assert_eq!(
        e.position,
        Position::Json {
            line: 4,
            column: 13,
            offset: 45
        }
    );
    assert_eq!(e.record, Some(1));
    assert_eq!(e.label, Some(Label::BaseVersion));
    assert_eq!(
        e.to_string(),
        "line 4, column 13 (byte 45), record 1, label \"bver\": SenML version 11 is not supported (1 to 10 are)"
    );
    // A syntax error inside the second record.
    let e = json_err("[{\"n\":\"a\",\"v\":1},\n {\"n\":\"b\" \"v\":2}]");
    assert!(matches!(e.kind, SenmlErrorKind::Syntax { .. }), "{e}");
    assert_eq!(
        e.position,
        Position::Json {
            line: 2,
            column: 11,
            offset: 28
        }
    );
    assert_eq!(e.record, Some(1));
    // Truncated input.
    let e = json_err(r#"[{"n":"a","v":"#);
    assert_eq!(e.kind, SenmlErrorKind::UnexpectedEnd);
    assert_eq!(e.label, Some(Label::Value));
    // Trailing characters after the pack.
    let e = json_err(r#"[{"n":"a","v":1}] x"#);
    assert!(matches!(e.kind, SenmlErrorKind::Syntax { .. }));
    assert_eq!(
        e.position,
        Position::Json {
            line: 1,
            column: 19,
            offset: 18
        }
    );
}

#[test]
fn cbor_errors_carry_offset_record_and_label() {
    let rfc = hex(RFC_6_CBOR);
    // Corrupt the second record's time (offset 0x50, `24` = -5) into a text
    // string header: a type error at that byte, in record 1, label "t".
    let mut input = rfc.clone();
    input[0x50] = 0x60;
    let e = cbor_err(&input);
    assert_eq!(
        e.kind,
        SenmlErrorKind::WrongType {
            expected: "a number"
        }
    );
    assert_eq!(e.position, Position::Cbor { offset: 0x50 });
    assert_eq!((e.record, e.label), (Some(1), Some(Label::Time)));
    assert_eq!(
        e.to_string(),
        "byte 80, record 1, label \"t\": expected a number"
    );
    // Truncated anywhere: never a panic, always UnexpectedEnd.
    for len in 0..rfc.len() {
        let e = cbor_err(&rfc[..len]);
        assert_eq!(e.kind, SenmlErrorKind::UnexpectedEnd, "cut at {len}: {e}");
    }
    // Trailing bytes.
    let mut input = rfc.clone();
    input.push(0x00);
    let e = cbor_err(&input);
    assert_eq!(e.kind, SenmlErrorKind::TrailingData { count: 1 });
    assert_eq!(e.position, Position::Cbor { offset: 0xc3 });
    // A second "n" in record 0: `01` (u) at 0x38 becomes `00` (n).
    let mut input = rfc;
    input[0x38] = 0x00;
    let e = cbor_err(&input);
    assert_eq!(e.kind, SenmlErrorKind::DuplicateLabel);
    assert_eq!(e.position, Position::Cbor { offset: 0x38 });
    assert_eq!((e.record, e.label), (Some(0), Some(Label::Name)));
}

// ---------------------------------------------------------------------------
// Encoding: exact bytes and typed errors.

struct Aliases;

impl AliasResolver for Aliases {
    fn name_of(&self, alias: u32) -> Option<&str> {
        match alias {
            1 => Some("temp"),
            2 => Some("rh"),
            _ => None,
        }
    }
    fn unit_of(&self, alias: u32) -> Option<&str> {
        (alias == 1).then_some("Cel")
    }
}

const TS: u64 = 1_700_000_000_250;

#[test]
fn encode_json_exact_output() {
    let header = FrameHeader::new("dev-4f2a9c01", 9, TS);
    let readings = [
        Reading::new(Channel::Alias(1), Value::F64(21.5)),
        Reading::new(Channel::Alias(2), Value::F32(0.5)).with_offset_ms(-1000),
        Reading::new(Channel::Name("count"), Value::I64(-3)).with_unit("1"),
        Reading::new(Channel::Name("big"), Value::U64(u64::MAX)),
        Reading::new(Channel::Name("door"), Value::Bool(false)),
        Reading::new(Channel::Name("fw"), Value::Str("v1.2 \"beta\"\n")),
        Reading::new(Channel::Name("raw"), Value::Bytes(&[0xfb, 0xff, 0x00])),
        Reading::new(Channel::Name("zero"), Value::F64(-0.0)).with_offset_ms(0),
    ];
    let mut out = b"prefix".to_vec();
    encode_json(&header, &readings, &Aliases, &mut out).unwrap();
    let text = std::str::from_utf8(&out[6..]).unwrap();
    assert_eq!(
        text,
        concat!(
            r#"[{"bn":"dev-4f2a9c01/","bt":1700000000.25,"n":"temp","u":"Cel","v":21.5},"#,
            r#"{"n":"rh","t":-1,"v":0.5},"#,
            r#"{"n":"count","u":"1","v":-3},"#,
            r#"{"n":"big","v":18446744073709551615},"#,
            r#"{"n":"door","vb":false},"#,
            r#"{"n":"fw","vs":"v1.2 \"beta\"\n"},"#,
            r#"{"n":"raw","vd":"-_8A"},"#,
            r#"{"n":"zero","v":-0.0}]"#
        )
    );
    // Valid JSON for an independent parser.
    let value: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(value.as_array().unwrap().len(), 8);
}

#[test]
fn encode_cbor_matches_an_independent_encoding() {
    let header = FrameHeader::new("dev-4f2a9c01", 9, TS);
    let readings = [
        Reading::new(Channel::Alias(1), Value::F64(21.5)),
        Reading::new(Channel::Alias(2), Value::F32(0.1)).with_offset_ms(-1000),
        Reading::new(Channel::Name("count"), Value::I64(-300)).with_unit("1"),
        Reading::new(Channel::Name("big"), Value::U64(u64::MAX)),
        Reading::new(Channel::Name("door"), Value::Bool(true)),
        Reading::new(Channel::Name("fw"), Value::Str("v1")),
        Reading::new(Channel::Name("raw"), Value::Bytes(&[1, 2])),
        Reading::new(Channel::Name(""), Value::F64(0.1)),
    ];
    let mut out = Vec::new();
    encode_cbor(&header, &readings, &Aliases, &mut out).unwrap();
    let expected = cbor(|e| {
        e.array(8).unwrap();
        e.map(5).unwrap();
        e.i8(-2).unwrap().str("dev-4f2a9c01/").unwrap();
        // 1700000000.25 needs a double; 21.5 fits a half (f9 4d 60).
        e.i8(-3).unwrap().f64(1_700_000_000.25).unwrap();
        e.u8(0)
            .unwrap()
            .str("temp")
            .unwrap()
            .u8(1)
            .unwrap()
            .str("Cel")
            .unwrap();
        e.u8(2).unwrap();
        e.writer_mut().extend_from_slice(&[0xf9, 0x4d, 0x60]);
        e.map(3).unwrap().u8(0).unwrap().str("rh").unwrap();
        e.u8(6).unwrap();
        e.writer_mut().extend_from_slice(&[0xf9, 0xbc, 0x00]); // -1.0
        e.u8(2).unwrap().f32(0.1).unwrap();
        e.map(3).unwrap().u8(0).unwrap().str("count").unwrap();
        e.u8(1)
            .unwrap()
            .str("1")
            .unwrap()
            .u8(2)
            .unwrap()
            .i64(-300)
            .unwrap();
        e.map(2).unwrap().u8(0).unwrap().str("big").unwrap();
        e.u8(2).unwrap().u64(u64::MAX).unwrap();
        e.map(2).unwrap().u8(0).unwrap().str("door").unwrap();
        e.u8(4).unwrap().bool(true).unwrap();
        e.map(2).unwrap().u8(0).unwrap().str("fw").unwrap();
        e.u8(3).unwrap().str("v1").unwrap();
        e.map(2).unwrap().u8(0).unwrap().str("raw").unwrap();
        e.u8(8).unwrap().bytes(&[1, 2]).unwrap();
        // Empty channel name: no "n".
        e.map(1).unwrap().u8(2).unwrap().f64(0.1).unwrap();
    });
    assert_eq!(out, expected);
    let records = decode_cbor(&out, &Limits::default()).unwrap();
    assert_eq!(records[7].name, "dev-4f2a9c01/");
    assert_eq!(records[7].channel(), "");
}

#[test]
fn empty_frames_keep_device_and_timestamp() {
    let header = FrameHeader::new("dev-1", 0, TS);
    let mut out = Vec::new();
    encode_json(&header, &[], &NoAliases, &mut out).unwrap();
    assert_eq!(out, br#"[{"bn":"dev-1/","bt":1700000000.25}]"#);
    assert!(decode_json(&out, &Limits::default()).unwrap().is_empty());
    out.clear();
    encode_cbor(&header, &[], &NoAliases, &mut out).unwrap();
    assert!(decode_cbor(&out, &Limits::default()).unwrap().is_empty());
}

#[test]
fn encode_errors() {
    let ok = FrameHeader::new("dev-1", 0, TS);
    let r = |c, v| [Reading::new(c, v)];
    let mut out = b"keep".to_vec();
    let cases: Vec<(FrameHeader<'_>, [Reading<'_>; 1], SenmlEncodeError)> = vec![
        (
            ok,
            r(Channel::Alias(7), Value::Bool(true)),
            SenmlEncodeError::UnknownAlias { index: 0, alias: 7 },
        ),
        (
            ok,
            r(Channel::Name("a b"), Value::Bool(true)),
            SenmlEncodeError::InvalidName {
                index: 0,
                name: "dev-1/a b".into(),
                error: NameError::BadChar { ch: ' ', index: 7 },
            },
        ),
        (
            FrameHeader::new("a/b", 0, TS),
            r(Channel::Name("x"), Value::Bool(true)),
            SenmlEncodeError::InvalidDeviceId(
                iot_core::device::validate_device_id("a/b").unwrap_err(),
            ),
        ),
        (
            FrameHeader::new("-dev", 0, TS),
            r(Channel::Name("x"), Value::Bool(true)),
            SenmlEncodeError::InvalidBaseName {
                device_id: "-dev".into(),
                error: NameError::BadFirstChar { ch: '-' },
            },
        ),
        (
            FrameHeader::new("dev-1", 0, 268_435_455_999),
            r(Channel::Name("x"), Value::Bool(true)),
            SenmlEncodeError::TimestampNotAbsolute {
                timestamp_ms: 268_435_455_999,
            },
        ),
        (
            FrameHeader::new("dev-1", 0, 268_435_456_000),
            [Reading::new(Channel::Name("x"), Value::Bool(true)).with_offset_ms(-1)],
            SenmlEncodeError::OffsetNotAbsolute {
                index: 0,
                offset_ms: -1,
            },
        ),
    ];
    for (header, readings, expected) in cases {
        for encode in [encode_json, encode_cbor] {
            let e = encode(&header, &readings, &Aliases, &mut out).unwrap_err();
            assert_eq!(e, expected);
            assert_eq!(out, b"keep", "output untouched on error");
        }
    }
    // NaN and infinities: a JSON-only error; CBOR carries them.
    for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let readings = [
            Reading::new(Channel::Name("a"), Value::F64(1.0)),
            Reading::new(Channel::Name("b"), Value::F64(v)),
        ];
        let e = encode_json(&ok, &readings, &NoAliases, &mut out).unwrap_err();
        assert!(
            matches!(e, SenmlEncodeError::NonFiniteJson { index: 1, value } if value.to_bits() == v.to_bits())
        );
        assert_eq!(out, b"keep");
        let readings = [Reading::new(Channel::Name("b"), Value::F32(v as f32))];
        assert!(encode_json(&ok, &readings, &NoAliases, &mut out).is_err());
        let mut cbor_out = Vec::new();
        encode_cbor(&ok, &readings, &NoAliases, &mut cbor_out).unwrap();
    }
}

// ---------------------------------------------------------------------------
// Round trips: frame -> SenML -> records -> readings.

mod roundtrip {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum OwnedValue {
        F64(f64),
        F32(f32),
        I64(i64),
        U64(u64),
        Bool(bool),
        Str(String),
        Bytes(Vec<u8>),
    }

    impl OwnedValue {
        fn as_value(&self) -> Value<'_> {
            match self {
                OwnedValue::F64(v) => Value::F64(*v),
                OwnedValue::F32(v) => Value::F32(*v),
                OwnedValue::I64(v) => Value::I64(*v),
                OwnedValue::U64(v) => Value::U64(*v),
                OwnedValue::Bool(v) => Value::Bool(*v),
                OwnedValue::Str(v) => Value::Str(v),
                OwnedValue::Bytes(v) => Value::Bytes(v),
            }
        }
    }

    #[derive(Debug, Clone)]
    enum OwnedChannel {
        Name(String),
        Alias(u32),
    }

    #[derive(Debug, Clone)]
    struct OwnedReading {
        channel: OwnedChannel,
        value: OwnedValue,
        offset: Option<i64>,
        unit: Option<String>,
    }

    impl OwnedReading {
        fn reading(&self) -> Reading<'_> {
            Reading {
                channel: match &self.channel {
                    OwnedChannel::Name(n) => Channel::Name(n),
                    OwnedChannel::Alias(a) => Channel::Alias(*a),
                },
                value: self.value.as_value(),
                time_offset_ms: self.offset,
                unit: self.unit.as_deref(),
            }
        }
    }

    fn special_f64() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(0.0),
            Just(-0.0),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(f64::NAN),
            Just(f64::MAX),
            Just(f64::MIN_POSITIVE),
            Just(5e-324),
            // NaNs with payloads and either sign.
            (any::<bool>(), 1u64..(1 << 52))
                .prop_map(|(neg, p)| f64::from_bits(u64::from(neg) << 63 | 0x7ff0 << 48 | p)),
            any::<u64>().prop_map(f64::from_bits),
            any::<f64>(),
        ]
    }

    fn value() -> impl Strategy<Value = OwnedValue> {
        prop_oneof![
            special_f64().prop_map(OwnedValue::F64),
            any::<u32>().prop_map(|b| OwnedValue::F32(f32::from_bits(b))),
            prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0), any::<i64>()]
                .prop_map(OwnedValue::I64),
            prop_oneof![Just(u64::MAX), Just(0), Just(1 << 53), any::<u64>()]
                .prop_map(OwnedValue::U64),
            any::<bool>().prop_map(OwnedValue::Bool),
            prop_oneof![Just(String::new()), "(?s).{0,40}", "\\PC{200,600}",]
                .prop_map(OwnedValue::Str),
            prop::collection::vec(any::<u8>(), 0..600).prop_map(OwnedValue::Bytes),
        ]
    }

    fn reading() -> impl Strategy<Value = OwnedReading> {
        (
            prop_oneof![
                3 => "[A-Za-z0-9_.:/-]{0,16}".prop_map(OwnedChannel::Name),
                1 => (1u32..=2).prop_map(OwnedChannel::Alias),
            ],
            value(),
            prop::option::of(-(1i64 << 40)..(1i64 << 40)),
            prop::option::of("(?s).{0,8}"),
        )
            .prop_map(|(channel, value, offset, unit)| OwnedReading {
                channel,
                value,
                offset,
                unit,
            })
    }

    /// Frames from 1978 (+ the largest negative offset) to the year 9999.
    fn frame() -> impl Strategy<Value = (String, u64, Vec<OwnedReading>)> {
        (
            "[A-Za-z0-9][A-Za-z0-9._:-]{0,40}",
            (268_435_456_000u64 + (1 << 40))..253_402_300_799_999,
            prop::collection::vec(reading(), 0..40),
        )
    }

    fn widen(v: f32) -> f64 {
        if v.is_nan() {
            let b = v.to_bits();
            f64::from_bits(u64::from(b >> 31) << 63 | 0x7ff << 52 | u64::from(b & 0x7f_ffff) << 29)
        } else {
            f64::from(v)
        }
    }

    #[derive(Clone, Copy, PartialEq)]
    enum Format {
        Json,
        Cbor,
    }

    /// What a reading looks like after the trip, per docs/senml.md.
    fn expected<'r>(r: &'r Reading<'r>, format: Format) -> Reading<'r> {
        let (channel, unit) = match r.channel {
            Channel::Name(n) => (n, r.unit),
            Channel::Alias(a) => (
                Aliases.name_of(a).unwrap(),
                r.unit.or_else(|| Aliases.unit_of(a)),
            ),
        };
        let value = match (r.value, format) {
            (Value::F32(v), _) => Value::F64(widen(v)),
            // JSON numbers are doubles.
            (Value::I64(v), Format::Json) => Value::F64(v as f64),
            (Value::U64(v), Format::Json) => Value::F64(v as f64),
            // CBOR: non-negative integers are major type 0.
            (Value::I64(v), Format::Cbor) if v >= 0 => Value::U64(v as u64),
            (v, _) => v,
        };
        Reading {
            channel: Channel::Name(channel),
            value,
            time_offset_ms: r.time_offset_ms.filter(|&ms| ms != 0),
            unit,
        }
    }

    fn check(device: &str, ts: u64, owned: &[OwnedReading], format: Format) {
        let readings: Vec<_> = owned.iter().map(OwnedReading::reading).collect();
        let header = FrameHeader::new(device, 42, ts);
        let mut out = Vec::new();
        let limits = Limits::default().max_frame_len(usize::MAX);
        let records = match format {
            Format::Json => {
                encode_json(&header, &readings, &Aliases, &mut out).unwrap();
                decode_json(&out, &limits).unwrap()
            }
            Format::Cbor => {
                encode_cbor(&header, &readings, &Aliases, &mut out).unwrap();
                decode_cbor(&out, &limits).unwrap()
            }
        };
        assert_eq!(records.len(), readings.len());
        for (record, reading) in records.iter().zip(&readings) {
            assert_eq!(record.split_device().map(|(d, _)| d), Some(device));
            assert!(!record.time.is_relative());
            // "now" is irrelevant: every time is absolute.
            let got = record.to_frame_reading(ts, f64::NAN).unwrap();
            let want = expected(reading, format);
            assert!(got.bitwise_eq(&want), "\n got {got:?}\nwant {want:?}");
        }
    }

    /// Found by `json_round_trip`: serde_json's default float parser can be
    /// one ulp off; the `senml` feature enables `serde_json/float_roundtrip`.
    #[test]
    fn json_floats_parse_exactly() {
        let owned: Vec<_> = [
            OwnedValue::F32(7.796389e-39),
            OwnedValue::F64(-6.449185370248358e-34),
            OwnedValue::F64(f64::MIN_POSITIVE),
            OwnedValue::F64(5e-324),
            OwnedValue::F64(f64::MAX),
            OwnedValue::F64(0.1 + 0.2),
        ]
        .into_iter()
        .map(|value| OwnedReading {
            channel: OwnedChannel::Name("x".into()),
            value,
            offset: None,
            unit: None,
        })
        .collect();
        check("a", 1_367_947_083_776, &owned, Format::Json);
    }

    fn json_safe(r: &OwnedReading) -> bool {
        match r.value {
            OwnedValue::F64(v) => v.is_finite(),
            OwnedValue::F32(v) => v.is_finite(),
            _ => true,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn cbor_round_trip((device, ts, readings) in frame()) {
            check(&device, ts, &readings, Format::Cbor);
        }

        #[test]
        fn json_round_trip((device, ts, mut readings) in frame()) {
            readings.retain(json_safe);
            check(&device, ts, &readings, Format::Json);
        }

        #[test]
        fn json_rejects_non_finite_floats(
            (device, ts, readings) in frame(),
            bad in prop_oneof![
                Just(OwnedValue::F64(f64::INFINITY)),
                Just(OwnedValue::F64(f64::NEG_INFINITY)),
                special_f64().prop_filter("NaN", |v| v.is_nan()).prop_map(OwnedValue::F64),
                Just(OwnedValue::F32(f32::NAN)),
            ],
            at in any::<prop::sample::Index>(),
        ) {
            let mut readings: Vec<_> = readings.into_iter().filter(json_safe).collect();
            let index = at.index(readings.len() + 1);
            readings.insert(index, OwnedReading {
                channel: OwnedChannel::Name("x".into()),
                value: bad,
                offset: None,
                unit: None,
            });
            let borrowed: Vec<_> = readings.iter().map(OwnedReading::reading).collect();
            let mut out = vec![7];
            let header = FrameHeader::new(&device, 0, ts);
            let e = encode_json(&header, &borrowed, &Aliases, &mut out).unwrap_err();
            let matched = matches!(e, SenmlEncodeError::NonFiniteJson { index: i, .. } if i == index);
            prop_assert!(matched, "{:?}", e);
            prop_assert_eq!(out, vec![7]);
        }

        /// Integers survive CBOR exactly and JSON as the nearest double
        /// (exact up to 2^53).
        #[test]
        fn integer_extremes(
            v in prop_oneof![
                Just(i128::from(i64::MIN)),
                Just(i128::from(i64::MAX)),
                Just(i128::from(u64::MAX)),
                Just(1i128 << 53),
                Just((1i128 << 53) + 1),
                Just(-(1i128 << 53) - 1),
                any::<i64>().prop_map(i128::from),
                any::<u64>().prop_map(i128::from),
            ]
        ) {
            let value = match i64::try_from(v) {
                Ok(i) if i < 0 => Value::I64(i),
                _ => Value::U64(v as u64),
            };
            let readings = [Reading::new(Channel::Name("n"), value)];
            let header = FrameHeader::new("d", 0, TS);
            let mut out = Vec::new();
            encode_cbor(&header, &readings, &NoAliases, &mut out).unwrap();
            let r = decode_cbor(&out, &Limits::default()).unwrap();
            let exact = r[0].value.as_ref().unwrap().as_value();
            prop_assert!(exact.bitwise_eq(&value));

            out.clear();
            encode_json(&header, &readings, &NoAliases, &mut out).unwrap();
            let text = std::str::from_utf8(&out).unwrap();
            let expected_field = format!("\"v\":{v}}}");
            prop_assert!(text.contains(&expected_field), "{}", text);
            let r = decode_json(&out, &Limits::default()).unwrap();
            let SenmlValue::Float(f) = r[0].value.clone().unwrap() else {
                panic!("JSON numbers decode as floats")
            };
            prop_assert_eq!(f.to_bits(), (v as f64).to_bits());
            if v.unsigned_abs() <= 1 << 53 {
                prop_assert_eq!(f as i128, v);
            }
        }
    }

    #[test]
    fn many_readings_up_to_the_limit() {
        let owned: Vec<_> = (0..1025)
            .map(|i| OwnedReading {
                channel: OwnedChannel::Name(format!("ch{i}")),
                value: OwnedValue::U64(i),
                offset: Some(i as i64),
                unit: None,
            })
            .collect();
        check("dev", TS, &owned[..1024], Format::Cbor);
        check("dev", TS, &owned[..1024], Format::Json);
        let readings: Vec<_> = owned.iter().map(OwnedReading::reading).collect();
        let header = FrameHeader::new("dev", 0, TS);
        let mut out = Vec::new();
        encode_cbor(&header, &readings, &NoAliases, &mut out).unwrap();
        let e = decode_cbor(&out, &Limits::default()).unwrap_err();
        assert_eq!(
            e.kind,
            SenmlErrorKind::TooManyRecords {
                count: Some(1025),
                max: 1024
            }
        );
        out.clear();
        encode_json(&header, &readings, &NoAliases, &mut out).unwrap();
        let e = decode_json(&out, &Limits::default()).unwrap_err();
        assert_eq!(
            e.kind,
            SenmlErrorKind::TooManyRecords {
                count: None,
                max: 1024
            }
        );
        assert_eq!(e.record, None);
    }

    #[test]
    fn longest_strings_and_data_at_the_limits() {
        let limits = Limits::default();
        let s = "é".repeat(limits.max_str_len / 2);
        let data = vec![0xa5; limits.max_bytes_len];
        let owned = [
            OwnedReading {
                channel: OwnedChannel::Name("s".into()),
                value: OwnedValue::Str(s.clone()),
                offset: None,
                unit: Some("u".repeat(limits.max_str_len)),
            },
            OwnedReading {
                channel: OwnedChannel::Name("d".into()),
                value: OwnedValue::Bytes(data.clone()),
                offset: None,
                unit: None,
            },
        ];
        check("dev", TS, &owned, Format::Cbor);
        check("dev", TS, &owned, Format::Json);
        let header = FrameHeader::new("dev", 0, TS);
        let long_str = format!("{s}x");
        let longer = [
            Reading::new(Channel::Name("s"), Value::Str(&long_str)),
            Reading::new(Channel::Name("d"), Value::Bytes(&[0; 16 * 1024 + 1])),
        ];
        for (i, reading) in longer.iter().enumerate() {
            let mut out = Vec::new();
            encode_json(&header, std::slice::from_ref(reading), &NoAliases, &mut out).unwrap();
            let e = decode_json(&out, &limits).unwrap_err();
            assert!(matches!(e.kind, SenmlErrorKind::TooLong { .. }), "{i}: {e}");
            out.clear();
            encode_cbor(&header, std::slice::from_ref(reading), &NoAliases, &mut out).unwrap();
            let e = decode_cbor(&out, &limits).unwrap_err();
            assert!(matches!(e.kind, SenmlErrorKind::TooLong { .. }), "{i}: {e}");
        }
    }

    #[test]
    fn decoding_borrows_from_the_input() {
        let header = FrameHeader::new("dev", 0, TS);
        let readings = [Reading::new(Channel::Name("s"), Value::Str("plain")).with_unit("V")];
        for format in [Format::Json, Format::Cbor] {
            let mut out = Vec::new();
            let records = if format == Format::Json {
                encode_json(&header, &readings, &NoAliases, &mut out).unwrap();
                decode_json(&out, &Limits::default()).unwrap()
            } else {
                encode_cbor(&header, &readings, &NoAliases, &mut out).unwrap();
                decode_cbor(&out, &Limits::default()).unwrap()
            };
            let range = out.as_ptr_range();
            assert!(
                matches!(&records[0].unit, Some(Cow::Borrowed(u)) if range.contains(&u.as_ptr()))
            );
            assert!(matches!(
                &records[0].value,
                Some(SenmlValue::Str(Cow::Borrowed(s))) if range.contains(&s.as_ptr())
            ));
            // bn + n are concatenated: owned.
            assert!(matches!(records[0].name, Cow::Owned(_)));
        }
        // An escaped JSON string cannot be borrowed.
        let r = json(r#"[{"n":"a","vs":"a\nb"}]"#);
        assert!(matches!(&r[0].value, Some(SenmlValue::Str(Cow::Owned(s))) if s == "a\nb"));
    }

    fn valid_encodings() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
        frame().prop_map(|(device, ts, readings)| {
            let borrowed: Vec<_> = readings.iter().map(OwnedReading::reading).collect();
            let header = FrameHeader::new(&device, 0, ts);
            let mut cbor = Vec::new();
            encode_cbor(&header, &borrowed, &Aliases, &mut cbor).unwrap();
            let safe: Vec<_> = readings
                .iter()
                .filter(|r| json_safe(r))
                .map(OwnedReading::reading)
                .collect();
            let mut json = Vec::new();
            encode_json(&header, &safe, &Aliases, &mut json).unwrap();
            (json, cbor)
        })
    }

    fn small_limits() -> Limits {
        Limits::default()
            .max_readings(8)
            .max_str_len(16)
            .max_bytes_len(16)
            .max_nesting(4)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            for limits in [Limits::default(), small_limits()] {
                let _ = decode_json(&bytes, &limits);
                let _ = decode_cbor(&bytes, &limits);
            }
        }

        #[test]
        fn random_json_ish_text_never_panics(text in r#"[\[\]{}":,0-9a-z_ .e+\-\\]{0,200}"#) {
            let _ = decode_json(text.as_bytes(), &Limits::default());
            let _ = decode_json(text.as_bytes(), &small_limits());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn damaged_encodings_never_panic(
            (json, cbor) in valid_encodings(),
            cut in any::<prop::sample::Index>(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4),
        ) {
            for (input, is_json) in [(json, true), (cbor, false)] {
                let decode = |b: &[u8], l: &Limits| if is_json {
                    decode_json(b, l).map(|r| r.len())
                } else {
                    decode_cbor(b, l).map(|r| r.len())
                };
                for limits in [Limits::default().max_frame_len(usize::MAX), small_limits()] {
                    let len = cut.index(input.len() + 1);
                    let truncated = decode(&input[..len], &limits);
                    if len < input.len() {
                        prop_assert!(truncated.is_err());
                    }
                    let mut flipped = input.clone();
                    for (at, bit) in &flips {
                        if !flipped.is_empty() {
                            let i = at.index(flipped.len());
                            flipped[i] ^= 1 << bit;
                        }
                    }
                    let _ = decode(&flipped, &limits);
                    // A JSON error's byte offset is inside the input and
                    // on the line the error names.
                    for damaged in [&input[..len], &flipped[..]] {
                        if !is_json {
                            continue;
                        }
                        if let Err(e) = decode_json(damaged, &limits) {
                            if let Position::Json { line, offset, .. } = e.position {
                                prop_assert!(offset <= damaged.len(), "{e}");
                                let newlines = damaged[..offset].iter().filter(|&&b| b == b'\n').count();
                                prop_assert_eq!(newlines + 1, line, "{}", e);
                            }
                        }
                    }
                }
            }
        }
    }
}
