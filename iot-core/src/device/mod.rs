//! Device models: validated identifiers, descriptive information and status.
//!
//! [`validate_device_id`] and [`DeviceIdError`] work without an allocator so
//! the codec can check ids on devices; the owned types need `alloc`/`std`.

mod id;
#[cfg(feature = "std")]
mod info;
#[cfg(feature = "std")]
mod status;

#[cfg(feature = "alloc")]
pub use id::DeviceId;
pub(crate) use id::PLAIN_ID_BYTES;
pub use id::{DeviceIdError, MAX_DEVICE_ID_LEN, validate_device_id};
#[cfg(feature = "std")]
pub use info::*;
#[cfg(feature = "std")]
pub use status::*;
