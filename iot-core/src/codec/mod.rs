//! The compact binary telemetry codec.
//!
//! The byte-level specification is `docs/wire-format.md`. In short: one
//! header byte (version and flags), the device id, a sequence number, a
//! millisecond timestamp and the readings, each introduced by a tag byte
//! that says its value type and which optional fields follow. Channels are
//! names or small numeric aliases announced by a separate *birth* message,
//! as in Sparkplug B. An optional CRC-32 trailer protects the message.
//!
//! Decoding is one validating pass that borrows from the input
//! ([`FrameView`]); iterating the readings afterwards neither allocates nor
//! re-validates. Encoding writes into a caller-provided `&mut [u8]`
//! ([`Encoder::frame`]), or with `alloc` appends to a `Vec<u8>`.
//!
//! ```
//! use iot_core::codec::*;
//!
//! // Once per connection: announce the aliases.
//! let mut birth = [0u8; 64];
//! let n = encode_birth(
//!     &FrameHeader::new("dev-1", 0, 1_700_000_000_000),
//!     &[BirthEntry::new(0, "temperature").with_unit("Cel")],
//!     &mut birth,
//! )?;
//! let table = decode_birth(&birth[..n], &Limits::default())?;
//!
//! // Then: small data frames that use them.
//! let mut buf = [0u8; 32];
//! let header = FrameHeader::new("dev-1", 1, 1_700_000_000_500);
//! let n = encode_frame(&header, &[Reading::new(Channel::Alias(0), Value::F64(21.5))], &mut buf)?;
//! assert_eq!(n, 21); // header 15 bytes, reading 6
//! let frame = decode_frame(&buf[..n], &Limits::default())?;
//! let r = frame.readings().next().unwrap();
//! assert_eq!(r.channel.name(&table), Some("temperature"));
//! assert_eq!(table.unit_of(0), Some("Cel"));
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```

mod alias;
mod birth;
mod decode;
mod encode;
mod error;
mod fast;
mod header;
mod limits;
mod message;
mod reader;
mod sink;
mod utf8;
mod value;
mod wire;

pub use alias::{AliasResolver, NoAliases};
#[cfg(feature = "alloc")]
pub use birth::{AliasTable, DuplicateAlias};
pub use birth::{BirthEntries, BirthEntry, BirthView, decode_birth};
#[cfg(feature = "mqtt")]
pub(crate) use decode::FrameLayout;
pub use decode::{FrameView, Readings, decode_frame};
pub use encode::{Encoder, encode_birth, encode_frame};
pub use error::{DecodeError, DecodeErrorKind, EncodeError, Field, MessageKind};
pub use header::peek_kind;
pub use limits::Limits;
pub use message::{Message, decode};
pub use value::{Channel, FrameHeader, Reading, Value};
pub use wire::VERSION as FORMAT_VERSION;
