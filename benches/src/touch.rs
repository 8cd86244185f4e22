//! "Touching" a decoded frame: folding every field of every reading into a
//! checksum, so a decode benchmark cannot skip work the optimiser would
//! otherwise see is unused.
//!
//! Every format's decode function folds the same logical fields with these
//! helpers (header, then per reading: channel, value, time offset), so the
//! checksums of formats that carry identical information are equal, which
//! the round-trip tests assert.

use iot_core::codec::{Channel, Reading, Value};

/// Starting value of a checksum.
pub const SEED: u64 = 0xcbf2_9ce4_8422_2325;

/// Folds `x` into `acc`: order-sensitive, and only two cheap operations on
/// the loop-carried dependency, so the fold itself costs every format the
/// same few cycles per field instead of dominating short decodes.
#[inline(always)]
pub fn mix(acc: u64, x: u64) -> u64 {
    acc.rotate_left(5) ^ x
}

/// The key of one reading from its channel, value and offset keys. Computed
/// independently of the running checksum, so readings overlap in the CPU.
#[inline(always)]
pub fn reading_key(channel: u64, value: u64, offset: u64) -> u64 {
    channel.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ value ^ offset.rotate_left(32)
}

/// The key of a string or byte array: its length and first byte.
///
/// Strings are touched (their length read and their first byte loaded), not
/// hashed in full, the same in every format.
#[inline(always)]
pub fn bytes_key(b: &[u8]) -> u64 {
    ((b.len() as u64) << 8) | u64::from(b.first().copied().unwrap_or(0))
}

/// The key of a channel name (distinct from any alias key).
#[inline(always)]
pub fn name_key(name: &str) -> u64 {
    bytes_key(name.as_bytes()) | (1 << 63)
}

/// The key of a channel alias.
#[inline(always)]
pub fn alias_key(alias: u64) -> u64 {
    alias
}

/// The key of a time offset (`None` and `Some(0)` differ).
#[inline(always)]
pub fn offset_key(offset: Option<i64>) -> u64 {
    match offset {
        None => 0x5a5a,
        Some(o) => o as u64,
    }
}

/// Folds a frame header.
#[inline(always)]
pub fn header(device_id: &str, seq: u64, timestamp_ms: u64) -> u64 {
    mix(
        mix(mix(SEED, bytes_key(device_id.as_bytes())), seq),
        timestamp_ms,
    )
}

/// The key of a value in iot-core's model. Floats are keyed by their `f64`
/// bits, so an `f32` on the wire that widens to the same `f64` keys equal.
#[inline(always)]
pub fn value_key(v: &Value<'_>) -> u64 {
    match *v {
        Value::F64(x) => x.to_bits(),
        Value::F32(x) => f64::from(x).to_bits(),
        Value::I64(x) => x as u64,
        Value::U64(x) => x,
        Value::Bool(b) => u64::from(b) | 0x100,
        Value::Str(s) => bytes_key(s.as_bytes()),
        Value::Bytes(b) => bytes_key(b) | (1 << 62),
    }
}

/// Folds one reading of iot-core's model.
#[inline(always)]
pub fn reading(acc: u64, r: &Reading<'_>) -> u64 {
    let ch = match r.channel {
        Channel::Name(n) => name_key(n),
        Channel::Alias(a) => alias_key(u64::from(a)),
    };
    mix(
        acc,
        reading_key(ch, value_key(&r.value), offset_key(r.time_offset_ms)),
    )
}
