//! The reading model shared by the binary codec and SenML interop.

/// A measured value. Strings and byte arrays borrow from the decoded input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// 64-bit float. Encoded in 4 bytes when the value survives a round trip
    /// through `f32` bit for bit, in 8 bytes otherwise.
    F64(f64),
    /// 32-bit float.
    F32(f32),
    /// Signed integer (zigzag varint on the wire).
    I64(i64),
    /// Unsigned integer (varint on the wire).
    U64(u64),
    /// Boolean (carried in the reading's tag byte, no payload).
    Bool(bool),
    /// UTF-8 string.
    Str(&'a str),
    /// Opaque bytes.
    Bytes(&'a [u8]),
}

impl Value<'_> {
    /// Compares two values bit for bit: unlike `==`, NaNs with equal bit
    /// patterns are equal and `0.0` differs from `-0.0`.
    pub fn bitwise_eq(&self, other: &Value<'_>) -> bool {
        match (self, other) {
            (Value::F64(a), Value::F64(b)) => a.to_bits() == b.to_bits(),
            (Value::F32(a), Value::F32(b)) => a.to_bits() == b.to_bits(),
            (Value::I64(a), Value::I64(b)) => a == b,
            (Value::U64(a), Value::U64(b)) => a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            _ => false,
        }
    }

    /// The value as `f64` when it is numeric (integers may round).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F64(v) => Some(v),
            Value::F32(v) => Some(f64::from(v)),
            Value::I64(v) => Some(v as f64),
            Value::U64(v) => Some(v as f64),
            _ => None,
        }
    }
}

/// What a reading measures: a name, or a numeric alias announced by a birth
/// message (see [`crate::codec::BirthView`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel<'a> {
    /// A channel name such as `"temperature"`.
    Name(&'a str),
    /// A small numeric alias; smaller aliases encode in fewer bytes
    /// (0..=127 take one byte).
    Alias(u32),
}

/// One reading of a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading<'a> {
    /// What was measured.
    pub channel: Channel<'a>,
    /// The measured value.
    pub value: Value<'a>,
    /// Milliseconds relative to the frame timestamp, if the reading was taken
    /// at a different time than the frame.
    pub time_offset_ms: Option<i64>,
    /// Unit symbol (SenML units such as `"Cel"`, `"%RH"`), if any.
    pub unit: Option<&'a str>,
}

impl<'a> Reading<'a> {
    /// A reading with no time offset and no unit.
    pub const fn new(channel: Channel<'a>, value: Value<'a>) -> Self {
        Self {
            channel,
            value,
            time_offset_ms: None,
            unit: None,
        }
    }

    /// Sets the time offset from the frame timestamp, in milliseconds.
    pub const fn with_offset_ms(mut self, offset_ms: i64) -> Self {
        self.time_offset_ms = Some(offset_ms);
        self
    }

    /// Sets the unit.
    pub const fn with_unit(mut self, unit: &'a str) -> Self {
        self.unit = Some(unit);
        self
    }

    /// Compares two readings, values bit for bit (see [`Value::bitwise_eq`]).
    pub fn bitwise_eq(&self, other: &Reading<'_>) -> bool {
        let same_channel = match (self.channel, other.channel) {
            (Channel::Name(a), Channel::Name(b)) => a == b,
            (Channel::Alias(a), Channel::Alias(b)) => a == b,
            _ => false,
        };
        same_channel
            && self.value.bitwise_eq(&other.value)
            && self.time_offset_ms == other.time_offset_ms
            && self.unit == other.unit
    }
}

/// The fixed part of a data frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader<'a> {
    /// The sending device; must pass [`crate::device::validate_device_id`].
    pub device_id: &'a str,
    /// Per-device sequence number, used for ordering and duplicate suppression.
    pub seq: u64,
    /// Frame timestamp, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The sender's session epoch, `0` for none: a number that grows each
    /// time the sender starts counting `seq` afresh (a reboot, a new
    /// process), so a receiver can tell a restart from lost frames. The
    /// MQTT publisher sets it; written only when non-zero (header bit 2,
    /// `docs/wire-format.md`).
    pub epoch: u64,
}

impl<'a> FrameHeader<'a> {
    /// A header for `device_id`, without epoch.
    pub const fn new(device_id: &'a str, seq: u64, timestamp_ms: u64) -> Self {
        Self {
            device_id,
            seq,
            timestamp_ms,
            epoch: 0,
        }
    }

    /// Sets the session epoch (`0` for none).
    pub const fn with_epoch(mut self, epoch: u64) -> Self {
        self.epoch = epoch;
        self
    }
}
