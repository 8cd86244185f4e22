//! Bounds-checked cursor over an input message.

use super::error::{DecodeError, DecodeErrorKind};

/// A cursor whose errors carry the byte offset where they happened.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    #[inline]
    pub(crate) const fn new(buf: &'a [u8], pos: usize) -> Self {
        Self { buf, pos }
    }

    #[inline]
    pub(crate) const fn pos(&self) -> usize {
        self.pos
    }

    #[inline]
    pub(crate) const fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[cold]
    pub(crate) fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(self.pos, kind)
    }

    #[cold]
    fn truncated(&self, needed: usize) -> DecodeError {
        self.error(DecodeErrorKind::Truncated { needed })
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        match self.buf.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.truncated(1)),
        }
    }

    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(self.truncated(n - self.remaining()));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Unsigned LEB128, at most 10 bytes and 64 bits.
    #[inline]
    pub(crate) fn varint(&mut self) -> Result<u64, DecodeError> {
        let start = self.pos;
        match super::wire::read_varint(self.buf, &mut self.pos) {
            Some(v) => Ok(v),
            None => Err(self.varint_error(start)),
        }
    }

    #[cold]
    fn varint_error(&self, start: usize) -> DecodeError {
        // Truncated if every remaining byte continues; overflow otherwise.
        let rest = &self.buf[start..];
        if rest.len() < 10 && rest.iter().all(|&b| b >= 0x80) {
            DecodeError::new(self.buf.len(), DecodeErrorKind::Truncated { needed: 1 })
        } else {
            DecodeError::new(start, DecodeErrorKind::VarintOverflow)
        }
    }
}
