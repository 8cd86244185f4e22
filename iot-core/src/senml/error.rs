//! Typed SenML decode and encode errors.

use alloc::string::String;
use core::fmt;

use super::record::{Label, NameError};
use crate::device::DeviceIdError;

/// Where in the input a decode error was detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// JSON: `serde_json`'s 1-based line and byte column: of the offending
    /// byte for syntax errors, of the last byte consumed when a SenML rule
    /// error was detected (the end of the offending value, or of its record).
    Json {
        /// Line, starting at 1.
        line: usize,
        /// Byte column, starting at 1 (0 at the start of a line).
        column: usize,
        /// The same place as a 0-based byte offset from the start of the
        /// input (the byte at `column`, or the line's first byte when
        /// `column` is 0).
        offset: usize,
    },
    /// CBOR: byte offset of the offending data item.
    Cbor {
        /// Byte offset from the start of the input.
        offset: usize,
    },
    /// The error concerns the input as a whole (its length, or a limit that
    /// rules out any input).
    Input,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Json {
                line,
                column,
                offset,
            } => write!(f, "line {line}, column {column} (byte {offset})"),
            Position::Cbor { offset } => write!(f, "byte {offset}"),
            Position::Input => f.write_str("input"),
        }
    }
}

/// What was wrong with a SenML pack.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SenmlErrorKind {
    /// The input is longer than [`Limits::max_frame_len`](crate::codec::Limits).
    #[error("input of {len} bytes exceeds the limit of {max}")]
    InputTooLarge {
        /// The input length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More records than [`Limits::max_readings`](crate::codec::Limits).
    #[error("more than {max} records")]
    TooManyRecords {
        /// The announced count (CBOR definite-length arrays), if known.
        count: Option<u64>,
        /// The limit.
        max: usize,
    },
    /// A string longer than `max_str_len`, or data longer than
    /// `max_bytes_len` (see [`Limits`](crate::codec::Limits)).
    #[error("{len} bytes exceed the limit of {max}")]
    TooLong {
        /// The length (for JSON `vd`, the decoded length).
        len: u64,
        /// The limit.
        max: usize,
    },
    /// Arrays and maps nested deeper than `max_nesting` (the pack array is
    /// level 1, a record level 2).
    #[error("nesting deeper than {max} levels")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// `bver` is above the supported version 10, or not positive.
    #[error("SenML version {bver} is not supported (1 to 10 are)")]
    UnsupportedVersion {
        /// The version found.
        bver: u64,
    },
    /// Records of one pack have different versions (RFC 8428 §4.4).
    #[error("SenML version {found} differs from the pack's version {expected}")]
    VersionMismatch {
        /// The version of the earlier records (10 if they had no `bver`).
        expected: u64,
        /// The version of this record.
        found: u64,
    },
    /// An unknown label ending in `_`: must-understand (RFC 8428 §4.4).
    #[error("unknown must-understand label {label:?}")]
    UnknownMandatoryLabel {
        /// The label.
        label: String,
    },
    /// A record carries the same label twice.
    #[error("duplicate label")]
    DuplicateLabel,
    /// The resolved name (base name + name) breaks RFC 8428 §4.5.1.
    #[error("invalid name {name:?}: {error}")]
    InvalidName {
        /// The resolved name.
        name: String,
        /// The rule it breaks.
        #[source]
        error: NameError,
    },
    /// A record has neither a value (`v`, `vs`, `vb`, `vd`) nor a sum, and
    /// is not a base-only record.
    #[error("record has no value and no sum")]
    MissingValue,
    /// A record has more than one of `v`, `vs`, `vb`, `vd`.
    #[error("record has more than one value field")]
    MultipleValues,
    /// A field has the wrong type, or the pack or a record is not an array
    /// or a map.
    #[error("expected {expected}")]
    WrongType {
        /// What was expected.
        expected: &'static str,
    },
    /// A time (`bt`, `t`, `ut`, or `bt + t`) is NaN or infinite.
    #[error("time is not finite")]
    NonFiniteTime,
    /// A JSON `vd` is not base64url.
    #[error("invalid base64url data: {detail}")]
    InvalidBase64 {
        /// What the base64 decoder reported.
        detail: String,
    },
    /// A CBOR text string is not UTF-8.
    #[error("text is not valid UTF-8")]
    InvalidUtf8,
    /// The input ended inside the pack.
    #[error("unexpected end of input")]
    UnexpectedEnd,
    /// Bytes follow the CBOR pack.
    #[error("{count} trailing byte(s) after the pack")]
    TrailingData {
        /// How many.
        count: usize,
    },
    /// The input is not well-formed JSON or CBOR.
    #[error("syntax error: {message}")]
    Syntax {
        /// The parser's message.
        message: String,
    },
}

