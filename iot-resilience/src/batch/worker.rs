//! The worker: owns the inner service, gathers queued items into batches,
//! calls the inner service and sends each caller its item's outcome.

use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use super::error::{BatchError, FlushReason};
use super::future::Tx;
use super::service::Message;
use super::shared::Shared;
use super::weigh::Weigh;

/// The limits the worker applies, from the configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_items: usize,
    pub(crate) max_bytes: Option<usize>,
    pub(crate) max_age: Duration,
    pub(crate) max_concurrent_batches: usize,
}

impl Limits {
    /// Room reserved for a new batch: enough for a full one, within reason.
    fn capacity(&self) -> usize {
        self.max_items.min(1024)
    }
}

/// The task behind a [`Batch`](super::Batch) and its clones.
///
/// [`BatchLayer`](super::BatchLayer) spawns it on the tokio runtime;
/// [`BatchLayer::pair`](super::BatchLayer::pair) returns it to be run some
/// other way (it needs tokio's timer). It completes when every handle is
/// gone and every item has its outcome. Dropping it before then resolves
/// the callers still waiting to [`BatchError::Closed`].
pub struct Worker<S, Req, T, I, W>
where
    S: Service<Vec<Req>>,
{
    inner: S,
    rx: mpsc::UnboundedReceiver<Msg<S, Req, T, I>>,
    shared: Arc<Shared<S::Error>>,
    weigher: W,
    limits: Limits,
    /// The open batch, in arrival order.
    items: Vec<Req>,
    txs: Vec<Tx<T, S::Error, I>>,
    bytes: usize,
    /// When the open batch is due (its first item's arrival + `max_age`);
    /// `None` while it is empty, for a zero age, or past the clock's range.
    deadline: Option<Instant>,
    /// The timer for `deadline`, allocated on first use and reset after.
    sleep: Option<Pin<Box<Sleep>>>,
    /// An item taken from the queue that did not fit the open batch by
    /// weight: the first of the next one.
    carry: Option<Weighed<Msg<S, Req, T, I>>>,
    /// The open batch is complete and waits for a slot and the inner
    /// service's readiness.
    sealed: Option<FlushReason>,
    in_flight: Vec<InFlight<S::Future, T, S::Error, I>>,
    /// Every handle is gone and the queue is empty.
    closed: bool,
    /// The inner service's `poll_ready` failed: nothing more is dispatched.
    failed: Option<Arc<S::Error>>,
}

/// A queued item of the worker of `S`.
type Msg<S, Req, T, I> = Message<Req, T, <S as Service<Vec<Req>>>::Error, I>;

/// An item with its weight.
struct Weighed<M> {
    msg: M,
    weight: usize,
}

/// A batch in the inner service, with its callers in the batch's order.
struct InFlight<F, T, E, I> {
    future: Pin<Box<F>>,
    txs: Vec<Tx<T, E, I>>,
    span: tracing::Span,
}

