//! Generators: pure functions from a spec to files.
//!
//! Each generator takes a resolved [`DeploySpec`](crate::DeploySpec) and
//! returns files; nothing reads the clock, the environment or the disk, so
//! the same spec always gives byte-identical output.

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
pub mod prometheus;
mod render;
pub(crate) mod sha256;
pub mod systemd;

pub use render::{File, Target, k8s_files, render};
