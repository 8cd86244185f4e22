//! UTF-8 checks for string fields.

/// Converts `bytes` to `&str`, validating when `CHECK` is set.
///
/// The unchecked path is used only on bytes a checked pass over the same,
/// immutably borrowed input has accepted at the same offsets.
#[inline(always)]
pub(crate) fn to_str<const CHECK: bool>(bytes: &[u8]) -> Option<&str> {
    // Safe code cannot skip the check; without `CHECK` a failure here is
    // impossible because the checked pass saw the same bytes.
    core::str::from_utf8(bytes).ok()
}
