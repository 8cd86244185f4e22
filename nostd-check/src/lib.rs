//! A `#![no_std]` crate without `alloc` that encodes and decodes a frame with
//! `iot-core`'s codec, as device firmware would, and reads and prints a
//! duration with `iot-duration` (its `serde` feature on).
//!
//! It defines its own `#[panic_handler]`: if `iot-core` built without default
//! features linked `std` (directly or through a dependency), compiling this
//! crate would fail with a duplicate `panic_impl` lang item. CI runs
//! `cargo build --manifest-path nostd-check/Cargo.toml`.
#![no_std]
#![forbid(unsafe_code)]

use iot_core::codec::{Channel, FrameHeader, Limits, Reading, Value, decode_frame, encode_frame};

/// Encodes one temperature reading into `buf` and decodes it back, returning
/// the value read, or `None` on any error.
pub fn round_trip(buf: &mut [u8], celsius: f32) -> Option<f32> {
    let readings = [Reading::new(Channel::Alias(0), Value::F32(celsius))];
    let len = encode_frame(&FrameHeader::new("mcu-1", 1, 0), &readings, buf).ok()?;
    let frame = decode_frame(&buf[..len], &Limits::DEFAULT).ok()?;
    match frame.readings().next()?.value {
        Value::F32(v) => Some(v),
        _ => None,
    }
}

/// Parses a duration and prints it back, returning its length in
/// nanoseconds when the printed text parses to the same duration.
pub fn duration_nanos(text: &str) -> Option<u128> {
    let duration = iot_duration::parse(text).ok()?;
    let printed = iot_duration::format(duration);
    (iot_duration::parse(printed.as_str()).ok()? == duration).then(|| duration.as_nanos())
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
