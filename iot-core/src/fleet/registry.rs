//! The fleet registry: registered devices, their liveness and subscribers.

use std::collections::BTreeMap;
use std::slice;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use super::expiry::Expiry;
use super::notify::Subscribers;
use super::{DeviceSnapshot, FleetConfig, FleetError, LabelSelector, StatusChange, StatusReceiver};
use crate::device::{DeviceId, DeviceInfo, DeviceStatus};

/// Tracks which registered devices are alive, from heartbeats and sweeps.
///
/// # Model
///
/// * A device is [registered](Self::register) explicitly and starts
///   [`Offline`](DeviceStatus::Offline) with no heartbeat.
/// * [`heartbeat`](Self::heartbeat) records that the device was heard from
///   (call it for every frame or heartbeat it sends) and turns an offline
///   device online.
/// * [`sweep`](Self::sweep) turns offline every online or degraded device
///   that has been silent for *strictly longer* than
///   [`FleetConfig::offline_after`]; a device never heard from counts as
///   silent forever. Devices in maintenance are never swept: silence is
///   expected while they are serviced.
/// * [`set_status`](Self::set_status) sets any status by hand: `Degraded`
///   from health checks, `Maintenance` for service windows, `Offline` for an
///   MQTT last-will message, `Online` to end maintenance. Heartbeats keep a
///   degraded or maintenance status; only an offline device is revived.
///
/// # Time
///
/// Nothing happens in the background: every operation takes `now` from the
/// caller, so the registry works under any runtime (or none) and tests are
/// deterministic. Pass `Instant::now()` (or `tokio::time::Instant::into_std`)
/// and call [`sweep`](Self::sweep) periodically, e.g. every few seconds.
/// A `now` earlier than a device's last heartbeat (threads racing for the
/// lock) never moves that heartbeat back.
///
/// # Notifications
///
/// Every operation that changes a status returns the changes and offers
/// them to every [subscriber](Self::subscribe) before releasing the lock, so
/// all subscribers see all changes in the same order. Delivery never blocks
/// (see [`StatusReceiver`]).
///
/// # Memory and concurrency
///
/// Memory is bounded by [`FleetConfig::max_devices`] entries plus one
/// bounded buffer per subscriber: heartbeats of unregistered devices are
/// refused with [`FleetError::UnknownDevice`] and store nothing. All methods
/// take `&self` and use an internal `RwLock`, so share the registry in an
/// `Arc`; queries run in parallel, updates are serialized. No user code runs
/// under the lock. Results are ordered by device id.
///
/// ```
/// use std::time::{Duration, Instant};
/// use iot_core::device::{DeviceId, DeviceInfo, DeviceStatus};
/// use iot_core::fleet::{FleetConfig, FleetRegistry};
///
/// let fleet = FleetRegistry::new(FleetConfig::DEFAULT.offline_after(Duration::from_secs(30)));
/// let t0 = Instant::now();
/// fleet.register(DeviceInfo::new(DeviceId::new("dev-1")?, "meter"), t0)?;
/// let changes = fleet.subscribe();
///
/// fleet.heartbeat("dev-1", t0)?;
/// assert_eq!(fleet.get("dev-1").unwrap().status, DeviceStatus::Online);
///
/// let swept = fleet.sweep(t0 + Duration::from_secs(31));
/// assert_eq!((swept[0].from, swept[0].to), (DeviceStatus::Online, DeviceStatus::Offline));
/// assert_eq!(changes.try_iter().count(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FleetRegistry {
    config: FleetConfig,
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    devices: BTreeMap<DeviceId, DeviceSnapshot>,
    subscribers: Subscribers,
    /// Lower bound on the earliest deadline of any device silence can affect.
    next_expiry: Expiry,
}

impl FleetRegistry {
    /// An empty registry.
    pub fn new(config: FleetConfig) -> Self {
        Self {
            config,
            state: RwLock::default(),
        }
    }

