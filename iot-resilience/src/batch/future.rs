//! The response future: waits for the worker to send this item's outcome.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use super::error::BatchError;

/// Where the worker sends one item's outcome.
pub(crate) type Outcome<T, E> = Result<T, BatchError<E>>;
pub(crate) type Tx<T, E> = oneshot::Sender<Outcome<T, E>>;

/// The future of [`Batch`](super::Batch): resolves to this item's outcome
/// when its batch completes.
///
/// Dropping it does not withdraw the item: an item accepted by `call` is
/// processed with its batch either way (see the [module docs](super)).
pub struct ResponseFuture<T, E> {
    state: State<T, E>,
}

enum State<T, E> {
    Waiting(oneshot::Receiver<Outcome<T, E>>),
    Failed(Option<BatchError<E>>),
}

impl<T, E> ResponseFuture<T, E> {
    pub(crate) fn waiting(rx: oneshot::Receiver<Outcome<T, E>>) -> Self {
        Self {
            state: State::Waiting(rx),
        }
    }

    pub(crate) fn failed(error: BatchError<E>) -> Self {
        Self {
            state: State::Failed(Some(error)),
        }
    }
}

// Nothing is pinned in place: the receiver and the error are moved freely.
impl<T, E> Unpin for ResponseFuture<T, E> {}

impl<T, E> Future for ResponseFuture<T, E> {
    type Output = Outcome<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().state {
            // The sender dropped unsent: the worker (or the batch in flight
            // with this item) is gone.
            State::Waiting(rx) => Pin::new(rx)
                .poll(cx)
                .map(|sent| sent.unwrap_or(Err(BatchError::Closed))),
            State::Failed(error) => Poll::Ready(Err(error
                .take()
                .expect("ResponseFuture polled after completion"))),
        }
    }
}

impl<T, E> fmt::Debug for ResponseFuture<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Waiting(_) => "waiting",
            State::Failed(_) => "failed",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}
