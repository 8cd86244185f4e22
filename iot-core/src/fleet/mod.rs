//! Fleet liveness registry: which devices are online, offline, degraded or
//! in maintenance, from heartbeats and periodic sweeps.
//!
//! [`FleetRegistry`] is the entry point; its documentation describes the
//! status model, the boundary rule for going offline, how time is injected
//! and how memory stays bounded. Devices are selected by status and by
//! [`LabelSelector`]; status changes are returned by the operation that
//! made them and fanned out to [`StatusReceiver`]s.

mod config;
mod error;
mod expiry;
mod notify;
mod registry;
mod selector;
mod snapshot;

pub use config::FleetConfig;
pub use error::FleetError;
pub use notify::{StatusChange, StatusReceiver};
pub use registry::FleetRegistry;
pub use selector::{LabelSelector, SelectorError};
pub use snapshot::DeviceSnapshot;
