//! # iot-deploy
//!
//! Describe a Rust service of the iot-rs family once, in a typed
//! [`DeploySpec`] (TOML or YAML), and generate every deployment artifact
//! from it: Dockerfile, docker-compose, Kubernetes manifests, a Helm chart,
//! Kustomize overlays, Prometheus scrape config and alert rules, a Grafana
//! dashboard, a systemd unit and a CI workflow. Probe paths, ports and
//! metric names match what `iot-observe` serves (see [`metrics_contract`]).
//!
//! ```
//! use iot_deploy::{Format, SpecFile};
//!
//! let spec = r#"
//! name = "telemetry-gateway"
//! [image]
//! repository = "ghcr.io/acme/telemetry-gateway"
//! tag = "1.4.2"
//! "#;
//! let file = SpecFile::parse(spec, Format::Toml).unwrap();
//! assert_eq!(file.base.ports.http, 8080);
//!
//! let bad = "name = \"gw\"\n[resources.limits]\nmemory = \"512MB\"\n";
//! let err = SpecFile::parse(bad, Format::Toml).unwrap_err();
//! assert!(err.to_string().contains(
//!     r#"3:10: resources.limits.memory: "512MB" is not a Kubernetes quantity, did you mean "512Mi"?"#
//! ));
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

// The README's example, compiled and run as a doc test so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod decode;
pub mod diag;
pub mod emit;
pub mod generate;
pub mod lint;
mod load;
pub mod metrics_contract;
pub mod source;
pub mod spec;
pub mod starter;
mod validate;

pub use diag::{Diagnostic, Diagnostics};
pub use load::SpecFile;
pub use source::Format;
pub use spec::DeploySpec;
