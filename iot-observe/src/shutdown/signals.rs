//! SIGTERM and Ctrl-C.

use std::io;

use tokio::task::JoinHandle;

use super::Shutdown;

#[cfg_attr(docsrs, doc(cfg(feature = "signal")))]
impl Shutdown {
    /// Installs handlers for SIGTERM and SIGINT (Ctrl-C; Ctrl-C only off
    /// Unix) and spawns a task that [`trigger`](Self::trigger)s on the first
    /// signal and calls [`finish_now`](Self::finish_now) on the second.
    ///
    /// On Unix the handlers are installed before this returns, so a signal
    /// sent afterwards is never missed. From then on these signals no longer
    /// terminate the process by themselves: the application must exit once
    /// [`drained`](Self::drained) completes.
    ///
    /// # Errors
    ///
    /// If a handler cannot be installed.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn listen_for_signals(&self) -> io::Result<JoinHandle<()>> {
        let mut signals = Signals::install()?;
        let this = self.clone();
        Ok(tokio::spawn(async move {
            let Some(name) = signals.next().await else {
                return;
            };
            tracing::info!(signal = name, "shutdown signal received");
            this.trigger();
            let Some(name) = signals.next().await else {
                return;
            };
            tracing::warn!(
                signal = name,
                "second shutdown signal: ending the drain now"
            );
            this.finish_now();
        }))
    }
}

#[cfg(unix)]
struct Signals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// The next signal's name; `None` once signals can no longer arrive.
    async fn next(&mut self) -> Option<&'static str> {
        tokio::select! {
            received = self.terminate.recv() => received.map(|()| "SIGTERM"),
            received = self.interrupt.recv() => received.map(|()| "SIGINT"),
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> io::Result<Self> {
        Ok(Self)
    }

    async fn next(&mut self) -> Option<&'static str> {
        tokio::signal::ctrl_c().await.ok().map(|()| "Ctrl-C")
    }
}
