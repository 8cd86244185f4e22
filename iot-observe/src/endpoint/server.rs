//! A standalone HTTP/1 server for applications without a web framework,
//! on a thread of its own.

use std::any::Any;
use std::convert::Infallible;
use std::future::{Future, ready};
use std::io;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinError, JoinHandle, JoinSet};

use super::{HealthEndpoint, ServerConfig};

/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop
/// does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The server thread's name (15 bytes at most: Linux truncates the rest).
const THREAD_NAME: &str = "health-probes";

/// [`serve_with`] with the default [`ServerConfig`].
///
/// ```
/// use iot_observe::endpoint::{HealthEndpoint, serve};
/// use iot_observe::health::HealthRegistry;
/// use iot_observe::shutdown::Shutdown;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let endpoint = HealthEndpoint::new(HealthRegistry::builder().build().unwrap());
/// let shutdown = Shutdown::new(std::time::Duration::ZERO);
/// let server = serve(([127, 0, 0, 1], 0).into(), endpoint, shutdown.drained()).await?;
/// assert_ne!(server.local_addr().port(), 0);
/// shutdown.trigger();
/// server.await.unwrap();
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// As [`serve_with`].
pub async fn serve<F>(
    addr: SocketAddr,
    endpoint: HealthEndpoint,
    shutdown: F,
) -> io::Result<ServerHandle>
where
    F: Future<Output = ()> + Send + 'static,
{
    serve_with(addr, endpoint, shutdown, &ServerConfig::default()).await
}

/// Binds `addr` (port 0 picks a free port) with `config`'s listen backlog
/// and serves `endpoint` over HTTP/1.1 until `shutdown` completes; then
/// stops accepting, lets open connections finish their current request,
/// and ends.
///
/// **The server runs on a thread of its own** with a single-threaded
/// runtime, not on the caller's runtime: whatever starves the caller's
/// workers (a health check or application code blocking them) cannot delay
/// a probe, so `/health/live` answers as long as the liveness checks pass.
/// Answers come from the registry's cache and take microseconds, so one
/// thread serves thousands of probes a second.
///
/// Returns once bound; the returned [`ServerHandle`] tells the bound address
/// and is a future completing when the server has stopped. `shutdown` is
/// polled on the caller's runtime, by a task that also stops the server at
/// once when it is dropped (with [`ServerHandle::abort`] or when that
/// runtime shuts down), as a server task on that runtime would stop.
///
/// ```
/// use iot_observe::endpoint::{HealthEndpoint, ServerConfig, serve_with};
/// use iot_observe::health::HealthRegistry;
/// use iot_observe::shutdown::Shutdown;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let endpoint = HealthEndpoint::new(HealthRegistry::builder().build().unwrap());
/// let shutdown = Shutdown::new(std::time::Duration::ZERO);
/// let config = ServerConfig::default().backlog(8192);
/// let server = serve_with(([127, 0, 0, 1], 0).into(), endpoint, shutdown.drained(), &config).await?;
/// shutdown.trigger();
/// server.await.unwrap();
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// If the address cannot be bound, or the server thread or its runtime
/// cannot be created.
///
/// # Panics
///
/// Outside a tokio runtime.
pub async fn serve_with<F>(
    addr: SocketAddr,
    endpoint: HealthEndpoint,
    shutdown: F,
    config: &ServerConfig,
) -> io::Result<ServerHandle>
where
    F: Future<Output = ()> + Send + 'static,
{
    let backlog = config.backlog;
    let (stop_tx, stop_rx) = watch::channel(Stop::Running);
    let (bound_tx, bound_rx) = oneshot::channel();
    let (done_tx, done_rx) = oneshot::channel();
    // The runtime is built and dropped on the server thread: dropping a
    // runtime inside the caller's async context would panic.
    std::thread::Builder::new()
        .name(THREAD_NAME.to_owned())
        .spawn(move || {
            let bound = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .enable_time()
                .build()
                .and_then(|runtime| {
                    // Registers the listener with this runtime's reactor.
                    let listener = runtime.block_on(async { listen(addr, backlog) })?;
                    Ok((runtime, listener))
                });
            let (runtime, listener) = match bound {
                Ok(bound) => bound,
                Err(error) => {
                    let _ = bound_tx.send(Err(error));
                    return;
                }
            };
            if bound_tx.send(listener.local_addr()).is_err() {
                return; // `serve_with` was dropped while binding.
            }
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                runtime.block_on(accept_loop(listener, endpoint, stop_rx));
            }));
            // Dropping the runtime here ends any connection task left.
            let _ = done_tx.send(outcome.err());
        })?;
    let local_addr = bound_rx
        .await
        .map_err(|_| io::Error::other("the health server thread ended before binding"))??;
    let task = tokio::spawn(supervise(shutdown, StopOnDrop(stop_tx), done_rx));
    Ok(ServerHandle { local_addr, task })
}

