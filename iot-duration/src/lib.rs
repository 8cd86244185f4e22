#![doc = include_str!("../README.md")]
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use core::fmt;
use core::ops::Range;
use core::time::Duration;

#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub mod serde;

/// The longest text [`parse`] reads, in bytes; longer input is
/// [`ErrorKind::TooLong`]. The longest printed duration is 38 bytes.
pub const MAX_INPUT_LEN: usize = 256;

const NANOS_PER_SEC: u128 = 1_000_000_000;
/// `Duration::MAX` in nanoseconds (`Duration::MAX.as_nanos()` is not `const`
/// on every supported Rust).
const MAX_NANOS: u128 = u64::MAX as u128 * NANOS_PER_SEC + (NANOS_PER_SEC - 1);
/// Fraction digits (after trailing zeros) that can still come out at a
/// whole number of nanoseconds: a day is 2^16 * 3^3 * 5^11 ns, so no exact
/// fraction of any unit needs more than 16.
const MAX_FRACTION_DIGITS: u32 = 19;
/// Bytes of the offending text an error keeps.
const FRAGMENT_CAP: usize = 32;

/// Parses a duration in the format described in the [crate docs](crate):
/// `"250ms"`, `"1.5s"`, `"1m30s"`, `"1h 30m"`, `"0"`.
///
/// Exact: never rounds (a fraction finer than a nanosecond is an error),
/// never overflows (more than `Duration::MAX` is an error), never panics.
///
/// ```
/// use std::time::Duration;
/// use iot_duration::{ErrorKind, parse};
///
/// assert_eq!(parse("0.25ms"), Ok(Duration::from_micros(250)));
/// assert_eq!(parse("1h 30m"), Ok(Duration::from_secs(5400)));
/// assert_eq!(parse("1.5ns").unwrap_err().kind(), ErrorKind::TooPrecise);
/// assert_eq!(parse("1500").unwrap_err().kind(), ErrorKind::MissingUnit);
/// ```
pub fn parse(text: &str) -> Result<Duration, ParseError> {
    if text.len() > MAX_INPUT_LEN {
        return Err(ParseError::new(ErrorKind::TooLong, text, 0..text.len()));
    }
    let bytes = text.as_bytes();
    let mut end = bytes.len();
    while end > 0 && bytes[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    let mut i = skip_space(bytes, 0, end);
    if i == end {
        return Err(ParseError::new(ErrorKind::Empty, text, i..i));
    }
    if &text[i..end] == "0" {
        return Ok(Duration::ZERO);
    }

    let mut total: u128 = 0;
    while i < end {
        let part_start = i;

        // The integer part, saturating just above the largest duration: it
        // stays far below u128::MAX, and anything that large overflows below.
        let mut int: u128 = 0;
        while i < end && bytes[i].is_ascii_digit() {
            int = (int * 10 + u128::from(bytes[i] - b'0')).min(MAX_NANOS + 1);
            i += 1;
        }
        if i == part_start {
            return Err(ParseError::new(
                ErrorKind::ExpectedNumber,
                text,
                i..next_char(text, i),
            ));
        }

        // The fraction, without its trailing zeros: `frac / 10^frac_digits`.
        let mut frac: u128 = 0;
        let mut frac_digits: u32 = 0;
        if i < end && bytes[i] == b'.' {
            i += 1;
            let frac_start = i;
            let mut zeros: u32 = 0;
            while i < end && bytes[i].is_ascii_digit() {
                let digit = bytes[i] - b'0';
                i += 1;
                if digit == 0 {
                    zeros = zeros.saturating_add(1);
                    continue;
                }
                if frac_digits + zeros + 1 > MAX_FRACTION_DIGITS {
                    return Err(too_precise(text, bytes, part_start, i, end));
                }
                frac = frac * 10u128.pow(zeros + 1) + u128::from(digit);
                frac_digits += zeros + 1;
                zeros = 0;
            }
            if i == frac_start {
                return Err(ParseError::new(
                    ErrorKind::ExpectedNumber,
                    text,
                    i..next_char(text, i),
                ));
            }
        }
        let number_end = i;

        i = skip_space(bytes, i, end);
        let unit_start = i;
        // A unit runs to the next digit or space (both ASCII, so `i` stays
        // on a character boundary).
        while i < end && !bytes[i].is_ascii_digit() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let per_unit: u128 = match &text[unit_start..i] {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => NANOS_PER_SEC,
            "m" => 60 * NANOS_PER_SEC,
            "h" => 3_600 * NANOS_PER_SEC,
            "d" => 86_400 * NANOS_PER_SEC,
            "" => {
                return Err(ParseError::new(
                    ErrorKind::MissingUnit,
                    text,
                    part_start..number_end,
                ));
            }
            _ => {
                return Err(ParseError::new(ErrorKind::UnknownUnit, text, unit_start..i));
            }
        };

        // frac < 10^19 < 2^64 and per_unit < 2^47: the product fits.
        let frac_product = frac * per_unit;
        let frac_divisor = 10u128.pow(frac_digits);
        if frac_product % frac_divisor != 0 {
            return Err(ParseError::new(ErrorKind::TooPrecise, text, part_start..i));
        }
        total = int
            .checked_mul(per_unit)
            .and_then(|whole| whole.checked_add(frac_product / frac_divisor))
            .and_then(|part| total.checked_add(part))
            .filter(|&sum| sum <= MAX_NANOS)
            .ok_or_else(|| ParseError::new(ErrorKind::Overflow, text, part_start..i))?;

        i = skip_space(bytes, i, end);
    }
    // total <= MAX_NANOS: the seconds fit in a u64.
    let secs = u64::try_from(total / NANOS_PER_SEC).unwrap_or(u64::MAX);
    let nanos = u32::try_from(total % NANOS_PER_SEC).unwrap_or(0);
    Ok(Duration::new(secs, nanos))
}

/// A [`ErrorKind::TooPrecise`] for the part starting at `part_start`, whose
/// fraction goes on at `i`: the span runs to the end of the part's unit.
fn too_precise(text: &str, bytes: &[u8], part_start: usize, i: usize, end: usize) -> ParseError {
    let mut stop = i;
    while stop < end && bytes[stop].is_ascii_digit() {
        stop += 1;
    }
    stop = skip_space(bytes, stop, end);
    while stop < end && !bytes[stop].is_ascii_digit() && !bytes[stop].is_ascii_whitespace() {
        stop += 1;
    }
    ParseError::new(ErrorKind::TooPrecise, text, part_start..stop)
}

fn skip_space(bytes: &[u8], mut i: usize, end: usize) -> usize {
    while i < end && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The byte index after the character at `i` (or `i` at the end).
fn next_char(text: &str, i: usize) -> usize {
    text.get(i..)
        .and_then(|rest| rest.chars().next())
        .map_or(i, |c| i + c.len_utf8())
}

/// Formats `duration` in the canonical form of the [crate docs](crate):
/// largest unit first, no zero parts, `h`, `m`, `s`, `ms`, `us`, `ns`; zero
/// is `"0s"`. [`parse`] reads it back to exactly `duration`.
///
/// The text lives in the returned value (no allocation): use
/// [`as_str`](Formatted::as_str) or its `Display`.
///
/// ```
/// use std::time::Duration;
///
/// let text = iot_duration::format(Duration::new(90, 250_000_000));
/// assert_eq!(text.as_str(), "1m30s250ms");
/// assert_eq!(text.to_string(), "1m30s250ms");
/// assert_eq!(iot_duration::parse(text.as_str()), Ok(Duration::new(90, 250_000_000)));
/// ```
pub fn format(duration: Duration) -> Formatted {
    let mut out = Formatted {
        buf: [0; FORMATTED_CAP],
        len: 0,
    };
    let secs = duration.as_secs();
    let nanos = duration.subsec_nanos();
    if secs == 0 && nanos == 0 {
        out.push_str("0s");
        return out;
    }
    for (value, unit) in [
        (secs / 3_600, "h"),
        (secs % 3_600 / 60, "m"),
        (secs % 60, "s"),
        (u64::from(nanos / 1_000_000), "ms"),
        (u64::from(nanos / 1_000 % 1_000), "us"),
        (u64::from(nanos % 1_000), "ns"),
    ] {
        if value != 0 {
            out.push_u64(value);
            out.push_str(unit);
        }
    }
    out
}

/// Room for the longest form: `"5124095576030430h59m59s999ms999us999ns"`,
/// 38 bytes.
const FORMATTED_CAP: usize = 40;

/// A formatted duration (see [`format`]): `Display`, [`as_str`](Self::as_str),
/// compared with `str`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Formatted {
    buf: [u8; FORMATTED_CAP],
    len: usize,
}

impl Formatted {
    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written.
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    fn push_str(&mut self, s: &str) {
        for &b in s.as_bytes() {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
    }

    fn push_u64(&mut self, mut value: u64) {
        let mut digits = [0u8; 20];
        let mut n = digits.len();
        loop {
            n -= 1;
            digits[n] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        for &b in &digits[n..] {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
    }
}

impl fmt::Display for Formatted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Debug for Formatted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl AsRef<str> for Formatted {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for Formatted {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Formatted {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What is wrong with a duration's text (see [`ParseError::kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Nothing but whitespace.
    #[error("empty duration (write e.g. \"250ms\", \"1.5s\" or \"1m30s\")")]
    Empty,
    /// Longer than [`MAX_INPUT_LEN`].
    #[error("duration longer than 256 bytes")]
    TooLong,
    /// A digit was expected: at the start of a part, or after a decimal
    /// point (a sign, `".5s"`, `"1.s"`).
    #[error("expected a digit")]
    ExpectedNumber,
    /// A number without a unit (`"1500"`; only `"0"` may go without).
    #[error("number without a unit (ns, us, ms, s, m, h or d)")]
    MissingUnit,
    /// A unit other than `ns`, `us`, `µs`, `ms`, `s`, `m`, `h`, `d`.
    #[error("unknown unit (use ns, us, ms, s, m, h or d)")]
    UnknownUnit,
    /// A fraction that is not a whole number of nanoseconds (`"1.5ns"`).
    #[error("finer than a nanosecond")]
    TooPrecise,
    /// More than `Duration::MAX`.
    #[error("larger than the largest duration (u64::MAX seconds)")]
    Overflow,
}

/// A duration's text that [`parse`] rejected: what is wrong, where, and the
/// offending text (kept in the error, up to 32 bytes, so that it needs no
/// allocation and borrows nothing).
///
/// ```
/// let err = iot_duration::parse("1m 30 sec").unwrap_err();
/// assert_eq!(err.kind(), iot_duration::ErrorKind::UnknownUnit);
/// assert_eq!((err.offset(), err.span(), err.fragment()), (6, 6..9, "sec"));
/// assert_eq!(
///     err.to_string(),
///     "unknown unit (use ns, us, ms, s, m, h or d) at byte 6: \"sec\""
/// );
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{kind} at byte {start}: {fragment:?}")]
pub struct ParseError {
    kind: ErrorKind,
    start: usize,
    end: usize,
    fragment: Fragment,
}

impl ParseError {
    fn new(kind: ErrorKind, text: &str, span: Range<usize>) -> Self {
        let part = text.get(span.clone()).unwrap_or("");
        let mut keep = part.len().min(FRAGMENT_CAP);
        while !part.is_char_boundary(keep) {
            keep -= 1;
        }
        let mut bytes = [0; FRAGMENT_CAP];
        bytes[..keep].copy_from_slice(&part.as_bytes()[..keep]);
        Self {
            kind,
            start: span.start,
            end: span.end,
            fragment: Fragment {
                bytes,
                len: keep,
                cut: keep < part.len(),
            },
        }
    }

    /// What is wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The byte offset of the offending part in the text given to
    /// [`parse`] (leading whitespace included).
    pub fn offset(&self) -> usize {
        self.start
    }

    /// The byte range of the offending part in the text given to [`parse`].
    pub fn span(&self) -> Range<usize> {
        self.start..self.end
    }

    /// The offending text: its first 32 bytes (cut at a character
    /// boundary) when it is longer.
    pub fn fragment(&self) -> &str {
        self.fragment.as_str()
    }
}

impl fmt::Debug for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParseError")
            .field("kind", &self.kind)
            .field("span", &self.span())
            .field("fragment", &self.fragment())
            .finish()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Fragment {
    bytes: [u8; FRAGMENT_CAP],
    len: usize,
    /// The offending text was longer than what is kept.
    cut: bool,
}

impl Fragment {
    fn as_str(&self) -> &str {
        // Cut at a character boundary of a `str`.
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl fmt::Debug for Fragment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)?;
        if self.cut {
            f.write_str("...")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Duration {
        parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn err(text: &str) -> ParseError {
        match parse(text) {
            Ok(d) => panic!("{text:?} parsed as {d:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn accepts_the_documented_forms() {
        let ms = Duration::from_millis;
        for (text, want) in [
            ("250ms", ms(250)),
            ("1.5s", ms(1500)),
            ("1m30s", Duration::from_secs(90)),
            ("1500us", Duration::from_micros(1500)),
            ("1500\u{b5}s", Duration::from_micros(1500)),
            ("1500\u{3bc}s", Duration::from_micros(1500)),
            ("0.25ms", Duration::from_micros(250)),
            ("1.5us", Duration::from_nanos(1500)),
            ("7ns", Duration::from_nanos(7)),
            ("2h", Duration::from_secs(7200)),
            ("1d", Duration::from_secs(86_400)),
            ("1.5d", Duration::from_secs(129_600)),
            ("0.5m", Duration::from_secs(30)),
            (" 1m 30 s ", Duration::from_secs(90)),
            ("\t5s\n", Duration::from_secs(5)),
            ("30s1m", Duration::from_secs(90)),
            ("1s1s", Duration::from_secs(2)),
            ("0", Duration::ZERO),
            (" 0 ", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("0.0ms", Duration::ZERO),
            ("00010s", Duration::from_secs(10)),
            ("1.500000000000000000000000000000s", ms(1500)),
            ("0.000000001s", Duration::from_nanos(1)),
            ("18446744073709551615s999999999ns", Duration::MAX),
            ("18446744073709551615.999999999s", Duration::MAX),
        ] {
            assert_eq!(parse(text), Ok(want), "{text:?}");
        }
    }

    #[test]
    fn day_fractions_are_exact_or_rejected() {
        // 1 ns is 1/86_400_000_000_000 of a day: not a terminating decimal.
        assert_eq!(err("0.0000000000000116d").kind(), ErrorKind::TooPrecise);
        // 1/2^16 of a day is 1_318_359_375 ns: 16 fraction digits.
        assert_eq!(
            ok("0.0000152587890625d"),
            Duration::from_nanos(1_318_359_375)
        );
    }

    #[test]
    fn rejects_with_kind_span_and_fragment() {
        use ErrorKind::*;
        for (text, kind, span, fragment) in [
            ("", Empty, 0..0, ""),
            ("   ", Empty, 0..0, ""),
            ("5 parsecs", UnknownUnit, 2..9, "parsecs"),
            ("5S", UnknownUnit, 1..2, "S"),
            ("1min", UnknownUnit, 1..4, "min"),
            ("1s.5", UnknownUnit, 1..3, "s."),
            ("1500", MissingUnit, 0..4, "1500"),
            ("1m 30", MissingUnit, 3..5, "30"),
            ("1.5", MissingUnit, 0..3, "1.5"),
            ("-1s", ExpectedNumber, 0..1, "-"),
            ("+1s", ExpectedNumber, 0..1, "+"),
            (".5s", ExpectedNumber, 0..1, "."),
            ("1.s", ExpectedNumber, 2..3, "s"),
            ("1.", ExpectedNumber, 2..2, ""),
            ("ms", ExpectedNumber, 0..1, "m"),
            ("\u{b5}s", ExpectedNumber, 0..2, "\u{b5}"),
            ("1e3ms", UnknownUnit, 1..2, "e"),
            ("1.5ns", TooPrecise, 0..5, "1.5ns"),
            ("1m 0.0000000001s", TooPrecise, 3..16, "0.0000000001s"),
            (
                "0.00000000000000000001s",
                TooPrecise,
                0..23,
                "0.00000000000000000001s",
            ),
            (
                "18446744073709551616s",
                Overflow,
                0..21,
                "18446744073709551616s",
            ),
            ("18446744073709551615s1s", Overflow, 21..23, "1s"),
            ("5124095576030432h", Overflow, 0..17, "5124095576030432h"),
            (
                "99999999999999999999999999999999999999999999d",
                Overflow,
                0..45,
                "99999999999999999999999999999999",
            ),
        ] {
            let e = err(text);
            assert_eq!(
                (e.kind(), e.span(), e.fragment()),
                (kind, span.clone(), fragment),
                "{text:?}"
            );
            assert_eq!(e.offset(), span.start);
        }
        let long = [b'1'; MAX_INPUT_LEN + 1];
        let long = core::str::from_utf8(&long).unwrap();
        assert_eq!(err(long).kind(), ErrorKind::TooLong);
    }

    #[test]
    fn error_messages_name_the_text() {
        extern crate std;
        use std::string::ToString;
        assert_eq!(
            err("1.5ns").to_string(),
            "finer than a nanosecond at byte 0: \"1.5ns\""
        );
        let e = err(&"9".repeat(40));
        assert!(
            e.to_string()
                .ends_with("\"99999999999999999999999999999999\"...")
        );
    }

    #[test]
    fn formats_canonically() {
        for (d, want) in [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(1), "1ns"),
            (Duration::from_micros(1500), "1ms500us"),
            (Duration::from_millis(1500), "1s500ms"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(3600), "1h"),
            (Duration::from_secs(36 * 3600), "36h"),
            (Duration::new(3661, 1_001_001), "1h1m1s1ms1us1ns"),
            (Duration::MAX, "5124095576030431h15s999ms999us999ns"),
            (
                Duration::new(5_124_095_576_030_430 * 3600 + 3599, 999_999_999),
                "5124095576030430h59m59s999ms999us999ns",
            ),
        ] {
            assert_eq!(format(d), want);
            assert_eq!(parse(format(d).as_str()), Ok(d));
        }
    }
}
