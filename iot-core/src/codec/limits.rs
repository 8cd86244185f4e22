//! Decoder limits: the bounds that keep hostile input cheap.

/// Upper bounds a decoder enforces before it trusts any length in the input.
///
/// Every decoder in this crate checks lengths and counts against these limits
/// before it reads or allocates, so the work done on hostile input is bounded
/// by the input size and these numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct Limits {
    /// Largest accepted message, in bytes.
    pub max_frame_len: usize,
    /// Most readings (or SenML records, or birth entries) in one message.
    pub max_readings: usize,
    /// Longest string value, channel name or unit, in bytes.
    pub max_str_len: usize,
    /// Longest byte-array value, in bytes.
    pub max_bytes_len: usize,
    /// Deepest nesting of arrays and maps (SenML; the binary format is flat).
    pub max_nesting: usize,
}

impl Limits {
    /// Defaults sized for telemetry: 64 KiB messages, 1024 readings,
    /// 4 KiB strings, 16 KiB byte arrays, nesting depth 16.
    pub const DEFAULT: Limits = Limits {
        max_frame_len: 64 * 1024,
        max_readings: 1024,
        max_str_len: 4 * 1024,
        max_bytes_len: 16 * 1024,
        max_nesting: 16,
    };

    /// Sets [`Limits::max_frame_len`].
    pub const fn max_frame_len(mut self, n: usize) -> Self {
        self.max_frame_len = n;
        self
    }
    /// Sets [`Limits::max_readings`].
    pub const fn max_readings(mut self, n: usize) -> Self {
        self.max_readings = n;
        self
    }
    /// Sets [`Limits::max_str_len`].
    pub const fn max_str_len(mut self, n: usize) -> Self {
        self.max_str_len = n;
        self
    }
    /// Sets [`Limits::max_bytes_len`].
    pub const fn max_bytes_len(mut self, n: usize) -> Self {
        self.max_bytes_len = n;
        self
    }
    /// Sets [`Limits::max_nesting`].
    pub const fn max_nesting(mut self, n: usize) -> Self {
        self.max_nesting = n;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
