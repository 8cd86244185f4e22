//! SenML (RFC 8428) interop: JSON and CBOR packs to and from the codec's
//! reading model.
//!
//! * [`decode_json`] / [`decode_cbor`] turn a pack into resolved
//!   [`Record`]s: base fields applied, names validated, the RFC's rules
//!   enforced, every length and count checked against [`Limits`] before
//!   anything is allocated. [`Record::reading`] and
//!   [`Record::to_frame_reading`] map a record into a [`Reading`].
//! * [`encode_json`] / [`encode_cbor`] write a frame ([`FrameHeader`] +
//!   [`Reading`]s) as a pack: the first record carries
//!   `bn = "<device_id>/"` and `bt` = the frame timestamp in seconds, each
//!   reading is one record.
//!
//! `docs/senml.md` has the mapping in both directions and lists what each
//! direction loses (the sequence number, integer exactness in JSON, NaN in
//! JSON, sums, update times, ...).
//!
//! ```
//! use iot_core::codec::{Channel, FrameHeader, Limits, NoAliases, Reading, Value};
//! use iot_core::senml::{decode_json, encode_json};
//!
//! let header = FrameHeader::new("dev-4f2a9c01", 7, 1_700_000_000_000);
//! let readings = [
//!     Reading::new(Channel::Name("temp"), Value::F64(21.5)).with_unit("Cel"),
//!     Reading::new(Channel::Name("door"), Value::Bool(true)).with_offset_ms(-250),
//! ];
//! let mut json = Vec::new();
//! encode_json(&header, &readings, &NoAliases, &mut json)?;
//!
//! let records = decode_json(&json, &Limits::default())?;
//! assert_eq!(records[1].split_device(), Some(("dev-4f2a9c01", "door")));
//! let back = records[1].to_frame_reading(header.timestamp_ms, 0.0).unwrap();
//! assert!(back.bitwise_eq(&readings[1]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Decoding rules
//!
//! * Base fields (`bn`, `bt`, `bu`, `bv`, `bs`, `bver`) apply to the record
//!   that carries them and to every later record until replaced. Name =
//!   `bn + n`, time = `bt + t`, numeric value = `bv + v`, sum = `bs + s`
//!   (present if either is), unit = `u`, else `bu`.
//! * Resolved times below 2^28 s are relative to "now"
//!   ([`SenmlTime::Relative`]), larger ones are absolute Unix times.
//! * `bver` must be 1..=10 ([`SenmlErrorKind::UnsupportedVersion`]), and
//!   the same for all records of a pack (10 when absent).
//! * Unknown labels ending in `_` are rejected
//!   ([`SenmlErrorKind::UnknownMandatoryLabel`]); other unknown labels are
//!   skipped, their values nested at most `max_nesting` deep counting the
//!   pack array (1) and the record (2).
//! * A record carries exactly one of `v`, `vs`, `vb`, `vd`, or none if it
//!   has a sum. A record with base fields only and no regular field (such
//!   as `{"bn":"urn:dev:ow:10e2073a01080063:"}` in RFC 8428 §5.1.7) only
//!   sets context and yields no record; any other record without value or
//!   sum is [`SenmlErrorKind::MissingValue`].
//! * The resolved name must be non-empty, start with `A-Z a-z 0-9` and use
//!   only those and `- : . / _` ([`validate_name`]).
//! * Duplicate labels in a record are rejected; times must be finite.
//!
//! Errors say what and where: [`SenmlError`] carries the kind, the JSON
//! line and column or the CBOR byte offset, the record index and the label.
//!
//! # Zero-copy
//!
//! Records borrow from the input wherever the format allows:
//!
//! | | JSON | CBOR |
//! | --- | --- | --- |
//! | `n`, `u`, `bu`, `vs` | borrowed unless the string has escapes | borrowed (definite-length text is required) |
//! | name `bn + n` | borrowed if only one is present/non-empty, owned if concatenated | same |
//! | `vd` | owned (base64url is decoded) | borrowed byte string |
//!
//! The output `Vec<Record>` is the only other allocation; in CBOR its
//! capacity comes from a definite array length only after that length passed
//! [`Limits::max_readings`].
//!
//! [`Limits`]: crate::codec::Limits
//! [`Limits::max_readings`]: crate::codec::Limits::max_readings
//! [`Reading`]: crate::codec::Reading
//! [`FrameHeader`]: crate::codec::FrameHeader

mod cbor;
mod encode;
mod error;
mod float;
mod json;
mod record;
mod resolve;

pub use cbor::{decode_cbor, encode_cbor};
pub use error::{Position, SenmlEncodeError, SenmlError, SenmlErrorKind};
pub use json::{decode_json, encode_json};
pub use record::{
    Label, NameError, RELATIVE_TIME_LIMIT, Record, SENML_VERSION, SenmlTime, SenmlValue,
    validate_name,
};
