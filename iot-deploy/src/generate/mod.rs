//! Generators: pure functions from a spec to files.
//!
//! Each generator takes a resolved [`DeploySpec`](crate::DeploySpec) and
//! returns files; nothing reads the clock, the environment or the disk, so
//! the same spec always gives byte-identical output. [`write_files`] puts
//! them on disk.

mod alerts;
pub mod ci;
pub mod compose;
pub mod docker;
pub mod grafana;
pub mod helm;
mod helm_values;
pub mod k8s;
pub mod kustomize;
pub(crate) mod labels;
pub mod mosquitto;
pub mod mqtt_client;
pub mod prometheus;
mod render;
pub(crate) mod sha256;
pub mod systemd;
mod write;

pub use render::{File, Target, WriteMode, k8s_files, render};
pub use write::{WriteError, Written, write_files};
