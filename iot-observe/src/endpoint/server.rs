//! A standalone HTTP/1 server for applications without a web framework.

use std::convert::Infallible;
use std::future::{Future, ready};
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinError, JoinHandle, JoinSet};

use super::HealthEndpoint;

/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop
/// does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Binds `addr` (port 0 picks a free port) and serves `endpoint` over
/// HTTP/1.1 until `shutdown` completes; then stops accepting, lets open
/// connections finish their current request, and ends.
///
/// Returns once bound; the returned [`ServerHandle`] tells the bound address
/// and is a future completing when the server has stopped.
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
/// If the address cannot be bound.
pub async fn serve<F>(
    addr: SocketAddr,
    endpoint: HealthEndpoint,
    shutdown: F,
) -> io::Result<ServerHandle>
where
    F: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind(addr).await?;
    let local_addr = listener.local_addr()?;
    let task = tokio::spawn(accept_loop(listener, endpoint, shutdown));
    Ok(ServerHandle { local_addr, task })
}

/// A running [`serve`] server: its address, and a future that completes
/// when it has stopped (an error only if the server task panicked or was
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

async fn accept_loop<F>(listener: TcpListener, endpoint: HealthEndpoint, shutdown: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(stream, endpoint.clone(), stop_rx.clone()));
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
    let _ = stop_tx.send(true);
    while connections.join_next().await.is_some() {}
}

async fn serve_connection(
    stream: TcpStream,
    endpoint: HealthEndpoint,
    mut stop: watch::Receiver<bool>,
) {
    let service = service_fn(move |request| ready(Ok::<_, Infallible>(endpoint.respond(&request))));
    let mut builder = http1::Builder::new();
    // The timer enables hyper's header read timeout (30 s), which keeps a
    // stalled client from holding a connection forever.
    builder.timer(TokioTimer::new());
    let mut connection = pin!(builder.serve_connection(TokioIo::new(stream), service));
    let stopped = async move {
        // An error means the server is gone: stop as well.
        let _ = stop.wait_for(|stop| *stop).await;
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