impl<S, Req, T, I, W> Worker<S, Req, T, I, W>
where
    S: Service<Vec<Req>>,
{
    pub(crate) fn new(
        inner: S,
        rx: mpsc::UnboundedReceiver<Msg<S, Req, T, I>>,
        shared: Arc<Shared<S::Error>>,
        weigher: W,
        limits: Limits,
    ) -> Self {
        Self {
            inner,
            rx,
            shared,
            weigher,
            limits,
            items: Vec::new(),
            txs: Vec::new(),
            bytes: 0,
            deadline: None,
            sleep: None,
            carry: None,
            sealed: None,
            in_flight: Vec::new(),
            closed: false,
            failed: None,
        }
    }

    /// Puts an item in the open batch; seals it when full.
    fn add(&mut self, msg: Msg<S, Req, T, I>, weight: usize) {
        if self.items.is_empty() {
            self.items.reserve(self.limits.capacity());
            self.txs.reserve(self.limits.capacity());
            if !self.limits.max_age.is_zero() {
                self.deadline = Instant::now().checked_add(self.limits.max_age);
                if let Some(deadline) = self.deadline {
                    match &mut self.sleep {
                        Some(sleep) => sleep.as_mut().reset(deadline),
                        None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
                    }
                }
            }
        }
        self.items.push(msg.req);
        self.txs.push(msg.tx);
        self.bytes = self.bytes.saturating_add(weight);
        if self.items.len() >= self.limits.max_items {
            self.sealed = Some(FlushReason::Count);
        } else if self.limits.max_bytes.is_some_and(|max| self.bytes >= max) {
            self.sealed = Some(FlushReason::Bytes);
        }
    }

    /// Takes queued items into the open batch until it is sealed or the
    /// queue is empty, then checks the age. Returns whether it is sealed.
    fn fill(&mut self, cx: &mut Context<'_>) -> bool
    where
        W: Weigh<Req>,
    {
        if let Some(Weighed { msg, weight }) = self.carry.take() {
            self.add(msg, weight);
        }
        while self.sealed.is_none() && !self.closed {
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(msg)) => {
                    let Some(max_bytes) = self.limits.max_bytes else {
                        self.add(msg, 0);
                        continue;
                    };
                    let weight = self.weigher.weigh(&msg.req);
                    if !self.items.is_empty() && self.bytes.saturating_add(weight) > max_bytes {
                        self.carry = Some(Weighed { msg, weight });
                        self.sealed = Some(FlushReason::Bytes);
                    } else {
                        self.add(msg, weight);
                    }
                }
                Poll::Ready(None) => self.closed = true,
                Poll::Pending => break,
            }
        }
        if self.sealed.is_some() || self.items.is_empty() {
            return self.sealed.is_some();
        }
        let due = if self.closed {
            Some(FlushReason::Close)
        } else if self.limits.max_age.is_zero() {
            Some(FlushReason::Age)
        } else {
            let expired = match (self.deadline, &mut self.sleep) {
                (Some(_), Some(sleep)) => sleep.as_mut().poll(cx).is_ready(),
                _ => false,
            };
            expired.then_some(FlushReason::Age)
        };
        self.sealed = due;
        due.is_some()
    }

    /// Hands the sealed batch to the inner service (which is ready).
    fn dispatch(&mut self, reason: FlushReason) {
        let items = mem::take(&mut self.items);
        let txs = mem::take(&mut self.txs);
        let bytes = mem::take(&mut self.bytes);
        self.deadline = None;
        self.sealed = None;
        let n = items.len();
        self.shared.metrics.flushed(n, reason);
        let span = tracing::debug_span!(
            "batch",
            name = %self.shared.name,
            items = n,
            bytes,
            reason = reason.as_str(),
        );
        let future = span.in_scope(|| {
            tracing::trace!("batch: flushed to the inner service");
            self.inner.call(items)
        });
        // The items are the inner service's now: their places are free.
        self.shared.left(n, true);
        self.in_flight.push(InFlight {
            future: Box::pin(future),
            txs,
            span,
        });
    }

    /// Polls every batch in flight; sends the outcomes of those done.
    fn poll_in_flight(&mut self, cx: &mut Context<'_>)
    where
        S: Service<Vec<Req>, Response = Vec<Result<T, I>>>,
    {
        let mut i = 0;
        while i < self.in_flight.len() {
            let batch = &mut self.in_flight[i];
            let polled = batch.span.in_scope(|| batch.future.as_mut().poll(cx));
            match polled {
                Poll::Pending => i += 1,
                Poll::Ready(outcome) => {
                    let InFlight { txs, span, .. } = self.in_flight.remove(i);
                    span.in_scope(|| route(outcome, txs));
                }
            }
        }
    }

    /// The inner service's `poll_ready` failed: every pending item, now and
    /// later, gets the error; batches in flight still complete.
    fn fail(&mut self, error: S::Error) {
        tracing::warn!(
            name = %self.shared.name,
            "batch: the inner service failed in poll_ready; the worker stops"
        );
        let error = Arc::new(error);
        self.shared.fail(Arc::clone(&error));
        self.rx.close();
        self.items.clear();
        self.bytes = 0;
        self.deadline = None;
        self.sealed = None;
        let txs = mem::take(&mut self.txs);
        let carried = self.carry.take().map(|carried| carried.msg.tx);
        self.shared
            .left(txs.len() + usize::from(carried.is_some()), false);
        for tx in txs.into_iter().chain(carried) {
            let _ = tx.send(Err(BatchError::Failed(Arc::clone(&error))));
        }
        self.failed = Some(error);
    }

    /// After a failure: answers what is still queued.
    fn drain_failed(&mut self, cx: &mut Context<'_>, error: &Arc<S::Error>) {
        while let Poll::Ready(msg) = self.rx.poll_recv(cx) {
            let Some(msg) = msg else {
                self.closed = true;
                return;
            };
            self.shared.left(1, false);
            let _ = msg.tx.send(Err(BatchError::Failed(Arc::clone(error))));
        }
    }
}

