//! Owned copies of a device's registry entry.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::device::{DeviceId, DeviceInfo, DeviceStatus, StatusRecord};

/// A copy of one device's entry, taken under the registry lock.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceSnapshot {
    /// What the device is.
    pub info: DeviceInfo,
    /// Its status when the snapshot was taken.
    pub status: DeviceStatus,
    /// The latest heartbeat, or `None` if it was never heard from.
    pub last_seen: Option<Instant>,
    /// When it entered `status` (or was registered, if it never changed).
    pub since: Instant,
}

impl DeviceSnapshot {
    /// The device id.
    pub fn id(&self) -> &DeviceId {
        self.info.id()
    }

    /// Converts to wall-clock times for serialization.
    ///
    /// `Instant`s have no calendar meaning, so the caller supplies one
    /// moment read from both clocks (`now` and `wall_now`); every time is
    /// placed relative to that pair. Instants after `now` map to `wall_now`.
    ///
    /// ```
    /// use std::time::{Duration, Instant, UNIX_EPOCH};
    /// use iot_core::device::{DeviceId, DeviceInfo, DeviceStatus};
    /// use iot_core::fleet::FleetRegistry;
    ///
    /// let t0 = Instant::now();
    /// let fleet = FleetRegistry::default();
    /// fleet.register(DeviceInfo::new(DeviceId::new("dev-1")?, "meter"), t0)?;
    /// fleet.heartbeat("dev-1", t0)?;
    ///
    /// let wall = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let record = fleet.get("dev-1").unwrap().to_record(t0 + Duration::from_secs(5), wall);
    /// assert_eq!(record.status, DeviceStatus::Online);
    /// assert_eq!(record.last_seen, Some(wall - Duration::from_secs(5)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_record(&self, now: Instant, wall_now: SystemTime) -> StatusRecord {
        // Instant spans are bounded by uptime, so the subtraction cannot leave
        // SystemTime's range in practice; the fallback only avoids a panic.
        let wall = |t: Instant| {
            wall_now
                .checked_sub(now.saturating_duration_since(t))
                .unwrap_or(UNIX_EPOCH)
        };
        let record = StatusRecord::new(self.status, wall(self.since));
        match self.last_seen {
            Some(t) => record.with_last_seen(wall(t)),
            None => record,
        }
    }
}
