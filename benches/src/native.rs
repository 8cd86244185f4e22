//! iot-core's own binary format: encode into a reusable slice, decode with
//! one validating pass, then iterate every reading.

use iot_core::codec::{
    DecodeError, EncodeError, Encoder, FrameHeader, Limits, Reading, decode_frame,
};

use crate::touch;

/// A scratch buffer large enough for every fixture in every format.
pub const SCRATCH_LEN: usize = 4096;

/// Encodes a frame (no checksum) into `buf`; returns the length.
#[inline]
pub fn encode(
    header: &FrameHeader<'_>,
    readings: &[Reading<'_>],
    buf: &mut [u8],
) -> Result<usize, EncodeError> {
    Encoder::new().frame(header, readings, buf)
}

/// Decodes and validates `bytes`, then folds every field of every reading
/// into a checksum (see [`touch`]).
#[inline]
pub fn decode_touch(bytes: &[u8], limits: &Limits) -> Result<u64, DecodeError> {
    let frame = decode_frame(bytes, limits)?;
    let acc = touch::header(frame.device_id(), frame.seq(), frame.timestamp_ms());
    Ok(frame.readings().fold(acc, |acc, r| touch::reading(acc, &r)))
}

/// The checksum of a frame as the encoder saw it, for comparison with
/// [`decode_touch`] and the peers' decode functions.
pub fn expected_touch(header: &FrameHeader<'_>, readings: &[Reading<'_>]) -> u64 {
    let acc = touch::header(header.device_id, header.seq, header.timestamp_ms);
    readings.iter().fold(acc, touch::reading)
}
