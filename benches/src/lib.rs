//! Benchmark fixtures and per-format adapters for comparing iot-core's
//! binary telemetry codec with peer formats.
//!
//! The criterion benchmark (`benches/codec.rs`) and the tests
//! (`tests/`) share everything here, so what is timed is what is tested:
//!
//! * [`fixtures`]: the reference frame, its non-`f32` twin and the
//!   64-reading frame, in iot-core's model.
//! * [`native`]: iot-core's binary format, named and aliased.
//! * [`senml`]: SenML JSON and CBOR through `iot_core::senml`.
//! * [`sparkplug`]: Sparkplug B DDATA, hand-written prost messages.
//! * [`serde_frame`]: an equivalent serde struct, for postcard and
//!   serde_json.
//! * [`formats`]: every compared format and the fixtures prepared for it.
//! * [`touch`]: the checksum every decode benchmark folds each value into.
//! * [`paired`]: interleaved timing of two functions, for robust ratios.
//! * [`report`]: the Markdown tables printed after a benchmark run.
//! * [`alloc_count`]: a counting allocator for the zero-allocation checks.
//!
//! `docs/benchmarks.md` in the repository has the results.

pub mod alloc_count;
pub mod fixtures;
pub mod formats;
pub mod mqtt_broker;
pub mod mqtt_e2e;
pub mod native;
pub mod observe_setup;
pub mod paired;
pub mod report;
pub mod resilience_driver;
pub mod resilience_report;
pub mod resilience_setup;
pub mod senml;
pub mod serde_frame;
pub mod sparkplug;
pub mod threads;
pub mod touch;
