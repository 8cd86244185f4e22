//! The upkeep task: drains histogram samples into their buckets at a fixed
//! interval, so memory stays bounded between scrapes.

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio::time::{MissedTickBehavior, interval};

/// Spawns the upkeep loop for `handle` on `runtime`. It runs until aborted
/// or until the runtime shuts down.
pub(crate) fn spawn(runtime: &Handle, handle: PrometheusHandle, every: Duration) -> JoinHandle<()> {
    runtime.spawn(async move {
        let mut ticks = interval(every);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ticks.tick().await; // the first tick completes at once
        loop {
            ticks.tick().await;
            handle.run_upkeep();
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_exporter_prometheus::PrometheusBuilder;

    #[tokio::test(start_paused = true)]
    async fn runs_until_aborted() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let task = spawn(
            &Handle::current(),
            recorder.handle(),
            Duration::from_secs(1),
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(!task.is_finished());
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
    }
}
