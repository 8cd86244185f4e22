//! Decoding a message whose kind is not known in advance.

use super::error::{DecodeError, MessageKind};
use super::{BirthView, FrameView, Limits, decode_birth, decode_frame, peek_kind};

/// A decoded message of either kind.
#[derive(Debug, Clone, Copy)]
pub enum Message<'a> {
    /// A data frame.
    Data(FrameView<'a>),
    /// A birth message (alias table).
    Birth(BirthView<'a>),
}

/// Decodes a data frame or a birth message, whichever `buf` holds.
pub fn decode<'a>(buf: &'a [u8], limits: &Limits) -> Result<Message<'a>, DecodeError> {
    match peek_kind(buf)? {
        MessageKind::Data => decode_frame(buf, limits).map(Message::Data),
        MessageKind::Birth => decode_birth(buf, limits).map(Message::Birth),
    }
}
