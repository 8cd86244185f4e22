//! Encodes a device's telemetry with the binary codec, decodes it zero-copy,
//! and converts the same frame to SenML JSON and back.
//!
//! Shows: a birth message announcing channel aliases (decoded into an
//! [`AliasTable`]), a data frame whose readings use those aliases, a
//! validating decode that borrows from the input buffer, and
//! [`encode_json`] / [`decode_json`] for the same readings (aliases resolved
//! to names through the table).
//!
//! Needs only the default features (`std`, `senml`).
//!
//! Run: `cargo run -p iot-core --example codec_roundtrip`

use iot_core::codec::{
    AliasResolver, AliasTable, BirthEntry, Channel, Encoder, FrameHeader, Limits, Reading, Value,
    decode_birth, decode_frame,
};
use iot_core::senml::{decode_json, encode_json};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = "dev-4f2a9c01";
    let timestamp_ms = 1_700_000_000_000;
    let limits = Limits::default();
    let enc = Encoder::new();

    // 1. Once per connection: the birth message announces the aliases.
    let entries = [
        BirthEntry::new(0, "temperature").with_unit("Cel"),
        BirthEntry::new(1, "humidity").with_unit("%RH"),
        BirthEntry::new(2, "door_open"),
    ];
    let mut birth_buf = Vec::new();
    enc.birth_to_vec(
        &FrameHeader::new(device, 0, timestamp_ms),
        &entries,
        &mut birth_buf,
    )?;
    let birth = decode_birth(&birth_buf, &limits)?;
    let aliases = AliasTable::from_birth(&birth)?;
    println!(
        "birth: {} bytes announcing {} aliases",
        birth_buf.len(),
        aliases.len()
    );

    // 2. Data frames then carry one-byte aliases instead of names.
    let readings = [
        Reading::new(Channel::Alias(0), Value::F64(21.5)),
        Reading::new(Channel::Alias(1), Value::F32(48.25)),
        Reading::new(Channel::Alias(2), Value::Bool(false)).with_offset_ms(-250),
        Reading::new(Channel::Name("battery"), Value::F64(3.7)).with_unit("V"),
    ];
    let header = FrameHeader::new(device, 42, timestamp_ms + 500);
    let mut buf = [0u8; 128];
    let len = enc.frame(&header, &readings, &mut buf)?;
    println!("frame: {len} bytes for {} readings", readings.len());

    // 3. Decoding validates once and borrows from `buf`; iterating the
    //    readings allocates nothing.
    let frame = decode_frame(&buf[..len], &limits)?;
    println!(
        "decoded: device {} seq {} at {} ms",
        frame.device_id(),
        frame.seq(),
        frame.timestamp_ms()
    );
    for r in frame.readings() {
        let name = r.channel.name(&aliases).unwrap_or("?");
        let unit = match r.channel {
            Channel::Alias(a) => aliases.unit_of(a),
            Channel::Name(_) => r.unit,
        };
        let offset = r
            .time_offset_ms
            .map(|o| format!(" ({o:+} ms)"))
            .unwrap_or_default();
        println!(
            "  {name:<12} {:>8} {}{offset}",
            show(&r.value),
            unit.unwrap_or("")
        );
    }
    let decoded: Vec<Reading<'_>> = frame.readings().collect();
    assert_eq!(decoded.len(), readings.len());
    assert!(decoded.iter().zip(&readings).all(|(a, b)| a.bitwise_eq(b)));

    // 4. The same frame as a SenML JSON pack: aliases become names, units
    //    come from the birth message.
    let mut json = Vec::new();
    encode_json(&header, &decoded, &aliases, &mut json)?;
    println!("SenML JSON ({} bytes):", json.len());
    println!("  {}", std::str::from_utf8(&json)?);

    // 5. ... and back: base name and base time are applied to every record.
    let records = decode_json(&json, &limits)?;
    println!("SenML records:");
    for rec in &records {
        let (dev, channel) = rec.split_device().unwrap_or(("?", rec.channel()));
        let value = rec
            .value
            .as_ref()
            .map_or_else(|| "-".to_string(), |v| show(&v.as_value()));
        let back = rec
            .to_frame_reading(header.timestamp_ms, 0.0)
            .and_then(|r| r.time_offset_ms)
            .map(|o| format!(" ({o:+} ms)"))
            .unwrap_or_default();
        println!(
            "  {dev}/{channel:<12} {value:>8} {}{back}",
            rec.unit.as_deref().unwrap_or("")
        );
    }
    assert_eq!(records.len(), readings.len());
    Ok(())
}

fn show(v: &Value<'_>) -> String {
    match v {
        Value::F64(x) => x.to_string(),
        Value::F32(x) => x.to_string(),
        Value::I64(x) => x.to_string(),
        Value::U64(x) => x.to_string(),
        Value::Bool(x) => x.to_string(),
        Value::Str(s) => format!("{s:?}"),
        Value::Bytes(b) => format!("{} bytes", b.len()),
    }
}