    /// The settings the registry was created with.
    pub fn config(&self) -> &FleetConfig {
        &self.config
    }

    /// Adds a device, offline and never heard from, as of `now`.
    ///
    /// Fails with [`FleetError::AlreadyRegistered`] if the id is taken and
    /// with [`FleetError::CapacityExceeded`] if the registry is full.
    pub fn register(&self, info: DeviceInfo, now: Instant) -> Result<(), FleetError> {
        let mut state = self.write();
        if state.devices.contains_key(info.id()) {
            return Err(FleetError::AlreadyRegistered(info.id().clone()));
        }
        if state.devices.len() >= self.config.max_devices {
            return Err(FleetError::CapacityExceeded {
                max: self.config.max_devices,
            });
        }
        let entry = DeviceSnapshot {
            info,
            status: DeviceStatus::Offline,
            last_seen: None,
            since: now,
        };
        state.devices.insert(entry.id().clone(), entry);
        Ok(())
    }

    /// Replaces the information of a registered device, keeping its status.
    pub fn update_info(&self, info: DeviceInfo) -> Result<(), FleetError> {
        let mut state = self.write();
        let entry = lookup(&mut state.devices, info.id().as_str())?;
        entry.info = info;
        Ok(())
    }

    /// Removes a device and returns its last state. Not a status change, so
    /// subscribers are not notified.
    pub fn deregister(&self, id: impl AsRef<str>) -> Option<DeviceSnapshot> {
        self.write().devices.remove(id.as_ref())
    }

    /// Records that device `id` was heard from at `now`.
    ///
    /// Turns an offline device online and returns that change; any other
    /// status is kept. Fails with [`FleetError::UnknownDevice`] for an
    /// unregistered id, storing nothing.
    pub fn heartbeat(
        &self,
        id: impl AsRef<str>,
        now: Instant,
    ) -> Result<Option<StatusChange>, FleetError> {
        let mut guard = self.write();
        let State {
            devices,
            subscribers,
            next_expiry,
        } = &mut *guard;
        let entry = lookup(devices, id.as_ref())?;
        entry.last_seen = Some(entry.last_seen.map_or(now, |seen| seen.max(now)));
        if entry.status != DeviceStatus::Offline {
            return Ok(None);
        }
        let change = transition(entry, DeviceStatus::Online, now);
        self.watch(next_expiry, entry);
        subscribers.deliver(slice::from_ref(&change));
        Ok(Some(change))
    }

    /// Sets the status of device `id` by hand, as of `now`.
    ///
    /// Returns the change, or `None` if the device already had `status`.
    /// Does not count as a heartbeat: a device set online or degraded that
    /// has been silent too long goes offline at the next sweep.
    pub fn set_status(
        &self,
        id: impl AsRef<str>,
        status: DeviceStatus,
        now: Instant,
    ) -> Result<Option<StatusChange>, FleetError> {
        let mut guard = self.write();
        let State {
            devices,
            subscribers,
            next_expiry,
        } = &mut *guard;
        let entry = lookup(devices, id.as_ref())?;
        if entry.status == status {
            return Ok(None);
        }
        let change = transition(entry, status, now);
        self.watch(next_expiry, entry);
        subscribers.deliver(slice::from_ref(&change));
        Ok(Some(change))
    }

    /// Turns offline every online or degraded device silent for strictly
    /// longer than [`FleetConfig::offline_after`] at `now`, and returns
    /// those changes in device-id order.
    ///
    /// Cheap when nothing is due: it returns an empty `Vec` (no allocation)
    /// without scanning until the earliest deadline has passed.
    pub fn sweep(&self, now: Instant) -> Vec<StatusChange> {
        let mut guard = self.write();
        let state = &mut *guard;
        if !state.next_expiry.is_due(now) {
            return Vec::new();
        }
        let mut changes = Vec::new();
        let mut next_expiry = Expiry::Never;
        for entry in state.devices.values_mut() {
            if !expires_on_silence(entry.status) {
                continue;
            }
            let expiry = Expiry::of(entry.last_seen, self.config.offline_after);
            if expiry.is_due(now) {
                changes.push(transition(entry, DeviceStatus::Offline, now));
            } else {
                next_expiry = next_expiry.min(expiry);
            }
        }
        state.next_expiry = next_expiry;
        state.subscribers.deliver(&changes);
        changes
    }