/// A listening socket with `backlog` (`TcpListener::bind` has no way to
/// set it), `SO_REUSEADDR` set off Windows as `TcpListener::bind` does, so
/// a restarted server binds again while old connections sit in TIME_WAIT.
///
/// Errors keep their kind and name the address (an `EADDRINUSE` alone does
/// not say which of a service's ports was taken).
fn listen(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    };
    socket
        .and_then(|socket| {
            #[cfg(not(windows))]
            socket.set_reuseaddr(true)?;
            socket.bind(addr)?;
            socket.listen(backlog)
        })
        .map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("health endpoint: cannot listen on {addr}: {error}"),
            )
        })
}

/// What the server thread is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Running,
    /// Stop accepting; open connections finish their current request.
    Graceful,
    /// Stop now, closing open connections.
    Abort,
}

/// Tells the server thread to stop at once when dropped; after a graceful
/// stop or the server's end it changes nothing.
struct StopOnDrop(watch::Sender<Stop>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.send_replace(Stop::Abort);
    }
}

/// The panic payload of the server thread, if it panicked.
type Panic = Option<Box<dyn Any + Send>>;

/// The task behind [`ServerHandle`], on the caller's runtime: polls
/// `shutdown`, then waits for the server thread to end.
async fn supervise<F>(shutdown: F, stop: StopOnDrop, mut done: oneshot::Receiver<Panic>)
where
    F: Future<Output = ()>,
{
    tokio::select! {
        () = shutdown => {
            stop.0.send_replace(Stop::Graceful);
        }
        ended = &mut done => return propagate(ended),
    }
    propagate(done.await);
}

/// Re-raises a panic of the server thread in the supervising task, so the
/// [`ServerHandle`] reports it as a `JoinError`, as it would have for a
/// server task.
fn propagate(ended: Result<Panic, oneshot::error::RecvError>) {
    if let Ok(Some(payload)) = ended {
        std::panic::resume_unwind(payload);
    }
}

/// A running [`serve`] server: its address, and a future that completes
/// when it has stopped (an error only if the server panicked or was
/// aborted).
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl ServerHandle {
    /// The bound address (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops the server at once, closing open connections.
    pub fn abort(&self) {
        self.task.abort();
    }
}

impl Future for ServerHandle {
    type Output = Result<(), JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.task).poll(cx)
    }
}

/// Runs on the server thread until told to stop (a dropped sender, which
/// cannot outlive the supervising task, counts as an abort).
async fn accept_loop(
    listener: TcpListener,
    endpoint: HealthEndpoint,
    mut stop: watch::Receiver<Stop>,
) {
    let for_connections = stop.clone();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop != Stop::Running) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(stream, endpoint.clone(), for_connections.clone()));
                }
                Err(error) => {
                    tracing::warn!(%error, "health endpoint: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    // Graceful: let connections finish, unless an abort comes meanwhile;
    // returning drops the set, which aborts whatever is left.
    let drained = async { while connections.join_next().await.is_some() {} };
    tokio::select! {
        () = drained => {}
        _ = stop.wait_for(|stop| *stop == Stop::Abort) => {}
    }
}

async fn serve_connection(
    stream: TcpStream,
    endpoint: HealthEndpoint,
    mut stop: watch::Receiver<Stop>,
) {
    let service = service_fn(move |request| ready(Ok::<_, Infallible>(endpoint.respond(&request))));
    let mut builder = http1::Builder::new();
    // The timer enables hyper's header read timeout (30 s), which keeps a
    // stalled client from holding a connection forever.
    builder.timer(TokioTimer::new());
    let mut connection = pin!(builder.serve_connection(TokioIo::new(stream), service));
    let stopped = async move {
        // An error means the server is gone: stop as well.
        let _ = stop.wait_for(|stop| *stop != Stop::Running).await;
    };
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stopped => {
            // Finish the request in progress, then close.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "health endpoint: connection error");
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::net::TcpStream as StdStream;
    use std::time::Duration;

    use super::listen;

    /// How many of `attempts` connections complete their handshake with a
    /// listener that never accepts: the backlog (plus one, on Linux) when
    /// it is the limit. Connections beyond it get no SYN-ACK and time out.
    fn connections_queued(backlog: u32, attempts: usize) -> usize {
        let listener = listen(([127, 0, 0, 1], 0).into(), backlog).unwrap();
        let addr = listener.local_addr().unwrap();
        let open: Vec<StdStream> = (0..attempts)
            .filter_map(|_| StdStream::connect_timeout(&addr, Duration::from_millis(150)).ok())
            .collect();
        let queued = open.len();
        drop(listener);
        queued
    }

    #[tokio::test]
    async fn the_backlog_setting_reaches_the_socket() {
        // With a backlog of 2, at most 3 of 10 get through (Linux queues
        // backlog + 1); with the default, all 10 do.
        let small = connections_queued(2, 10);
        assert!(
            (1..=3).contains(&small),
            "{small} of 10 queued with a backlog of 2"
        );
        assert_eq!(
            connections_queued(super::ServerConfig::DEFAULT_BACKLOG, 10),
            10
        );
    }
}
