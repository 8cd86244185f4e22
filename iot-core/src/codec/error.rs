//! Typed errors of the binary codec.

use crate::device::DeviceIdError;

/// Which string-like field an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Field {
    /// The frame's device id.
    DeviceId,
    /// A reading's channel name.
    ChannelName,
    /// A reading's or birth entry's unit.
    Unit,
    /// A string value.
    StringValue,
    /// A byte-array value.
    BytesValue,
    /// A birth entry's channel name.
    BirthName,
}

impl core::fmt::Display for Field {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Field::DeviceId => "device id",
            Field::ChannelName => "channel name",
            Field::Unit => "unit",
            Field::StringValue => "string value",
            Field::BytesValue => "bytes value",
            Field::BirthName => "birth entry name",
        })
    }
}

/// The kind of message a header announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A data frame with readings.
    Data,
    /// A birth message carrying the alias table.
    Birth,
}

/// What was wrong with a binary message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended early.
    #[error("input truncated: {needed} more byte(s) needed")]
    Truncated {
        /// How many more bytes the decoder needed at this point (at least).
        needed: usize,
    },
    /// The version nibble is not one this decoder understands.
    #[error("unsupported format version {version}")]
    UnsupportedVersion {
        /// The version found.
        version: u8,
    },
    /// Reserved header bits were set.
    #[error("reserved header flag bits set: {flags:#04x}")]
    ReservedFlags {
        /// The header byte.
        flags: u8,
    },
    /// A data frame was expected and a birth message found, or the reverse.
    #[error("expected a {expected:?} message, found {found:?}")]
    WrongMessageKind {
        /// The kind the caller asked for.
        expected: MessageKind,
        /// The kind in the header.
        found: MessageKind,
    },
    /// A varint ran past 10 bytes or 64 bits.
    #[error("varint overflows 64 bits")]
    VarintOverflow,
    /// A value larger than its field allows (alias above `u32::MAX`).
    #[error("{what} {value} is out of range")]
    OutOfRange {
        /// The field.
        what: &'static str,
        /// The value found.
        value: u64,
    },
    /// A reading tag uses an unassigned value type.
    #[error("unknown value type {value_type} in reading tag {tag:#04x}")]
    UnknownValueType {
        /// The full tag byte.
        tag: u8,
        /// Its value-type bits.
        value_type: u8,
    },
    /// A reading tag has its reserved bit set.
    #[error("reserved bit set in reading tag {tag:#04x}")]
    ReservedTagBit {
        /// The full tag byte.
        tag: u8,
    },
    /// A string field is not UTF-8.
    #[error("{field} is not valid UTF-8")]
    InvalidUtf8 {
        /// Which field.
        field: Field,
    },
    /// The device id breaks a device-id rule.
    #[error("invalid device id: {0}")]
    InvalidDeviceId(DeviceIdError),
    /// More readings than [`Limits::max_readings`](crate::codec::Limits).
    #[error("{count} readings exceed the limit of {max}")]
    TooManyReadings {
        /// The announced count.
        count: u64,
        /// The limit.
        max: usize,
    },
    /// A string or byte array longer than the limit for its field.
    #[error("{field} of {len} bytes exceeds the limit of {max}")]
    TooLong {
        /// Which field.
        field: Field,
        /// The announced length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// The message is larger than [`Limits::max_frame_len`](crate::codec::Limits).
    #[error("message of {len} bytes exceeds the limit of {max}")]
    FrameTooLarge {
        /// The message length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The CRC-32 trailer does not match the message.
    #[error("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        /// The CRC in the message.
        stored: u32,
        /// The CRC of the bytes received.
        computed: u32,
    },
    /// Bytes remain after the last reading (and checksum).
    #[error("{count} trailing byte(s) after the message")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
}

/// A binary message could not be decoded: what was wrong, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {kind}")]
pub struct DecodeError {
    /// Byte offset in the input where the problem was detected.
    pub offset: usize,
    /// What was wrong.
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    pub(crate) const fn new(offset: usize, kind: DecodeErrorKind) -> Self {
        Self { offset, kind }
    }
}

/// A message could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The output buffer is too small; `needed` is the full encoded length.
    #[error("buffer too small: {needed} bytes needed, {available} available")]
    BufferTooSmall {
        /// Bytes the whole message needs.
        needed: usize,
        /// Bytes the buffer had.
        available: usize,
    },
    /// The header's device id is invalid.
    #[error("invalid device id: {0}")]
    InvalidDeviceId(DeviceIdError),
}
