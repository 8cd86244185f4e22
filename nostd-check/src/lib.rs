//! A `#![no_std]` crate without `alloc` that encodes and decodes a frame with
//! `iot-core`'s codec. It exists so CI proves the codec links on devices:
//! `cargo build -p nostd-check` fails if `iot-core` without default features
//! pulls in `std` or `alloc`.
#![no_std]
#![forbid(unsafe_code)]
