//! Bit-exact conversions between half, single and double precision.
//!
//! `as` casts between float widths may change NaN payloads; these helpers
//! work on the bits so that every value, NaNs included, survives a CBOR
//! round trip bit for bit.

/// `f32` -> `f64`, exact; NaN payload and sign are kept.
pub(crate) fn widen_f32(v: f32) -> f64 {
    if v.is_nan() {
        let bits = v.to_bits();
        let sign = u64::from(bits >> 31) << 63;
        let payload = u64::from(bits & 0x007f_ffff) << 29;
        f64::from_bits(sign | 0x7ff0_0000_0000_0000 | payload)
    } else {
        f64::from(v)
    }
}

/// IEEE 754 binary16 bits -> `f64`, exact.
pub(crate) fn f16_to_f64(h: u16) -> f64 {
    let sign = u64::from(h >> 15) << 63;
    let exp = u64::from((h >> 10) & 0x1f);
    let mant = u64::from(h & 0x3ff);
    match exp {
        0 => {
            // Subnormal (or zero): mant * 2^-24, exact in f64.
            let magnitude = mant as f64 * f64::from_bits((1023 - 24) << 52);
            f64::from_bits(sign | magnitude.to_bits())
        }
        0x1f => f64::from_bits(sign | 0x7ff0_0000_0000_0000 | (mant << 42)),
        _ => f64::from_bits(sign | ((exp + 1023 - 15) << 52) | (mant << 42)),
    }
}

/// The binary16 bits of `v` if `f16_to_f64` gives back exactly `v`.
pub(crate) fn f64_to_f16_exact(v: f64) -> Option<u16> {
    let bits = v.to_bits();
    let sign = ((bits >> 63) as u16) << 15;
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let mant = bits & 0x000f_ffff_ffff_ffff;
    let candidate = if exp == 0x7ff {
        if mant & ((1 << 42) - 1) != 0 {
            return None;
        }
        sign | 0x7c00 | (mant >> 42) as u16
    } else if exp == 0 {
        if mant != 0 {
            return None; // f64 subnormals are far below the f16 range
        }
        sign
    } else {
        let e = exp - 1023;
        if (-14..=15).contains(&e) {
            if mant & ((1 << 42) - 1) != 0 {
                return None;
            }
            sign | (((e + 15) as u16) << 10) | (mant >> 42) as u16
        } else if (-24..-14).contains(&e) {
            let full = (1u64 << 52) | mant;
            let shift = (28 - e) as u32; // 43..=52
            if full & ((1 << shift) - 1) != 0 {
                return None;
            }
            sign | (full >> shift) as u16
        } else {
            return None;
        }
    };
    (f16_to_f64(candidate).to_bits() == bits).then_some(candidate)
}

/// The `f32` that [`widen_f32`] turns back into exactly `v`, if any.
pub(crate) fn f64_to_f32_exact(v: f64) -> Option<f32> {
    let candidate = if v.is_nan() {
        let bits = v.to_bits();
        if bits & ((1 << 29) - 1) != 0 {
            return None;
        }
        let sign = ((bits >> 63) as u32) << 31;
        f32::from_bits(sign | 0x7f80_0000 | ((bits >> 29) as u32 & 0x007f_ffff))
    } else {
        v as f32
    };
    (widen_f32(candidate).to_bits() == v.to_bits()).then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_f16_round_trips() {
        for h in 0..=u16::MAX {
            let v = f16_to_f64(h);
            assert_eq!(f64_to_f16_exact(v), Some(h), "{h:#06x} -> {v}");
        }
    }

    #[test]
    fn known_halves() {
        assert_eq!(f16_to_f64(0x3e00), 1.5);
        assert_eq!(f16_to_f64(0x0001), 5.960464477539063e-8);
        assert_eq!(f16_to_f64(0x7bff), 65504.0);
        assert_eq!(f16_to_f64(0xfc00), f64::NEG_INFINITY);
        assert_eq!(f64_to_f16_exact(0.1), None);
        assert_eq!(f64_to_f16_exact(65520.0), None);
        assert_eq!(f64_to_f16_exact(-0.0), Some(0x8000));
    }

    #[test]
    fn f32_nan_payloads_survive() {
        for bits in [0x7fc0_0000u32, 0x7f80_0001, 0xffbf_ffff, 0x7fa5_5555] {
            let v = widen_f32(f32::from_bits(bits));
            assert!(v.is_nan());
            assert_eq!(f64_to_f32_exact(v).map(f32::to_bits), Some(bits));
        }
        assert_eq!(f64_to_f32_exact(0.1), None);
        assert_eq!(f64_to_f32_exact(0.5), Some(0.5));
        assert_eq!(
            f64_to_f32_exact(f64::from_bits(0x7ff8_0000_0000_0001)),
            None
        );
    }
}
