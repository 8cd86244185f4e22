//! Errors of registry operations.

use crate::device::DeviceId;

/// Why a registry operation was refused. A refused operation changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// The device is not registered.
    ///
    /// Heartbeats of unregistered devices are refused rather than
    /// auto-registered: ids arrive from the network, and storing every id
    /// seen would let any sender grow the registry without bound. The id is
    /// kept as a plain string because it may not even be a valid
    /// [`DeviceId`].
    #[error("device {0:?} is not registered")]
    UnknownDevice(String),
    /// A device with this id is already registered.
    #[error("device {0} is already registered")]
    AlreadyRegistered(DeviceId),
    /// The registry already holds [`FleetConfig::max_devices`](super::FleetConfig::max_devices) devices.
    #[error("fleet is full: {max} devices are registered")]
    CapacityExceeded {
        /// The configured maximum.
        max: usize,
    },
}