/// A SenML pack could not be decoded: what was wrong, and where.
///
/// Displays as e.g. `line 3, column 14, record 2, label "bver": SenML
/// version 11 is not supported (1 to 10 are)`.
#[derive(Debug, Clone, PartialEq)]
pub struct SenmlError {
    /// What was wrong.
    pub kind: SenmlErrorKind,
    /// Where it was detected.
    pub position: Position,
    /// Index of the record (element of the pack array) being decoded, if
    /// the error is inside one.
    pub record: Option<usize>,
    /// The known label whose value was being decoded, if any.
    pub label: Option<Label>,
}

impl SenmlError {
    pub(crate) const fn new(
        kind: SenmlErrorKind,
        position: Position,
        record: Option<usize>,
        label: Option<Label>,
    ) -> Self {
        Self {
            kind,
            position,
            record,
            label,
        }
    }
}

impl fmt::Display for SenmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.position)?;
        if let Some(record) = self.record {
            write!(f, ", record {record}")?;
        }
        if let Some(label) = self.label {
            write!(f, ", label \"{label}\"")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl core::error::Error for SenmlError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(&self.kind)
    }
}

/// A frame could not be encoded as SenML.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SenmlEncodeError {
    /// The header's device id is invalid.
    #[error("invalid device id: {0}")]
    InvalidDeviceId(#[source] DeviceIdError),
    /// The device id is valid but not usable as a SenML base name (it must
    /// start with `A-Z a-z 0-9` and use only those and `- : . _`).
    #[error("device id {device_id:?} is not a valid SenML base name: {error}")]
    InvalidBaseName {
        /// The device id.
        device_id: String,
        /// The rule it breaks.
        #[source]
        error: NameError,
    },
    /// A reading's channel alias is unknown to the resolver.
    #[error("reading {index}: alias {alias} is not known to the alias resolver")]
    UnknownAlias {
        /// Index of the reading.
        index: usize,
        /// The alias.
        alias: u32,
    },
    /// A reading's resolved name (`<device_id>/<channel>`) breaks RFC 8428
    /// §4.5.1.
    #[error("reading {index}: {name:?} is not a valid SenML name: {error}")]
    InvalidName {
        /// Index of the reading.
        index: usize,
        /// The resolved name.
        name: String,
        /// The rule it breaks.
        #[source]
        error: NameError,
    },
    /// NaN and infinities have no JSON representation (CBOR carries them).
    #[error("reading {index}: {value} cannot be represented in SenML JSON")]
    NonFiniteJson {
        /// Index of the reading.
        index: usize,
        /// The value.
        value: f64,
    },
    /// The frame timestamp is before 2^28 s (1978-07-04): SenML would read
    /// it as a time relative to "now".
    #[error(
        "timestamp {timestamp_ms} ms is before 2^28 s since the epoch and would read as a relative time"
    )]
    TimestampNotAbsolute {
        /// The frame timestamp.
        timestamp_ms: u64,
    },
    /// A reading's time (timestamp + offset) is before 2^28 s (1978-07-04):
    /// SenML would read it as a time relative to "now".
    #[error(
        "reading {index}: time offset {offset_ms} ms puts the reading before 2^28 s since the epoch"
    )]
    OffsetNotAbsolute {
        /// Index of the reading.
        index: usize,
        /// The offset.
        offset_ms: i64,
    },
}
