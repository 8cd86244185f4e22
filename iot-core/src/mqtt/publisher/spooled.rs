//! The publisher's side of the spool (feature `spool`): opening it at
//! start and re-queuing what a previous publisher left, appending each
//! accepted frame, and waiting for durability in `send`.
//!
//! The queue stays the one place frames wait for the broker; the spool is
//! its copy on disk. Each queued frame carries its record id (the queue's
//! tag); the queue reports the tags of finished frames and `Core` releases
//! them (`release_spooled`). Frames still queued when the publisher stops
//! are not released: the next publisher on the directory sends them.

use crate::mqtt::config::QueueConfig;
use crate::mqtt::error::{ConfigError, PublishError};
use crate::mqtt::metrics::DropReason;
use crate::mqtt::spool::{FsyncPolicy, RecordId, Spool, SpoolConfig};
use crate::mqtt::state::Stats;

use super::shared::Core;

/// Opens the spool of `config` (reading its files on the calling thread)
/// and queues the records a previous publisher never had acknowledged, in
/// their original order, ahead of new frames.
pub(super) fn open(
    core: &mut Core,
    config: &SpoolConfig,
    queue: &QueueConfig,
    max_frame: usize,
    stats: &Stats,
) -> Result<(), ConfigError> {
    // The queue's overflow policy must act before the spool's: a frame the
    // spool deleted for room would still sit in memory, sent but no longer
    // safe across a crash.
    let needed = queue.max_bytes as u64 + 2 * config.segment_bytes;
    if config.max_bytes < needed {
        return Err(ConfigError::new(
            "spool.max_bytes",
            format!(
                "{} is below queue.max_bytes + 2 x spool.segment_bytes = {needed}: \
                 the spool would give up frames the queue still holds",
                config.max_bytes
            ),
        ));
    }
    if config.max_record_bytes < max_frame.min(queue.max_bytes) {
        return Err(ConfigError::new(
            "spool.max_record_bytes",
            format!(
                "{} is below the largest frame the publisher accepts ({})",
                config.max_record_bytes,
                max_frame.min(queue.max_bytes)
            ),
        ));
    }
    let (spool, recovery) =
        Spool::open(config.clone()).map_err(|e| ConfigError::new("spool", e.to_string()))?;
    core.queue.enable_journal();
    let report = recovery.report;
    let mut requeued = 0u64;
    for record in recovery.records {
        match core
            .queue
            .push_tagged(record.payload, queue.policy, record.id.get())
        {
            Ok((_, dropped)) => {
                requeued += 1;
                if dropped > 0 {
                    stats.dropped(DropReason::QueueFull, dropped as u64);
                }
            }
            Err(_) => {
                // Reject-new and a queue smaller than the backlog: the rest
                // is refused like any frame that does not fit.
                stats.dropped(DropReason::Rejected, 1);
                let _ = spool.release(record.id);
            }
        }
    }
    if requeued > 0 || report.corrupt_records > 0 || report.torn_bytes > 0 {
        tracing::info!(
            dir = %config.dir.display(),
            requeued,
            corrupt_records = report.corrupt_records,
            torn_bytes = report.torn_bytes,
            "spool opened: unacknowledged frames of the previous run queued again"
        );
    }
    core.spool = Some(spool);
    core.release_spooled();
    Ok(())
}

/// Appends an accepted frame; returns its record id (`0` without a spool).
pub(super) fn append(core: &Core, payload: &[u8]) -> Result<u64, PublishError> {
    let Some(spool) = &core.spool else {
        return Ok(0);
    };
    let appended = spool.append(payload).map_err(|e| PublishError::Spool {
        reason: e.to_string(),
    })?;
    if appended.dropped > 0 {
        // `open` sized the spool above the queue, so this means frames the
        // queue still holds are no longer on disk.
        tracing::warn!(
            dropped = appended.dropped,
            "spool full: it gave up records the queue still holds"
        );
    }
    Ok(appended.id.get())
}

/// Gives a record back when its frame was not queued after all.
pub(super) fn unappend(core: &Core, record: u64) {
    if let Some(spool) = &core.spool {
        let _ = spool.release(RecordId::new(record));
    }
}

/// The spool `send` must wait on before it returns, if its policy makes
/// each frame durable (`FsyncPolicy::Always`).
pub(super) fn durable_wait(spool: &Option<Spool>) -> Option<Spool> {
    spool
        .as_ref()
        .filter(|s| s.config().fsync == FsyncPolicy::Always)
        .cloned()
}

/// Waits until record `record` is on disk.
pub(super) async fn wait_durable(spool: &Spool, record: u64) -> Result<(), PublishError> {
    spool
        .wait_durable(RecordId::new(record))
        .await
        .map_err(|e| PublishError::Spool {
            reason: e.to_string(),
        })
}
