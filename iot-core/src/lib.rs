//! # iot-core
//!
//! The foundation of the `iot-*` family: validated device models, a compact
//! **zero-copy telemetry codec** that also runs on microcontrollers
//! (`no_std`, no allocator needed), and SenML (RFC 8428) interop.
//!
//! ```
//! use iot_core::codec::{decode_frame, encode_frame, Channel, FrameHeader, Reading, Value, Limits};
//!
//! let readings = [
//!     Reading::new(Channel::Alias(1), Value::F64(21.5)),
//!     Reading::new(Channel::Name("door"), Value::Bool(true)),
//! ];
//! let header = FrameHeader::new("dev-4f2a9c01", 7, 1_700_000_000_000);
//! let mut buf = [0u8; 128];
//! let len = encode_frame(&header, &readings, &mut buf).unwrap();
//!
//! // Decoding validates once and borrows from `buf`; iterating allocates nothing.
//! let frame = decode_frame(&buf[..len], &Limits::default()).unwrap();
//! assert_eq!(frame.device_id(), "dev-4f2a9c01");
//! assert_eq!(frame.readings().nth(1).unwrap().value, Value::Bool(true));
//! ```
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `std` | yes | device models, fleet registry, `std::error::Error` everywhere |
//! | `alloc` | via `std` | encode into `Vec<u8>`, owned alias tables |
//! | `senml` | yes | SenML JSON and CBOR decode and encode |
//! | `bytes` | no | encode into any `bytes::BufMut` |
//! | `mqtt` | no | MQTT transport over rumqttc and tokio: topic scheme, store-and-forward publisher, deduplicating consumer (module `mqtt`, see `docs/mqtt.md`) |
//! | `metrics` | no | the MQTT transport's counters through the `metrics` facade |
//!
//! With `default-features = false` the crate is `#![no_std]` without `alloc`
//! and contains the binary codec and device-id validation only.
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
// `unsafe` is denied everywhere but in `codec::utf8`, where a measured win
// needs it (see that module for why and why it is sound).
#![deny(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod codec;
pub mod device;
#[cfg(feature = "std")]
pub mod fleet;
#[cfg(feature = "mqtt")]
pub mod mqtt;
#[cfg(feature = "senml")]
pub mod senml;

// Compile and run the README's examples as doc tests, so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
