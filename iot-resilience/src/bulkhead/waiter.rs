//! The wait for a permit: a notification registration and a deadline,
//! boxed once per service instance and reused for every wait.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Context;

use pin_project_lite::pin_project;
use tokio::sync::{Notify, futures::OwnedNotified};
use tokio::time::{Instant, Sleep};

pin_project! {
    pub(crate) struct Waiter {
        #[pin]
        notified: OwnedNotified,
        #[pin]
        sleep: Sleep,
    }
}

impl Waiter {
    pub(crate) fn new(notify: &Arc<Notify>, deadline: Instant) -> Self {
        Self {
            notified: Arc::clone(notify).notified_owned(),
            sleep: tokio::time::sleep_until(deadline),
        }
    }

    /// Starts a wait: registers for notifications (so a release between now
    /// and the next permit check is not missed) and sets the deadline.
    pub(crate) fn arm(mut self: Pin<&mut Self>, notify: &Arc<Notify>, deadline: Instant) {
        self.as_mut().rearm(notify);
        self.project().sleep.reset(deadline);
    }

    /// Replaces the registration with a fresh, registered one.
    pub(crate) fn rearm(mut self: Pin<&mut Self>, notify: &Arc<Notify>) {
        self.as_mut().disarm(notify);
        self.project().notified.enable();
    }

    /// Drops the registration (a notification it received unconsumed is
    /// passed on to another waiter) and leaves an unregistered one.
    pub(crate) fn disarm(self: Pin<&mut Self>, notify: &Arc<Notify>) {
        self.project()
            .notified
            .set(Arc::clone(notify).notified_owned());
    }

    /// Whether a release was signalled since the last (re)arm.
    pub(crate) fn poll_notified(self: Pin<&mut Self>, cx: &mut Context<'_>) -> bool {
        self.project().notified.poll(cx).is_ready()
    }

    /// Whether the deadline passed.
    pub(crate) fn poll_expired(self: Pin<&mut Self>, cx: &mut Context<'_>) -> bool {
        self.project().sleep.poll(cx).is_ready()
    }
}
