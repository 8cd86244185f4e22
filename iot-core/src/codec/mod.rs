//! The compact binary telemetry codec.
//!
//! The byte-level specification is in `docs/wire-format.md`. In short: one
//! header byte (version and flags), the device id, a sequence number, a
//! millisecond timestamp and the readings, each introduced by a tag byte that
//! says its value type and which optional fields follow. Channels are names
//! or small numeric aliases announced by a separate *birth* message, as in
//! Sparkplug B. An optional CRC-32 trailer protects the whole message.
//!
//! Decoding is one validating pass that borrows from the input
//! ([`FrameView`]); iterating the readings afterwards neither allocates nor
//! re-validates. Encoding writes into a caller-provided `&mut [u8]`.

mod alias;
mod error;
mod limits;
mod value;

pub use alias::{AliasResolver, NoAliases};
pub use error::{DecodeError, DecodeErrorKind, EncodeError, Field, MessageKind};
pub use limits::Limits;
pub use value::{Channel, FrameHeader, Reading, Value};
