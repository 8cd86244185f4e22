//! The drain state machine: running, draining for a period, drained.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};

/// Where a [`Shutdown`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownPhase {
    /// Not triggered: serving normally.
    Running,
    /// Triggered: readiness fails, in-flight and late-routed work is still
    /// served until the drain period ends.
    Draining,
    /// The drain period is over: stop accepting work and exit.
    Drained,
}

/// Graceful drain. Cheap to clone; all clones share one state.
///
/// [`trigger`](Self::trigger) (or SIGTERM / Ctrl-C, see
/// `listen_for_signals`, feature `signal`) starts draining: the
/// registered `"shutdown:draining"` readiness check fails at once, so load
/// balancers stop sending traffic, while liveness keeps passing so nothing
/// restarts the instance. After the drain period, [`drained`](Self::drained)
/// completes; hand it to the server's graceful shutdown.
///
/// ```
/// use std::time::Duration;
/// use iot_observe::shutdown::{Shutdown, ShutdownPhase};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let shutdown = Shutdown::new(Duration::from_secs(5));
/// let drained = tokio::spawn(shutdown.drained());
/// shutdown.trigger();
/// assert_eq!(shutdown.phase(), ShutdownPhase::Draining);
/// tokio::time::sleep(Duration::from_secs(5)).await;
/// drained.await.unwrap();
/// assert_eq!(shutdown.phase(), ShutdownPhase::Drained);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// When the drain ends. A watch channel so every waiter sees the
    /// trigger and a later [`Shutdown::finish_now`].
    deadline: watch::Sender<Deadline>,
    drain_period: Duration,
}

/// When the drain ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deadline {
    /// Not triggered.
    None,
    /// Triggered; drained from this instant on.
    At(Instant),
    /// Triggered with a drain period too long to end at any representable
    /// instant (`Duration::MAX`): drains until [`Shutdown::finish_now`].
    Never,
}

impl Default for Shutdown {
    /// [`Shutdown::DEFAULT_DRAIN_PERIOD`].
    fn default() -> Self {
        Self::new(Self::DEFAULT_DRAIN_PERIOD)
    }
}

impl Shutdown {
    /// 5 s: enough for endpoint removal to reach the load balancers in a
    /// typical cluster, well inside Kubernetes' default 30 s grace period.
    pub const DEFAULT_DRAIN_PERIOD: Duration = Duration::from_secs(5);

    /// The name to register the draining check under.
    pub const CHECK_NAME: &'static str = "shutdown:draining";

    /// A controller that drains for `drain_period` once triggered.
    ///
    /// A period too long to end at a representable instant (such as
    /// `Duration::MAX`) drains until [`finish_now`](Self::finish_now).
    pub fn new(drain_period: Duration) -> Self {
        let (deadline, _) = watch::channel(Deadline::None);
        Self {
            inner: Arc::new(Inner {
                deadline,
                drain_period,
            }),
        }
    }

    /// The drain period.
    pub fn drain_period(&self) -> Duration {
        self.inner.drain_period
    }

    /// Starts draining; returns `false` if already triggered (the drain
    /// deadline does not move).
    pub fn trigger(&self) -> bool {
        let period = self.inner.drain_period;
        let started = self.inner.deadline.send_if_modified(|deadline| {
            if *deadline != Deadline::None {
                return false;
            }
            // `Instant + Duration` panics past the clock's range.
            *deadline = Instant::now()
                .checked_add(period)
                .map_or(Deadline::Never, Deadline::At);
            true
        });
        if started {
            tracing::info!(drain_period = ?period, "shutdown triggered: readiness fails, draining");
        }
        started
    }

    /// Ends the drain now (triggering first if needed): for a second signal
    /// or an operator who cannot wait.
    pub fn finish_now(&self) {
        let now = Instant::now();
        self.inner
            .deadline
            .send_if_modified(|deadline| match *deadline {
                Deadline::At(end) if end <= now => false,
                _ => {
                    *deadline = Deadline::At(now);
                    true
                }
            });
    }

    /// The current phase.
    pub fn phase(&self) -> ShutdownPhase {
        match *self.inner.deadline.borrow() {
            Deadline::None => ShutdownPhase::Running,
            Deadline::At(end) if Instant::now() < end => ShutdownPhase::Draining,
            Deadline::Never => ShutdownPhase::Draining,
            Deadline::At(_) => ShutdownPhase::Drained,
        }
    }

    /// Whether shutdown has been triggered (draining or drained).
    pub fn is_triggered(&self) -> bool {
        *self.inner.deadline.borrow() != Deadline::None
    }

    /// Completes when shutdown is triggered.
    pub fn triggered(&self) -> impl Future<Output = ()> + Send + 'static {
        let this = self.clone();
        let mut rx = self.inner.deadline.subscribe();
        async move {
            // `this` keeps the sender alive, so `changed` never errors.
            let _keep = this;
            while *rx.borrow_and_update() == Deadline::None {
                let _ = rx.changed().await;
            }
        }
    }

    /// Completes when the drain period after the trigger is over (at once
    /// after [`finish_now`](Self::finish_now)). `Send + 'static`, for
    /// `axum::serve(..).with_graceful_shutdown(..)` and other servers.
    pub fn drained(&self) -> impl Future<Output = ()> + Send + 'static {
        let this = self.clone();
        let mut rx = self.inner.deadline.subscribe();
        async move {
            let _keep = this;
            loop {
                // Copy out: the borrow guard must not live across an await.
                let deadline = *rx.borrow_and_update();
                match deadline {
                    // Nothing to wait for but a change: the trigger, or
                    // `finish_now` ending an endless drain.
                    Deadline::None | Deadline::Never => {
                        let _ = rx.changed().await;
                    }
                    Deadline::At(end) => {
                        tokio::select! {
                            () = sleep_until(end) => return,
                            // `finish_now` may have moved the deadline.
                            _ = rx.changed() => {}
                        }
                    }
                }
            }
        }
    }
}
