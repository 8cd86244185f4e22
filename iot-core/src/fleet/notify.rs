//! Status-change notifications: bounded, lossy, never blocking the registry.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
    mpsc::{self, Receiver, RecvError, RecvTimeoutError, SyncSender, TryRecvError, TrySendError},
};
use std::time::{Duration, Instant};

use crate::device::{DeviceId, DeviceStatus};

/// One device moving from one status to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// The device whose status changed.
    pub device: DeviceId,
    /// The status before the change.
    pub from: DeviceStatus,
    /// The status after the change.
    pub to: DeviceStatus,
    /// The `now` passed to the operation that made the change.
    pub at: Instant,
}

/// The receiving end of [`FleetRegistry::subscribe`](super::FleetRegistry::subscribe).
///
/// Changes arrive in the order the registry made them. The channel holds at
/// most [`FleetConfig::subscriber_capacity`](super::FleetConfig) changes;
/// while it is full, further changes are dropped for this subscriber only and
/// counted in [`StatusReceiver::lost`]. Dropping the receiver unsubscribes.
///
/// The blocking methods park the calling thread; from async code use
/// [`StatusReceiver::try_recv`] or run the receiver on a blocking thread.
#[derive(Debug)]
pub struct StatusReceiver {
    rx: Receiver<StatusChange>,
    lost: Arc<AtomicU64>,
}

impl StatusReceiver {
    /// Waits for the next change; fails once the registry is dropped and the
    /// buffer is empty.
    pub fn recv(&self) -> Result<StatusChange, RecvError> {
        self.rx.recv()
    }

    /// Returns a buffered change without waiting.
    pub fn try_recv(&self) -> Result<StatusChange, TryRecvError> {
        self.rx.try_recv()
    }

    /// Waits at most `timeout` for the next change.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<StatusChange, RecvTimeoutError> {
        self.rx.recv_timeout(timeout)
    }

    /// Iterates over the changes buffered right now, without waiting.
    pub fn try_iter(&self) -> impl Iterator<Item = StatusChange> + '_ {
        self.rx.try_iter()
    }

    /// How many changes were dropped because this receiver's buffer was full.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }
}

/// The registry's side of all subscriptions.
#[derive(Debug, Default)]
pub(crate) struct Subscribers {
    senders: Vec<Sender>,
}

#[derive(Debug)]
struct Sender {
    tx: SyncSender<StatusChange>,
    lost: Arc<AtomicU64>,
}

impl Subscribers {
    /// Adds a subscriber whose buffer holds `capacity` changes (at least 1,
    /// because a zero-capacity channel only accepts a change while the
    /// receiver is blocked in `recv`, which would make delivery a race).
    pub(crate) fn subscribe(&mut self, capacity: usize) -> StatusReceiver {
        let (tx, rx) = mpsc::sync_channel(capacity.max(1));
        let lost = Arc::new(AtomicU64::new(0));
        self.senders.push(Sender {
            tx,
            lost: Arc::clone(&lost),
        });
        StatusReceiver { rx, lost }
    }

    /// Offers each change to every subscriber without blocking, counting
    /// drops on full buffers and forgetting receivers that were dropped.
    pub(crate) fn deliver(&mut self, changes: &[StatusChange]) {
        if changes.is_empty() {
            return;
        }
        self.senders.retain(|sender| {
            for change in changes {
                match sender.tx.try_send(change.clone()) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        sender.lost.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(TrySendError::Disconnected(_)) => return false,
                }
            }
            true
        });
    }

    /// Live (or not yet detected as dropped) subscriptions.
    pub(crate) fn len(&self) -> usize {
        self.senders.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(n: u64, base: Instant) -> StatusChange {
        StatusChange {
            device: DeviceId::new("dev-1").unwrap(),
            from: DeviceStatus::Online,
            to: DeviceStatus::Offline,
            at: base + Duration::from_millis(n),
        }
    }

    #[test]
    fn full_buffer_drops_and_counts_without_blocking() {
        let base = Instant::now();
        let mut subs = Subscribers::default();
        let rx = subs.subscribe(2);
        let changes: Vec<_> = (0..5).map(|n| change(n, base)).collect();
        subs.deliver(&changes);
        assert_eq!(rx.lost(), 3);
        let got: Vec<_> = rx.try_iter().collect();
        assert_eq!(got, changes[..2]);
    }

    #[test]
    fn dropped_receivers_are_pruned_on_delivery() {
        let base = Instant::now();
        let mut subs = Subscribers::default();
        let kept = subs.subscribe(4);
        drop(subs.subscribe(4));
        assert_eq!(subs.len(), 2);
        subs.deliver(&[change(0, base)]);
        assert_eq!(subs.len(), 1);
        assert_eq!(kept.try_recv().unwrap(), change(0, base));
    }

    #[test]
    fn zero_capacity_still_buffers_one() {
        let mut subs = Subscribers::default();
        let rx = subs.subscribe(0);
        subs.deliver(&[change(0, Instant::now())]);
        assert!(rx.try_recv().is_ok());
    }
}
