//! The iot-rs examples as a library, so the binaries stay thin and the
//! gateway can be tested end to end (`tests/gateway.rs`).
//!
//! * [`gateway`]: the demo gateway (`--bin gateway`).
//! * [`sim`]: the simulated fleet (also `--bin device-sim`).
//! * [`broker`]: the embedded rumqttd broker and a fault-injecting proxy.
//! * [`sink`]: the in-memory aggregator and the HTTP sink.
//! * [`store`]: durable sinks: SQLite and PostgreSQL, one row per reading,
//!   idempotent writes.
//! * [`latency`]: a fixed-bucket latency histogram.
//! * [`util`]: durations, broker URLs, a tiny HTTP GET, process stats.

pub mod broker;
pub mod connect;
pub mod gateway;
pub mod latency;
pub mod sim;
pub mod sink;
pub mod store;
pub mod util;

// Compile and run the root README's Rust example as a doc test, so it stays
// true (this crate is not published, so it may include a file outside it).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct RootReadmeDoctests;
