//! The drain controller under paused time.

use std::time::Duration;

use futures_util::FutureExt;
use iot_observe::health::{CheckOptions, Group, HealthRegistry, Status};
use iot_observe::shutdown::{Shutdown, ShutdownPhase};

#[tokio::test(start_paused = true)]
async fn drained_completes_after_the_drain_period() {
    let shutdown = Shutdown::new(Duration::from_secs(10));
    let drained = tokio::spawn(shutdown.drained());
    let triggered = tokio::spawn(shutdown.triggered());
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(!drained.is_finished(), "completed without a trigger");
    assert!(!triggered.is_finished());
    assert_eq!(shutdown.phase(), ShutdownPhase::Running);

    assert!(shutdown.trigger());
    assert!(!shutdown.trigger(), "second trigger is a no-op");
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert!(triggered.is_finished());
    assert!(shutdown.is_triggered());
    assert_eq!(shutdown.phase(), ShutdownPhase::Draining);

    tokio::time::sleep(Duration::from_millis(9_990)).await;
    assert!(!drained.is_finished(), "drained early");
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(drained.is_finished());
    assert_eq!(shutdown.phase(), ShutdownPhase::Drained);
    // A late waiter completes at once.
    assert!(shutdown.drained().now_or_never().is_some());
}

#[tokio::test(start_paused = true)]
async fn finish_now_cuts_the_drain_short() {
    let shutdown = Shutdown::new(Duration::from_secs(3600));
    let drained = tokio::spawn(shutdown.drained());
    shutdown.trigger();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!drained.is_finished());
    shutdown.finish_now();
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert!(drained.is_finished());
    assert_eq!(shutdown.phase(), ShutdownPhase::Drained);
}

#[tokio::test(start_paused = true)]
async fn finish_now_without_trigger_drains_at_once() {
    let shutdown = Shutdown::default();
    assert_eq!(shutdown.drain_period(), Shutdown::DEFAULT_DRAIN_PERIOD);
    shutdown.finish_now();
    assert!(shutdown.is_triggered());
    assert_eq!(shutdown.phase(), ShutdownPhase::Drained);
    tokio::time::timeout(Duration::from_millis(1), shutdown.drained())
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn readiness_fails_during_the_drain_liveness_passes() {
    let shutdown = Shutdown::new(Duration::from_secs(5));
    let registry = HealthRegistry::builder()
        .check(
            Shutdown::CHECK_NAME,
            shutdown.clone(),
            CheckOptions::readiness(),
        )
        .build()
        .unwrap();
    let clone = shutdown.clone();
    assert_eq!(registry.report(Group::Readiness).status, Status::Pass);
    clone.trigger();
    let report = registry.report(Group::Readiness);
    assert_eq!(report.status, Status::Fail);
    assert_eq!(
        report.checks[0].result.output.as_deref(),
        Some("draining: shutdown in progress")
    );
    assert_eq!(registry.report(Group::Liveness).status, Status::Pass);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let report = registry.report(Group::Readiness);
    assert_eq!(
        report.checks[0].result.output.as_deref(),
        Some("drained: shutting down")
    );
    assert_eq!(registry.report(Group::Liveness).status, Status::Pass);
}

#[tokio::test(start_paused = true)]
async fn drained_future_is_send_and_static() {
    fn assert_send_static<F: std::future::Future<Output = ()> + Send + 'static>(_: &F) {}
    let shutdown = Shutdown::new(Duration::ZERO);
    let future = shutdown.drained();
    assert_send_static(&future);
    drop(shutdown);
    // The future keeps the controller alive on its own.
    let future = tokio::spawn(future);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!future.is_finished());
}

#[tokio::test(start_paused = true)]
async fn an_endless_drain_period_drains_until_finish_now() {
    // `Instant::now() + Duration::MAX` overflows: the trigger used to panic.
    let shutdown = Shutdown::new(Duration::MAX);
    let drained = tokio::spawn(shutdown.drained());
    assert!(shutdown.trigger());
    assert!(!shutdown.trigger(), "second trigger is a no-op");
    assert_eq!(shutdown.phase(), ShutdownPhase::Draining);
    tokio::time::sleep(Duration::from_secs(365 * 24 * 3600)).await;
    assert_eq!(shutdown.phase(), ShutdownPhase::Draining);
    assert!(!drained.is_finished(), "an endless drain ended by itself");

    shutdown.finish_now();
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert!(drained.is_finished());
    assert_eq!(shutdown.phase(), ShutdownPhase::Drained);
}
