//! Constants of the wire format (`docs/wire-format.md` is the specification).

/// The format version this crate writes and reads.
pub const VERSION: u8 = 1;

/// Header bit 0: a CRC-32 trailer follows the message.
pub(crate) const FLAG_CHECKSUM: u8 = 0x01;
/// Header bit 1: the message is a birth (alias table), not a data frame.
pub(crate) const FLAG_BIRTH: u8 = 0x02;
/// Header bit 2: a session epoch (varint) follows the timestamp.
pub(crate) const FLAG_EPOCH: u8 = 0x04;
/// Header bit 3 is reserved and must be zero.
pub(crate) const FLAG_RESERVED: u8 = 0x08;

/// Reading tag bits 0..=3: the value type.
pub(crate) const TAG_TYPE_MASK: u8 = 0x0f;
/// Reading tag bit 4: the channel is a name (else an alias).
pub(crate) const TAG_NAMED: u8 = 0x10;
/// Reading tag bit 5: a time offset follows the channel.
pub(crate) const TAG_OFFSET: u8 = 0x20;
/// Reading tag bit 6: a unit follows the channel (and offset).
pub(crate) const TAG_UNIT: u8 = 0x40;
/// Reading tag bit 7 is reserved and must be zero.
pub(crate) const TAG_RESERVED: u8 = 0x80;

/// Value types (reading tag bits 0..=3).
pub(crate) mod ty {
    /// `f64`, 8 bytes little-endian.
    pub const F64: u8 = 0;
    /// `f64` whose value is exactly an `f32`: 4 bytes little-endian binary32.
    pub const F64_AS_F32: u8 = 1;
    /// `f32`, 4 bytes little-endian.
    pub const F32: u8 = 2;
    /// `i64`, zigzag varint.
    pub const I64: u8 = 3;
    /// `u64`, varint.
    pub const U64: u8 = 4;
    /// `false`, no payload.
    pub const FALSE: u8 = 5;
    /// `true`, no payload.
    pub const TRUE: u8 = 6;
    /// UTF-8 string: varint length, bytes.
    pub const STR: u8 = 7;
    /// Bytes: varint length, bytes.
    pub const BYTES: u8 = 8;
}

/// Birth entry flag bit 0: a unit follows the name.
pub(crate) const ENTRY_UNIT: u8 = 0x01;

/// Length of the CRC-32 trailer.
pub(crate) const CRC_LEN: usize = 4;

#[inline]
pub(crate) const fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
pub(crate) const fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Number of bytes of the LEB128 encoding of `v`.
#[inline]
pub(crate) const fn varint_len(v: u64) -> usize {
    // 1 byte per started 7 bits; `| 1` makes zero take one byte.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Reads an unsigned LEB128 varint at `*pos`, at most 10 bytes and 64
/// bits, advancing `pos`; `None` if it is truncated or overflows.
///
/// Varints of up to 8 bytes (timestamps take 6) are decoded from one
/// 64-bit load without a loop.
#[inline(always)]
pub(crate) fn read_varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let p = *pos;
    let first = *b.get(p)?;
    if first < 0x80 {
        *pos = p + 1;
        return Some(u64::from(first));
    }
    if let Some(chunk) = b.get(p..p + 8) {
        let w = u64::from_le_bytes(chunk.try_into().ok()?);
        // A clear top bit ends the varint: find the first one.
        let stops = !w & 0x8080_8080_8080_8080;
        if stops != 0 {
            let n = (stops.trailing_zeros() / 8 + 1) as usize;
            let x = if n == 8 {
                w
            } else {
                w & ((1u64 << (8 * n)) - 1)
            };
            // Squeeze out the continuation bits: 7-bit groups to 56 bits.
            let x = (x & 0x007f_007f_007f_007f) | ((x & 0x7f00_7f00_7f00_7f00) >> 1);
            let x = (x & 0x0000_3fff_0000_3fff) | ((x & 0x3fff_0000_3fff_0000) >> 2);
            let x = (x & 0x0000_0000_0fff_ffff) | ((x & 0x0fff_ffff_0000_0000) >> 4);
            *pos = p + n;
            return Some(x);
        }
    }
    read_varint_slow(b, pos)
}

#[cold]
fn read_varint_slow(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..10 {
        let byte = *b.get(*pos + i)?;
        // The tenth byte may only carry the 64th bit.
        if i == 9 && byte > 1 {
            return None;
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            *pos += i + 1;
            return Some(value);
        }
    }
    None
}

/// Whether an `f64` may travel as 4 bytes: it survives `f32` bit for bit.
/// NaNs always take 8 bytes because float casts may change NaN payloads.
#[inline]
pub(crate) fn fits_f32(v: f64) -> bool {
    let narrow = v as f32;
    !v.is_nan() && f64::from(narrow).to_bits() == v.to_bits()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_round_trips_extremes() {
        for v in [0, 1, -1, 63, -64, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
    }

    #[test]
    fn varint_len_matches_boundaries() {
        assert_eq!(varint_len(0), 1);
        assert_eq!(varint_len(127), 1);
        assert_eq!(varint_len(128), 2);
        assert_eq!(varint_len(u64::MAX), 10);
    }

    #[test]
    fn word_varints_match_the_byte_loop() {
        // No allocator needed: the test also runs without `alloc`.
        let fixed = [
            0u64,
            1,
            127,
            128,
            300,
            1 << 21,
            (1 << 35) + 7,
            1_795_349_380_301,
            u64::MAX,
        ];
        let powers = (0..64).flat_map(|shift| [1u64 << shift, (1u64 << shift) - 1]);
        let vals = fixed.into_iter().chain(powers);
        for v in vals {
            let mut buf = [0u8; 24];
            let mut n = 0;
            let mut x = v;
            while x >= 0x80 {
                buf[n] = (x as u8) | 0x80;
                x >>= 7;
                n += 1;
            }
            buf[n] = x as u8;
            // With slack behind (word path) and cut at the end (byte path).
            for end in [24, n + 1] {
                let mut pos = 0;
                assert_eq!(read_varint(&buf[..end], &mut pos), Some(v), "{v}");
                assert_eq!(pos, n + 1);
                let mut pos = 0;
                assert_eq!(read_varint_slow(&buf[..end], &mut pos), Some(v));
            }
            let mut pos = 0;
            assert_eq!(read_varint(&buf[..n], &mut pos), None, "truncated {v}");
        }
        let mut pos = 0;
        assert_eq!(read_varint(&[0xff; 10], &mut pos), None);
        assert_eq!(
            read_varint(
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
                &mut 0
            ),
            None
        );
    }

    #[test]
    fn f32_compaction_is_exact_only() {
        assert!(fits_f32(21.5));
        assert!(fits_f32(-0.0));
        assert!(fits_f32(f64::INFINITY));
        assert!(!fits_f32(0.1));
        assert!(!fits_f32(f64::NAN));
        assert!(!fits_f32(1e300));
    }
}
