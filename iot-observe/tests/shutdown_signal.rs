//! A real SIGTERM to this test process. A binary of its own, so the
//! installed handlers affect no other test.
#![cfg(all(unix, feature = "signal"))]

use std::time::Duration;

use iot_observe::health::{CheckOptions, Group, HealthRegistry, Status};
use iot_observe::shutdown::{Shutdown, ShutdownPhase};

fn send(signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &std::process::id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

#[tokio::test]
async fn sigterm_drains_and_a_second_signal_ends_the_drain() {
    let shutdown = Shutdown::new(Duration::from_secs(3600));
    let registry = HealthRegistry::builder()
        .check(
            Shutdown::CHECK_NAME,
            shutdown.clone(),
            CheckOptions::readiness(),
        )
        .build()
        .unwrap();
    // Handlers are installed when this returns.
    let listener = shutdown.listen_for_signals().unwrap();
    assert_eq!(registry.report(Group::Readiness).status, Status::Pass);

    send("-TERM");
    tokio::time::timeout(Duration::from_secs(10), shutdown.triggered())
        .await
        .expect("SIGTERM triggers the drain");
    assert_eq!(shutdown.phase(), ShutdownPhase::Draining);
    assert_eq!(registry.report(Group::Readiness).status, Status::Fail);
    assert_eq!(registry.report(Group::Liveness).status, Status::Pass);

    send("-INT");
    tokio::time::timeout(Duration::from_secs(10), shutdown.drained())
        .await
        .expect("a second signal ends the drain");
    tokio::time::timeout(Duration::from_secs(10), listener)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(shutdown.phase(), ShutdownPhase::Drained);
}
