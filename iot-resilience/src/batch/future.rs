//! The response future: waits for the worker to send this item's outcome.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use super::error::BatchError;

/// Where the worker sends one item's outcome.
pub(crate) type Outcome<T, E, I> = Result<T, BatchError<E, I>>;
pub(crate) type Tx<T, E, I> = oneshot::Sender<Outcome<T, E, I>>;

/// The future of [`Batch`](super::Batch): resolves to this item's outcome
/// when its batch completes.
///
/// Dropping it does not withdraw the item: an item accepted by `call` is
/// processed with its batch either way (see the [module docs](super)).
pub struct ResponseFuture<T, E, I = E> {
    state: State<T, E, I>,
}

enum State<T, E, I> {
    Waiting(oneshot::Receiver<Outcome<T, E, I>>),
    Failed(Option<BatchError<E, I>>),
}

impl<T, E, I> ResponseFuture<T, E, I> {
    pub(crate) fn waiting(rx: oneshot::Receiver<Outcome<T, E, I>>) -> Self {
        Self {
            state: State::Waiting(rx),
        }
    }

    pub(crate) fn failed(error: BatchError<E, I>) -> Self {
        Self {
            state: State::Failed(Some(error)),
        }
    }
}

// Nothing is pinned in place: the receiver and the error are moved freely.
impl<T, E, I> Unpin for ResponseFuture<T, E, I> {}

impl<T, E, I> Future for ResponseFuture<T, E, I> {
    type Output = Outcome<T, E, I>;

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

impl<T, E, I> fmt::Debug for ResponseFuture<T, E, I> {
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