/// Sends each caller its item's outcome.
fn route<T, E, I>(outcome: Result<Vec<Result<T, I>>, E>, txs: Vec<Tx<T, E, I>>) {
    match outcome {
        Ok(outcomes) if outcomes.len() == txs.len() => {
            tracing::trace!("batch: done");
            for (tx, outcome) in txs.into_iter().zip(outcomes) {
                let _ = tx.send(outcome.map_err(BatchError::Item));
            }
        }
        Ok(outcomes) => {
            let (items, outcomes) = (txs.len(), outcomes.len());
            tracing::warn!(
                outcomes,
                "batch: the inner service returned a different number of outcomes than items"
            );
            for tx in txs {
                let _ = tx.send(Err(BatchError::Mismatch { items, outcomes }));
            }
        }
        Err(error) => {
            tracing::debug!("batch: the inner service failed the whole batch");
            let error = Arc::new(error);
            for tx in txs {
                let _ = tx.send(Err(BatchError::Batch(Arc::clone(&error))));
            }
        }
    }
}

impl<S, Req, T, I, W> Future for Worker<S, Req, T, I, W>
where
    S: Service<Vec<Req>, Response = Vec<Result<T, I>>>,
    W: Weigh<Req>,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            this.poll_in_flight(cx);
            if let Some(error) = this.failed.clone() {
                this.drain_failed(cx, &error);
            } else if let Some(reason) = this.sealed {
                if this.in_flight.len() >= this.limits.max_concurrent_batches {
                    // A completing batch wakes us.
                    return Poll::Pending;
                }
                match this.inner.poll_ready(cx) {
                    Poll::Ready(Ok(())) => this.dispatch(reason),
                    Poll::Ready(Err(error)) => this.fail(error),
                    Poll::Pending => return Poll::Pending,
                }
                // Poll the new batch once, then take more items.
                continue;
            } else if this.fill(cx) {
                continue;
            }
            let idle = this.items.is_empty() && this.carry.is_none();
            return if this.closed && idle && this.in_flight.is_empty() {
                tracing::trace!(name = %this.shared.name, "batch: worker done");
                Poll::Ready(())
            } else {
                Poll::Pending
            };
        }
    }
}

// Nothing is ever pinned in place inside the worker: futures and the timer
// are boxed.
impl<S, Req, T, I, W> Unpin for Worker<S, Req, T, I, W> where S: Service<Vec<Req>> {}

impl<S, Req, T, I, W> Drop for Worker<S, Req, T, I, W>
where
    S: Service<Vec<Req>>,
{
    /// Wakes every waiting handle with the news; callers whose items are
    /// queued or in flight see their senders dropped ([`BatchError::Closed`]).
    fn drop(&mut self) {
        self.shared.close();
        self.rx.close();
        let mut left = self.txs.len() + usize::from(self.carry.is_some());
        while self.rx.try_recv().is_ok() {
            left += 1;
        }
        self.shared.left(left, false);
    }
}

impl<S, Req, T, I, W> fmt::Debug for Worker<S, Req, T, I, W>
where
    S: Service<Vec<Req>> + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("inner", &self.inner)
            .field("name", &self.shared.name)
            .field("limits", &self.limits)
            .field("open_items", &self.items.len())
            .field("in_flight", &self.in_flight.len())
            .field("closed", &self.closed)
            .field("failed", &self.failed.is_some())
            .finish_non_exhaustive()
    }
}
