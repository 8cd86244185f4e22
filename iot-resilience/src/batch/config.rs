//! Batch configuration: when a batch is flushed, how many run at once, and
//! how many items may wait.

use std::borrow::Cow;
use std::time::Duration;

use crate::ConfigError;

/// The most batches [`max_concurrent_batches`](BatchConfig::max_concurrent_batches)
/// accepts: the worker polls every batch in flight when it wakes, which
/// stays cheap only for a few dozen.
pub const MAX_CONCURRENT_BATCHES: usize = 64;

/// Configuration of a [`BatchLayer`](super::BatchLayer).
///
/// A batch is flushed (handed to the inner service) when it holds
/// `max_items` items, when its items weigh `max_bytes` (with a weigher),
/// when its first item has waited `max_age`, or when every handle is gone.
///
/// With serde, JSON looks like `{"name": "db", "max_items": 500,
/// "max_bytes": 1048576, "max_age": "20ms", "max_concurrent_batches": 1,
/// "max_pending": 5000}`; missing fields take their defaults.
/// Durations are strings in [the iot-rs duration format](iot_duration)
/// (`"250ms"`, `"1.5s"`, `"1m30s"`) or integer milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct BatchConfig {
    /// The `name` label of metrics and tracing events. Default: `"batch"`.
    pub name: Cow<'static, str>,
    /// A batch is flushed when it holds this many items. Must be at least
    /// 1. Default: 100.
    pub max_items: usize,
    /// A batch is flushed when its items weigh this much in total, as the
    /// layer's weigher counts (bytes, rows, parameters: whatever the
    /// backend limits). An item that would take a batch past it starts the
    /// next batch instead; an item heavier than the limit alone goes in a
    /// batch of its own. `None` (the default): no weight limit. Setting it
    /// requires a weigher ([`BatchLayer::with_weigher`](super::BatchLayer::with_weigher)).
    pub max_bytes: Option<usize>,
    /// A batch is flushed when its first item has waited this long in the
    /// worker. Zero flushes as soon as the worker has taken every item
    /// already queued (batches form only under load). tokio's timer has
    /// millisecond resolution, so an age below 1 ms waits for the next
    /// millisecond tick. Default: 10 ms.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub max_age: Duration,
    /// How many batches may be in the inner service at once. With 1 (the
    /// default) batches reach it one after another, in order, each after
    /// the previous one completed. At most [`MAX_CONCURRENT_BATCHES`].
    pub max_concurrent_batches: usize,
    /// How many items may wait for a batch (accepted by `call` or reserved
    /// by a ready handle, and not yet handed to the inner service). At the
    /// bound, `poll_ready` is `Pending`. Must be at least `max_items`.
    /// Default: 1,000.
    pub max_pending: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            name: Cow::Borrowed("batch"),
            max_items: 100,
            max_bytes: None,
            max_age: Duration::from_millis(10),
            max_concurrent_batches: 1,
            max_pending: 1_000,
        }
    }
}

impl BatchConfig {
    /// Batches of at most `max_items`, flushed after at most `max_age`;
    /// `max_pending` is raised to `10 * max_items` if it is below that.
    pub fn new(max_items: usize, max_age: Duration) -> Self {
        let default = Self::default();
        Self {
            max_items,
            max_age,
            max_pending: default.max_pending.max(max_items.saturating_mul(10)),
            ..default
        }
    }

    /// Sets [`name`](Self::name).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets [`max_items`](Self::max_items).
    pub fn max_items(mut self, max_items: usize) -> Self {
        self.max_items = max_items;
        self
    }

    /// Sets [`max_bytes`](Self::max_bytes).
    pub fn max_bytes(mut self, max_bytes: impl Into<Option<usize>>) -> Self {
        self.max_bytes = max_bytes.into();
        self
    }

    /// Sets [`max_age`](Self::max_age).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Sets [`max_concurrent_batches`](Self::max_concurrent_batches).
    pub fn max_concurrent_batches(mut self, max_concurrent_batches: usize) -> Self {
        self.max_concurrent_batches = max_concurrent_batches;
        self
    }

    /// Sets [`max_pending`](Self::max_pending).
    pub fn max_pending(mut self, max_pending: usize) -> Self {
        self.max_pending = max_pending;
        self
    }

    /// Checks every field; the error names the field and the bad value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let field = |name: &'static str, message: String| Err(ConfigError::new(name, message));
        if self.name.is_empty() {
            return field("batch.name", "the name must not be empty".into());
        }
        if self.max_items == 0 {
            return field("batch.max_items", "0 is not at least 1".into());
        }
        if self.max_bytes == Some(0) {
            return field(
                "batch.max_bytes",
                "0 is not at least 1 (leave it out for no weight limit)".into(),
            );
        }
        if !(1..=MAX_CONCURRENT_BATCHES).contains(&self.max_concurrent_batches) {
            return field(
                "batch.max_concurrent_batches",
                format!(
                    "{} is not between 1 and {MAX_CONCURRENT_BATCHES}",
                    self.max_concurrent_batches
                ),
            );
        }
        if self.max_pending < self.max_items {
            return field(
                "batch.max_pending",
                format!(
                    "{} is below max_items ({}): no batch could fill up",
                    self.max_pending, self.max_items
                ),
            );
        }
        if self.max_pending > tokio::sync::Semaphore::MAX_PERMITS {
            return field(
                "batch.max_pending",
                format!(
                    "{} is more than {}",
                    self.max_pending,
                    tokio::sync::Semaphore::MAX_PERMITS
                ),
            );
        }
        Ok(())
    }
}

crate::config::validated_config!(BatchConfig);