    /// Subscribes to all future status changes.
    pub fn subscribe(&self) -> StatusReceiver {
        self.write()
            .subscribers
            .subscribe(self.config.subscriber_capacity)
    }

    /// Subscriptions not yet known to be dropped; dropped receivers are
    /// forgotten at the next delivery.
    pub fn subscriber_count(&self) -> usize {
        self.read().subscribers.len()
    }

    /// A copy of device `id`'s entry.
    pub fn get(&self, id: impl AsRef<str>) -> Option<DeviceSnapshot> {
        self.read().devices.get(id.as_ref()).cloned()
    }

    /// Whether device `id` is registered.
    pub fn contains(&self, id: impl AsRef<str>) -> bool {
        self.read().devices.contains_key(id.as_ref())
    }

    /// Number of registered devices.
    pub fn len(&self) -> usize {
        self.read().devices.len()
    }

    /// Whether no device is registered.
    pub fn is_empty(&self) -> bool {
        self.read().devices.is_empty()
    }

    /// Copies of all entries.
    pub fn snapshot(&self) -> Vec<DeviceSnapshot> {
        self.query(None, &LabelSelector::new())
    }

    /// Copies of the entries of devices with `status`.
    pub fn by_status(&self, status: DeviceStatus) -> Vec<DeviceSnapshot> {
        self.query(Some(status), &LabelSelector::new())
    }

    /// Copies of the entries of devices matching `selector`.
    pub fn by_labels(&self, selector: &LabelSelector) -> Vec<DeviceSnapshot> {
        self.query(None, selector)
    }

    /// Copies of the entries of devices with `status` (any status if `None`)
    /// that match `selector`.
    pub fn query(
        &self,
        status: Option<DeviceStatus>,
        selector: &LabelSelector,
    ) -> Vec<DeviceSnapshot> {
        self.read()
            .devices
            .values()
            .filter(|e| status.is_none_or(|s| e.status == s) && selector.matches(&e.info))
            .cloned()
            .collect()
    }

    /// Lowers the sweep bound to `entry`'s deadline if silence can now
    /// turn it offline; called whenever a status changes outside a sweep.
    fn watch(&self, next_expiry: &mut Expiry, entry: &DeviceSnapshot) {
        if expires_on_silence(entry.status) {
            let expiry = Expiry::of(entry.last_seen, self.config.offline_after);
            *next_expiry = (*next_expiry).min(expiry);
        }
    }

    // A panic while the lock is held cannot leave an entry half-updated
    // (each update is a few plain assignments), and a stale `next_expiry` is
    // still a lower bound, so a poisoned lock is safe to keep using.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for FleetRegistry {
    fn default() -> Self {
        Self::new(FleetConfig::DEFAULT)
    }
}

fn lookup<'d>(
    devices: &'d mut BTreeMap<DeviceId, DeviceSnapshot>,
    id: &str,
) -> Result<&'d mut DeviceSnapshot, FleetError> {
    devices
        .get_mut(id)
        .ok_or_else(|| FleetError::UnknownDevice(id.into()))
}

/// Whether silence can turn a device with `status` offline.
fn expires_on_silence(status: DeviceStatus) -> bool {
    matches!(status, DeviceStatus::Online | DeviceStatus::Degraded)
}

fn transition(entry: &mut DeviceSnapshot, to: DeviceStatus, now: Instant) -> StatusChange {
    let from = entry.status;
    entry.status = to;
    entry.since = now;
    StatusChange {
        device: entry.id().clone(),
        from,
        to,
        at: now,
    }
}

#[cfg(test)]
mod tests;
