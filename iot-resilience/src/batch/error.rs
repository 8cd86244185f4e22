//! The batch layer's error, and why a batch was flushed.

use std::fmt;
use std::sync::Arc;

use crate::{Hint, RetryHint};

/// The error of [`Batch`](super::Batch), resolved for one caller's item.
///
/// `I` is the type of the inner service's per-item errors (the `Err` of an
/// outcome in its response), `E` its error type (a whole batch failed).
/// They are often the same (the default); they differ when batch-level
/// middleware sits between the batch layer and the sink, e.g. a timeout
/// whose `TimeoutError<E>` fails a batch while rows are still rejected
/// with the sink's own error. Errors that every item of a batch shares are
/// behind an `Arc`, one allocation for the whole batch.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError<E, I = E> {
    /// The inner service processed the batch and rejected this item (its
    /// outcome was `Err`); the other items of the batch have their own
    /// outcomes.
    #[error(transparent)]
    Item(I),
    /// The inner service's call for this item's batch failed as a whole:
    /// every item of the batch gets the same error. Whether any of the
    /// batch was applied is for the inner service to say.
    #[error("the batch failed: {0}")]
    Batch(Arc<E>),
    /// The inner service's `poll_ready` failed. The worker has stopped:
    /// this item was never handed to the inner service, and every later
    /// call gets the same error.
    #[error("the batch service failed: {0}")]
    Failed(Arc<E>),
    /// The inner service returned `outcomes` outcomes for a batch of
    /// `items` items: they cannot be matched to the callers, so every item
    /// of the batch gets this error. The batch may have been applied.
    #[error("the inner service returned {outcomes} outcomes for a batch of {items} items")]
    Mismatch {
        /// Items in the batch.
        items: usize,
        /// Outcomes the inner service returned.
        outcomes: usize,
    },
    /// The worker is gone (its task was dropped or panicked, or the
    /// runtime shut down) before this item's outcome was known. An item
    /// that had been handed to the inner service may have been applied.
    #[error("the batch worker is gone")]
    Closed,
    /// `call` was invoked without `poll_ready` returning `Ready(Ok)`
    /// first; the item was not queued.
    #[error("the batch service was called before it was ready")]
    NotReady,
}

impl<E, I> BatchError<E, I> {
    /// The inner service's error for this very item, if that is what this
    /// is.
    pub fn into_item(self) -> Option<I> {
        match self {
            Self::Item(e) => Some(e),
            _ => None,
        }
    }

    /// The inner service's error shared by this item's batch
    /// ([`Batch`](Self::Batch)) or by every item since the service failed
    /// ([`Failed`](Self::Failed)).
    pub fn shared_error(&self) -> Option<&E> {
        match self {
            Self::Batch(e) | Self::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the worker has stopped: this handle will not work again.
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed | Self::Failed(_))
    }
}

impl<E, I: Clone> Clone for BatchError<E, I> {
    fn clone(&self) -> Self {
        match self {
            Self::Item(e) => Self::Item(e.clone()),
            Self::Batch(e) => Self::Batch(Arc::clone(e)),
            Self::Failed(e) => Self::Failed(Arc::clone(e)),
            &Self::Mismatch { items, outcomes } => Self::Mismatch { items, outcomes },
            Self::Closed => Self::Closed,
            Self::NotReady => Self::NotReady,
        }
    }
}

impl<E: PartialEq, I: PartialEq> PartialEq for BatchError<E, I> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Item(a), Self::Item(b)) => a == b,
            (Self::Batch(a), Self::Batch(b)) | (Self::Failed(a), Self::Failed(b)) => a == b,
            (
                Self::Mismatch { items, outcomes },
                Self::Mismatch {
                    items: i,
                    outcomes: o,
                },
            ) => items == i && outcomes == o,
            (Self::Closed, Self::Closed) | (Self::NotReady, Self::NotReady) => true,
            _ => false,
        }
    }
}

impl<E: RetryHint, I: RetryHint> RetryHint for BatchError<E, I> {
    /// Inner errors keep their hint. A stopped worker, misuse and a
    /// mismatch (the batch may have been applied) say `DoNotRetry`.
    fn retry_hint(&self) -> Hint {
        match self {
            Self::Item(e) => e.retry_hint(),
            Self::Batch(e) => e.retry_hint(),
            Self::Failed(_) | Self::Mismatch { .. } | Self::Closed | Self::NotReady => {
                Hint::DoNotRetry
            }
        }
    }
}

/// Why a batch was flushed: the `reason` label of
/// `resilience_batch_flushes_total` and the `reason` field of the batch's
/// span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FlushReason {
    /// The batch held `max_items` items.
    Count,
    /// The batch reached `max_bytes`, or the next item would have taken it
    /// past that.
    Bytes,
    /// The batch's first item had waited `max_age`.
    Age,
    /// Every handle was dropped: what was pending is flushed.
    Close,
}

impl FlushReason {
    /// Every reason, in label order.
    pub const ALL: [Self; 4] = [Self::Count, Self::Bytes, Self::Age, Self::Close];

    /// `count`, `bytes`, `age` or `close`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Count => "count",
            Self::Bytes => "bytes",
            Self::Age => "age",
            Self::Close => "close",
        }
    }
}

impl fmt::Display for FlushReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
