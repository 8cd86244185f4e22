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

    #[inline]
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    /// Unsigned LEB128, at most 10 bytes and 64 bits.
    #[inline]
    pub(crate) fn varint(&mut self) -> Result<u64, DecodeError> {
        // One-byte fast path: aliases, counts, lengths and small ints.
        if let Some(&b) = self.buf.get(self.pos) {
            if b < 0x80 {
                self.pos += 1;
                return Ok(u64::from(b));
            }
        }
        self.varint_slow()
    }

    fn varint_slow(&mut self) -> Result<u64, DecodeError> {
        let start = self.pos;
        let mut value = 0u64;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(self.truncated(1));
            };
            self.pos += 1;
            let bits = u64::from(b & 0x7f);
            // The tenth byte may only carry the 64th bit.
            if i == 9 && b > 1 {
                return Err(DecodeError::new(start, DecodeErrorKind::VarintOverflow));
            }
            value |= bits << (7 * i);
            if b < 0x80 {
                return Ok(value);
            }
        }
        Err(DecodeError::new(start, DecodeErrorKind::VarintOverflow))
    }
}
