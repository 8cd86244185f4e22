//! The batch service: a cheap, cloneable handle that queues items for the
//! worker.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::{AcquireError, OwnedSemaphorePermit, TryAcquireError, mpsc, oneshot};
use tower_service::Service;

use super::error::BatchError;
use super::future::{ResponseFuture, Tx};
use super::shared::Shared;

/// One item on its way to the worker.
pub(crate) struct Message<Req, T, E, I> {
    pub(crate) req: Req,
    pub(crate) tx: Tx<T, E, I>,
}

type Acquire =
    Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send + Sync>>;

/// Queues each item for a batch and resolves to that item's outcome.
///
/// Made by [`BatchLayer`](super::BatchLayer) (which spawns the worker) or
/// [`BatchLayer::pair`](super::BatchLayer::pair). Clones share the worker
/// and its `max_pending` bound; each clone holds at most one reservation,
/// taken by `poll_ready` and spent by `call`. See the [module docs](super).
pub struct Batch<Req, T, E, I = E> {
    tx: mpsc::UnboundedSender<Message<Req, T, E, I>>,
    shared: Arc<Shared<E>>,
    /// The reservation for the next `call`.
    permit: Option<OwnedSemaphorePermit>,
    /// A wait for a reservation, allocated when the bound is reached.
    acquire: Option<Acquire>,
}

impl<Req, T, E, I> Batch<Req, T, E, I> {
    pub(crate) fn new(
        tx: mpsc::UnboundedSender<Message<Req, T, E, I>>,
        shared: Arc<Shared<E>>,
    ) -> Self {
        Self {
            tx,
            shared,
            permit: None,
            acquire: None,
        }
    }

    /// Items accepted by `call` and not yet handed to the inner service,
    /// by all clones together. Never above `max_pending`.
    pub fn pending(&self) -> usize {
        self.shared.pending()
    }

    /// Whether the worker has stopped (every handle's `poll_ready` now
    /// fails).
    pub fn is_closed(&self) -> bool {
        self.shared.semaphore.is_closed() || self.tx.is_closed()
    }
}

impl<Req, T, E, I> Service<Req> for Batch<Req, T, E, I> {
    type Response = T;
    type Error = BatchError<E, I>;
    type Future = ResponseFuture<T, E, I>;

    /// `Ready(Ok)` once this handle holds a reservation for one item;
    /// `Pending` while `max_pending` items wait (woken in order as batches
    /// leave); `Ready(Err)` with [`BatchError::Closed`] or
    /// [`BatchError::Failed`] once the worker has stopped, for good.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.permit.is_some() {
            return Poll::Ready(Ok(()));
        }
        let acquired = match &mut self.acquire {
            Some(acquire) => match acquire.as_mut().poll(cx) {
                Poll::Ready(acquired) => {
                    self.acquire = None;
                    acquired.ok()
                }
                Poll::Pending => return Poll::Pending,
            },
            None => match Arc::clone(&self.shared.semaphore).try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(TryAcquireError::Closed) => None,
                Err(TryAcquireError::NoPermits) => {
                    let mut acquire: Acquire =
                        Box::pin(Arc::clone(&self.shared.semaphore).acquire_owned());
                    match acquire.as_mut().poll(cx) {
                        Poll::Ready(acquired) => acquired.ok(),
                        Poll::Pending => {
                            self.acquire = Some(acquire);
                            return Poll::Pending;
                        }
                    }
                }
            },
        };
        match acquired {
            Some(permit) => {
                self.permit = Some(permit);
                Poll::Ready(Ok(()))
            }
            None => Poll::Ready(Err(self.shared.stopped())),
        }
    }

    /// Queues `req` for the next batch. Without a reservation from
    /// `poll_ready`, resolves to [`BatchError::NotReady`] and queues
    /// nothing.
    fn call(&mut self, req: Req) -> Self::Future {
        let Some(permit) = self.permit.take() else {
            return not_ready(&self.shared.name);
        };
        // The worker gives the permit back when the item leaves for the
        // inner service.
        permit.forget();
        self.shared.enqueued();
        let (tx, rx) = oneshot::channel();
        match self.tx.send(Message { req, tx }) {
            Ok(()) => ResponseFuture::waiting(rx),
            Err(_) => {
                self.shared.left(1, false);
                ResponseFuture::failed(self.shared.stopped())
            }
        }
    }
}

/// Out of line, so the event's code does not weigh on `call`'s inlining.
#[cold]
#[inline(never)]
fn not_ready<T, E, I>(name: &str) -> ResponseFuture<T, E, I> {
    tracing::debug!(name, "batch: called before poll_ready returned Ready");
    ResponseFuture::failed(BatchError::NotReady)
}

impl<Req, T, E, I> Clone for Batch<Req, T, E, I> {
    /// The clone shares the worker but holds no reservation.
    fn clone(&self) -> Self {
        Self::new(self.tx.clone(), Arc::clone(&self.shared))
    }
}

impl<Req, T, E, I> fmt::Debug for Batch<Req, T, E, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("name", &self.shared.name)
            .field("pending", &self.shared.pending())
            .field("ready", &self.permit.is_some())
            .finish_non_exhaustive()
    }
}
