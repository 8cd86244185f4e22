//! UTF-8 checks for string fields: the crate's only `unsafe` code.
//!
//! Why `unsafe` here: on the 2-vCPU machines the benchmarks run on,
//! `core::str::from_utf8` costs about 12 ns even for a 12-byte ASCII string,
//! and a frame has several strings (device id, names, units, values). The
//! checked pass validates each string once, with an ASCII fast path; the
//! iteration pass then converts the same bytes without validating again,
//! which is what "decode once, iterate without re-validating" means. Measured
//! with `benches/` (see `docs/benchmarks.md`).
//!
//! Soundness: [`to_str`] without `CHECK` is only called by the iterators of
//! `FrameView` and `BirthView` (`fast::read_trusted`, `read_entry::<false>`),
//! whose fields are private and are only created by `decode_frame` /
//! `decode_birth` after a validator accepted the whole input. Every parser
//! follows the same layout (`docs/wire-format.md`), in which a field's span
//! depends only on the bytes before it, so every slice converted unchecked is
//! one a validator converted with validation. Debug builds assert it here,
//! and `decode_frame` asserts in debug builds that the lean validator only
//! accepts what the detailed one accepts.
#![allow(unsafe_code)]

/// Converts `bytes` to `&str`. With `CHECK`, validates (ASCII fast path);
/// without, trusts that a checked pass validated exactly these bytes.
#[inline(always)]
pub(crate) fn to_str<const CHECK: bool>(bytes: &[u8]) -> Option<&str> {
    if CHECK {
        if bytes.is_ascii() {
            // SAFETY: ASCII is valid UTF-8.
            Some(unsafe { core::str::from_utf8_unchecked(bytes) })
        } else {
            core::str::from_utf8(bytes).ok()
        }
    } else {
        debug_assert!(core::str::from_utf8(bytes).is_ok());
        // SAFETY: see the module docs: the checked pass validated these
        // exact bytes of the same immutable input.
        Some(unsafe { core::str::from_utf8_unchecked(bytes) })
    }
}
