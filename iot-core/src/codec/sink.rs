//! Output targets for the encoder: one write routine, several destinations.

/// The destination ran out of space.
#[derive(Debug)]
pub(crate) struct Full;

/// Somewhere encoded bytes go. The encoder is written once against this
/// trait; [`Counter`] reuses it to compute exact lengths.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Full>;

    #[inline]
    fn put_u8(&mut self, b: u8) -> Result<(), Full> {
        self.put(&[b])
    }

    #[inline]
    fn put_varint(&mut self, v: u64) -> Result<(), Full> {
        let mut tmp = [0u8; 10];
        let n = varint_at(&mut tmp, 0, v);
        self.put(&tmp[..n])
    }

    /// The next `N` bytes to write into directly, when the
    /// destination has that much room: the encoder then writes a reading's
    /// fixed part with one capacity check instead of one per field, and
    /// calls [`advance`](Sink::advance) with what it used. `None` (the
    /// default) sends it down the per-field path.
    #[inline]
    fn window<const N: usize>(&mut self) -> Option<&mut [u8; N]> {
        None
    }

    /// Commits `n` bytes written into the last [`window`](Sink::window).
    #[inline]
    fn advance(&mut self, _n: usize) {}
}

/// Writes `v` as a varint at `w[at..]`; returns the position after it.
/// The one varint writer: windows, the trait's default and the slice fast
/// path all use it.
#[inline(always)]
pub(crate) fn varint_at<const N: usize>(w: &mut [u8; N], mut at: usize, mut v: u64) -> usize {
    while v >= 0x80 {
        w[at] = (v as u8) | 0x80;
        v >>= 7;
        at += 1;
    }
    w[at] = v as u8;
    at + 1
}

/// Size of a reading's [`Sink::window`]: more than the largest fixed part
/// of a reading (tag 1 + alias varint 5 + offset varint 10 + value varint
/// 10).
pub(crate) const WINDOW: usize = 32;

/// Size of a header's [`Sink::window`]: the first byte, a device id of up
/// to [`HEADER_ID_MAX`] bytes with its length, and four varints.
pub(crate) const HEADER_WINDOW: usize = 80;

/// The longest device id written through the header window (longer ids
/// take the per-field path): 80 - 1 - 1 - 4 x 10.
pub(crate) const HEADER_ID_MAX: usize = HEADER_WINDOW - 42;

/// Writes into a caller's slice.
pub(crate) struct SliceSink<'b> {
    pub(crate) buf: &'b mut [u8],
    pub(crate) pos: usize,
}

impl Sink for SliceSink<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), Full> {
        let end = self.pos + bytes.len();
        match self.buf.get_mut(self.pos..end) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.pos = end;
                Ok(())
            }
            None => Err(Full),
        }
    }

    #[inline]
    fn put_u8(&mut self, b: u8) -> Result<(), Full> {
        match self.buf.get_mut(self.pos) {
            Some(dst) => {
                *dst = b;
                self.pos += 1;
                Ok(())
            }
            None => Err(Full),
        }
    }

    #[inline]
    fn put_varint(&mut self, mut v: u64) -> Result<(), Full> {
        // Most varints (aliases, lengths, counts) are one byte.
        if v < 0x80 {
            return self.put_u8(v as u8);
        }
        // With room for the longest varint, one bounds check for all bytes.
        if let Some(w) = self.window::<10>() {
            let n = varint_at(w, 0, v);
            self.advance(n);
            return Ok(());
        }
        // Near the end of the buffer: byte by byte, failing where it ends.
        loop {
            let byte = if v >= 0x80 { (v as u8) | 0x80 } else { v as u8 };
            self.put_u8(byte)?;
            v >>= 7;
            if v == 0 {
                return Ok(());
            }
        }
    }

    #[inline]
    fn window<const N: usize>(&mut self) -> Option<&mut [u8; N]> {
        self.buf.get_mut(self.pos..)?.first_chunk_mut::<N>()
    }

    #[inline]
    fn advance(&mut self, n: usize) {
        self.pos += n;
    }
}

/// Counts bytes instead of writing them.
#[derive(Default)]
pub(crate) struct Counter(pub(crate) usize);

impl Sink for Counter {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), Full> {
        self.0 += bytes.len();
        Ok(())
    }
    #[inline]
    fn put_varint(&mut self, v: u64) -> Result<(), Full> {
        self.0 += super::wire::varint_len(v);
        Ok(())
    }
}

#[cfg(feature = "alloc")]
impl Sink for alloc::vec::Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), Full> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

/// Writes into a `BufMut` whose capacity was checked beforehand, hashing
/// as it goes so the CRC needs no second pass over non-contiguous memory.
#[cfg(feature = "bytes")]
pub(crate) struct BufSink<'b, B: bytes::BufMut> {
    pub(crate) buf: &'b mut B,
    /// Hashes what is written; `None` when the message has no checksum.
    pub(crate) crc: Option<crc32fast::Hasher>,
}

#[cfg(feature = "bytes")]
impl<B: bytes::BufMut> Sink for BufSink<'_, B> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), Full> {
        if self.buf.remaining_mut() < bytes.len() {
            return Err(Full);
        }
        if let Some(crc) = &mut self.crc {
            crc.update(bytes);
        }
        self.buf.put_slice(bytes);
        Ok(())
    }
}
