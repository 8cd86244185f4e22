//! Test support shared by the workspace's integration tests and benches.
//!
//! * [`mosquitto`]: a private Mosquitto broker per test on a free loopback
//!   port, optionally with a TLS listener, a password file and an ACL;
//!   stopped, killed, reloaded (SIGHUP) and restarted on the same port;
//!   `RenderedBroker` runs a generated container `mosquitto.conf` as is.
//! * [`postgres`]: a private PostgreSQL server per test on a free loopback
//!   port (run as an unprivileged user when the tests run as root); killed
//!   with SIGKILL, stopped and started again on the same data directory.
//! * [`wss`]: websockify terminating `wss://` in front of a broker.
//! * `duration` (feature `proptest`): arbitrary durations for the
//!   configuration round-trip property tests.
//! * [`pki`]: a throwaway certificate authority writing PEM files: server
//!   and client certificates, expired ones, keys in PKCS#8, SEC1 and
//!   PKCS#1.
//!
//! A missing tool is a skip locally and a failure with `CI=true`
//! ([`mosquitto::require_tool`]).

#[cfg(feature = "proptest")]
pub mod duration;
pub mod mosquitto;
pub mod pki;
pub mod postgres;
mod rendered;
pub mod wss;
