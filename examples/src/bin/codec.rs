//! Encodes a device's telemetry with iot-core's codec, decodes it again and
//! shows what travels on the wire.
//!
//! Run: `cargo run --release -p iot-examples --bin codec`

use iot_core::codec::{
    AliasResolver, AliasTable, BirthEntry, Channel, Encoder, FrameHeader, Limits, Reading, Value,
    decode_birth, decode_frame,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = "dev-4f2a9c01";
    let enc = Encoder::new();

    // 1. Once per connection the device announces its channel aliases.
    let table = [
        BirthEntry::new(0, "temperature").with_unit("Cel"),
        BirthEntry::new(1, "humidity").with_unit("%RH"),
        BirthEntry::new(2, "pressure").with_unit("Pa"),
        BirthEntry::new(3, "rssi").with_unit("dBm"),
        BirthEntry::new(4, "door_open"),
        BirthEntry::new(5, "state"),
    ];
    let mut birth_buf = Vec::new();
    enc.birth_to_vec(
        &FrameHeader::new(device, 0, now_ms()),
        &table,
        &mut birth_buf,
    )?;
    let birth = decode_birth(&birth_buf, &Limits::default())?;
    let aliases = AliasTable::from_birth(&birth)?;
    println!(
        "birth message: {} bytes, {} aliases",
        birth_buf.len(),
        aliases.len()
    );

    // 2. Data frames then carry one-byte aliases instead of names.
    let readings = [
        Reading::new(Channel::Alias(0), Value::F64(21.5)),
        Reading::new(Channel::Alias(1), Value::F32(48.25)),
        Reading::new(Channel::Alias(2), Value::U64(101_325)),
        Reading::new(Channel::Alias(3), Value::I64(-67)),
        Reading::new(Channel::Alias(4), Value::Bool(false)),
        Reading::new(Channel::Alias(5), Value::Str("running")),
        Reading::new(Channel::Name("battery"), Value::F64(3.7)).with_offset_ms(-500),
    ];
    let header = FrameHeader::new(device, 42, now_ms());
    let mut buf = [0u8; 256];
    let len = enc.frame(&header, &readings, &mut buf)?;
    println!("data frame:    {len} bytes for {} readings", readings.len());
    println!("  hex: {}", hex(&buf[..len]));
    let with_crc = Encoder::new().checksum(true).frame_len(&header, &readings);
    println!("  with CRC-32 trailer: {with_crc} bytes");

    // 3. The gateway decodes without allocating: strings borrow from `buf`.
    let frame = decode_frame(&buf[..len], &Limits::default())?;
    println!(
        "decoded frame from {} seq {} at {} ms:",
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
            "  {name:<12} {:<12} {}{offset}",
            show(&r.value),
            unit.unwrap_or("")
        );
    }

    // 4. Damaged input is a typed error that says where.
    let mut damaged = buf[..len].to_vec();
    let first_tag = enc.frame_len(&header, &[]); // readings start after the header
    damaged[first_tag] = 0x0f; // an unassigned value type
    match decode_frame(&damaged, &Limits::default()) {
        Err(e) => println!("damaged frame rejected: {e}"),
        Ok(_) => unreachable!("the tag byte was corrupted"),
    }
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
        Value::Bytes(b) => hex(b),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
