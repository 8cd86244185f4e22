//! Serde for durations as `"5s"`, `"500ms"` (the iot-rs config format) or
//! an integer number of milliseconds.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer, de};

/// Writes the largest unit that represents `d` exactly.
pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    let nanos = d.as_nanos();
    for (unit, per) in [
        ("h", 3_600_000_000_000u128),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ] {
        if nanos != 0 && nanos % per == 0 {
            return s.serialize_str(&format!("{}{unit}", nanos / per));
        }
    }
    s.serialize_str(&format!("{nanos}ns"))
}

/// Reads `"<integer><unit>"` (ns, us, ms, s, m, h) or integer milliseconds.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Millis(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Millis(ms) => Ok(Duration::from_millis(ms)),
        Raw::Text(s) => parse(&s).map_err(de::Error::custom),
    }
}

fn parse(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like \"250ms\" or \"5s\""))?;
    let per: u64 = match unit.trim() {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        other => return Err(format!("unknown duration unit {other:?} in {s:?}")),
    };
    n.checked_mul(per)
        .map(Duration::from_nanos)
        .ok_or_else(|| format!("duration {s:?} is too large"))
}
