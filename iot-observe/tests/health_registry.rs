//! Registry semantics: aggregation, criticality, timeouts, panics, the
//! pending state, the background refresh and the built-in checks.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use iot_observe::health::{
    CheckOptions, CheckResult, ConnectionReporter, ConnectionState, ConnectionStateCheck, Detail,
    Group, HealthConfig, HealthRegistry, RegistryError, StartupFlag, Status, check_fn,
};

fn status_check(status: Status) -> impl iot_observe::health::HealthCheck {
    check_fn(move || async move { status })
}

fn counting(counter: &Arc<AtomicUsize>) -> impl iot_observe::health::HealthCheck {
    let counter = counter.clone();
    check_fn(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            CheckResult::pass()
        }
    })
}

#[tokio::test]
async fn aggregation_is_fail_over_warn_over_pass() {
    let registry = HealthRegistry::builder()
        .check(
            "a:pass",
            status_check(Status::Pass),
            CheckOptions::liveness(),
        )
        .check(
            "b:warn",
            status_check(Status::Warn),
            CheckOptions::readiness(),
        )
        .check(
            "c:fail",
            status_check(Status::Fail),
            CheckOptions::startup(),
        )
        .check(
            "d:warn",
            status_check(Status::Warn),
            CheckOptions::startup(),
        )
        .build()
        .unwrap();
    registry.refresh().await;
    assert_eq!(registry.report(Group::Liveness).status, Status::Pass);
    assert_eq!(registry.report(Group::Readiness).status, Status::Warn);
    assert_eq!(registry.report(Group::Startup).status, Status::Fail);
    let all = registry.report_all();
    assert_eq!(all.status, Status::Fail);
    assert_eq!(all.http_status(), 503);
    assert_eq!(all.checks.len(), 4);
}

#[tokio::test]
async fn non_critical_failure_only_warns() {
    let registry = HealthRegistry::builder()
        .check(
            "db:ping",
            status_check(Status::Pass),
            CheckOptions::readiness(),
        )
        .check(
            "cache:ping",
            status_check(Status::Fail),
            CheckOptions::readiness().critical(false),
        )
        .build()
        .unwrap();
    registry.refresh().await;
    let report = registry.report(Group::Readiness);
    assert_eq!(report.status, Status::Warn);
    assert_eq!(report.http_status(), 200);
    let cache = report
        .checks
        .iter()
        .find(|c| c.name == "cache:ping")
        .unwrap();
    assert_eq!(cache.result.status, Status::Fail);
    assert_eq!(cache.effective_status(), Status::Warn);
    assert!(!cache.critical);
}

#[tokio::test]
async fn empty_group_passes() {
    let registry = HealthRegistry::builder()
        .check(
            "db:ping",
            status_check(Status::Fail),
            CheckOptions::readiness(),
        )
        .build()
        .unwrap();
    registry.refresh().await;
    let live = registry.report(Group::Liveness);
    assert_eq!(live.status, Status::Pass);
    assert!(live.checks.is_empty());
}

#[tokio::test]
async fn checks_are_pending_until_their_first_run() {
    let registry = HealthRegistry::builder()
        .check(
            "db:ping",
            status_check(Status::Pass),
            CheckOptions::readiness(),
        )
        .build()
        .unwrap();
    let report = registry.report(Group::Readiness);
    assert_eq!(report.status, Status::Fail);
    let check = &report.checks[0];
    assert!(!check.has_run());
    assert!(
        check
            .result
            .output
            .as_deref()
            .unwrap()
            .starts_with("pending")
    );
    registry.refresh().await;
    assert_eq!(registry.report(Group::Readiness).status, Status::Pass);
}

#[tokio::test(start_paused = true)]
async fn slow_check_times_out_and_fails() {
    let registry = HealthRegistry::builder()
        .check(
            "slow:sleep",
            check_fn(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                CheckResult::pass()
            }),
            CheckOptions::readiness().timeout(Duration::from_millis(250)),
        )
        .check(
            "fast:ok",
            status_check(Status::Pass),
            CheckOptions::readiness(),
        )
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    registry.refresh().await;
    assert_eq!(started.elapsed(), Duration::from_millis(250));
    let report = registry.report(Group::Readiness);
    assert_eq!(report.status, Status::Fail);
    let slow = &report.checks[0];
    assert_eq!(slow.result.output.as_deref(), Some("timed out after 250ms"));
    assert_eq!(slow.duration, Some(Duration::from_millis(250)));
    assert_eq!(report.checks[1].result.status, Status::Pass);
}

#[tokio::test]
async fn timed_out_check_is_aborted() {
    let finished = Arc::new(AtomicUsize::new(0));
    let flag = finished.clone();
    let registry = HealthRegistry::builder()
        .check(
            "slow:sleep",
            check_fn(move || {
                let flag = flag.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    flag.fetch_add(1, Ordering::SeqCst);
                    CheckResult::pass()
                }
            }),
            CheckOptions::readiness().timeout(Duration::from_millis(20)),
        )
        .build()
        .unwrap();
    registry.refresh().await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        finished.load(Ordering::SeqCst),
        0,
        "the timed-out run kept going"
    );
}

#[tokio::test]
async fn panicking_check_fails_with_its_message() {
    let registry = HealthRegistry::builder()
        .check(
            "bad:check",
            check_fn(|| async {
                if true {
                    panic!("boom {}", 42);
                }
                CheckResult::pass()
            }),
            CheckOptions::readiness(),
        )
        .check(
            "good:check",
            status_check(Status::Pass),
            CheckOptions::liveness(),
        )
        .build()
        .unwrap();
    registry.refresh().await;
    let report = registry.report(Group::Readiness);
    assert_eq!(report.status, Status::Fail);
    assert_eq!(
        report.checks[0].result.output.as_deref(),
        Some("check panicked: boom 42")
    );
    assert_eq!(registry.report(Group::Liveness).status, Status::Pass);
    // And again: a panic leaves the registry usable.
    registry.refresh().await;
    assert_eq!(registry.report(Group::Liveness).status, Status::Pass);
}

#[tokio::test]
async fn panicking_instant_check_fails_on_request() {
    let registry = HealthRegistry::builder()
        .check(
            "bad:flag",
            check_fn(|| async {
                if true {
                    panic!("flag exploded");
                }
                Status::Pass
            })
            .instant(),
            CheckOptions::readiness(),
        )
        .build()
        .unwrap();
    let report = registry.report(Group::Readiness);
    assert_eq!(report.status, Status::Fail);
    assert_eq!(
        report.checks[0].result.output.as_deref(),
        Some("check panicked: flag exploded")
    );
}

#[tokio::test]
async fn instant_checks_are_evaluated_per_request() {
    let flag = StartupFlag::new();
    let registry = HealthRegistry::builder()
        .check("app:startup", flag.clone(), CheckOptions::startup())
        .build()
        .unwrap();
    // No refresh at all: instant checks need none.
    assert_eq!(registry.report(Group::Startup).status, Status::Fail);
    flag.mark_done();
    let report = registry.report(Group::Startup);
    assert_eq!(report.status, Status::Pass);
    assert!(report.checks[0].has_run());
}

#[tokio::test]
async fn instant_check_that_waits_falls_back_to_the_cache() {
    let registry = HealthRegistry::builder()
        .check(
            "liar:instant",
            check_fn(|| async {
                tokio::time::sleep(Duration::from_millis(1)).await;
                Status::Warn
            })
            .instant(),
            CheckOptions::readiness(),
        )
        .build()
        .unwrap();
    assert!(!registry.report(Group::Readiness).checks[0].has_run());
    registry.refresh().await;
    assert_eq!(registry.report(Group::Readiness).status, Status::Warn);
}

#[tokio::test(start_paused = true)]
async fn background_refresh_runs_at_the_interval() {
    let runs = Arc::new(AtomicUsize::new(0));
    let registry = HealthRegistry::builder()
        .config(HealthConfig::default().interval(Duration::from_secs(10)))
        .check("count:runs", counting(&runs), CheckOptions::liveness())
        .build()
        .unwrap();
    let handle = registry.start();
    // Idempotent: a second start does not add a second loop.
    let again = registry.start();
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 1, "first run at once");
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 5);
    again.stop();
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert!(handle.is_finished());
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 5);
}

#[tokio::test(start_paused = true)]
async fn refresh_loop_ends_with_the_registry() {
    let runs = Arc::new(AtomicUsize::new(0));
    let registry = HealthRegistry::builder()
        .config(HealthConfig::default().interval(Duration::from_secs(1)))
        .check("count:runs", counting(&runs), CheckOptions::liveness())
        .build()
        .unwrap();
    let handle = registry.start();
    tokio::time::sleep(Duration::from_millis(1)).await;
    drop(registry);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(handle.is_finished());
}

#[test]
fn build_rejects_bad_names_and_durations() {
    let err = |builder: iot_observe::health::HealthRegistryBuilder| builder.build().unwrap_err();
    assert_eq!(
        err(HealthRegistry::builder().check(
            "nocolon",
            status_check(Status::Pass),
            CheckOptions::liveness()
        )),
        RegistryError::InvalidName("nocolon".into())
    );
    assert_eq!(
        err(HealthRegistry::builder()
            .check("a:b", status_check(Status::Pass), CheckOptions::liveness())
            .check("a:b", status_check(Status::Pass), CheckOptions::readiness())),
        RegistryError::DuplicateName("a:b".into())
    );
    assert_eq!(
        err(HealthRegistry::builder().config(HealthConfig::default().interval(Duration::ZERO))),
        RegistryError::ZeroInterval
    );
    assert_eq!(
        err(HealthRegistry::builder().check(
            "a:b",
            status_check(Status::Pass),
            CheckOptions::liveness().timeout(Duration::ZERO)
        )),
        RegistryError::ZeroTimeout("a:b".into())
    );
}

#[test]
fn config_serde_round_trip() {
    let config = HealthConfig::default()
        .interval(Duration::from_millis(1500))
        .timeout(Duration::from_secs(2))
        .detail(Detail::Never)
        .version("1.2.3")
        .release_id("1.2.3-abc")
        .service_id("gw-7")
        .description("gateway")
        .path_prefix("/mgmt");
    let json = serde_json::to_value(&config).unwrap();
    assert_eq!(json["interval"], "1s500ms");
    assert_eq!(json["timeout"], "2s");
    assert_eq!(json["detail"], "never");
    let back: HealthConfig = serde_json::from_value(json).unwrap();
    assert_eq!(back, config);
    let defaults: HealthConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(defaults, HealthConfig::default());
    assert!(serde_json::from_str::<HealthConfig>(r#"{"interval":"soon"}"#).is_err());
    assert!(serde_json::from_str::<HealthConfig>(r#"{"unknown":1}"#).is_err());
}

#[cfg(feature = "tcp")]
#[tokio::test]
async fn tcp_check_against_listener_and_closed_port() {
    use iot_observe::health::TcpCheck;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open = listener.local_addr().unwrap();
    // Bind and drop to find a port nothing listens on.
    let closed = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let registry = HealthRegistry::builder()
        .check(
            "broker:tcp",
            TcpCheck::new(open.to_string()),
            CheckOptions::readiness(),
        )
        .check(
            "db:tcp",
            TcpCheck::new(closed.to_string()).connect_timeout(Duration::from_secs(2)),
            CheckOptions::readiness(),
        )
        .build()
        .unwrap();
    registry.refresh().await;
    let report = registry.report(Group::Readiness);
    let up = &report.checks[0].result;
    assert_eq!(up.status, Status::Pass);
    assert_eq!(up.observed_unit.as_deref(), Some("ms"));
    assert!(up.observed_value.as_ref().unwrap().is_number());
    assert_eq!(up.component_id.as_deref(), Some(open.to_string().as_str()));
    let down = &report.checks[1].result;
    assert_eq!(down.status, Status::Fail);
    let output = down.output.as_deref().unwrap();
    assert!(
        output.starts_with(&format!("connect to {closed}")),
        "{output}"
    );
    assert_eq!(report.status, Status::Fail);
}

#[tokio::test]
async fn connection_state_check_grace_period() {
    let long_ago = Instant::now() - Duration::from_secs(120);
    let (tx, rx) = tokio::sync::watch::channel(ConnectionState::Connected);
    let registry = HealthRegistry::builder()
        .check(
            "mqtt:connection",
            ConnectionStateCheck::new(rx).grace_period(Duration::from_secs(60)),
            CheckOptions::readiness(),
        )
        .build()
        .unwrap();
    assert_eq!(registry.report(Group::Readiness).status, Status::Pass);

    tx.send_replace(ConnectionState::Disconnected {
        since: Instant::now(),
    });
    let report = registry.report(Group::Readiness);
    assert_eq!(report.status, Status::Warn);
    assert_eq!(report.checks[0].result.observed_unit.as_deref(), Some("s"));

    tx.send_replace(ConnectionState::Disconnected { since: long_ago });
    let report = registry.report(Group::Readiness);
    assert_eq!(report.status, Status::Fail);
    let output = report.checks[0].result.output.clone().unwrap();
    assert!(output.starts_with("disconnected for 120."), "{output}");

    tx.send_replace(ConnectionState::Connecting { since: long_ago });
    assert_eq!(registry.report(Group::Readiness).status, Status::Fail);
}

#[test]
fn connection_reporter_keeps_the_outage_start() {
    let reporter = ConnectionReporter::new();
    let first = reporter.state().down_since().unwrap();
    reporter.disconnected();
    reporter.connecting();
    assert_eq!(reporter.state().down_since(), Some(first));
    reporter.connected();
    assert!(reporter.state().is_connected());
    reporter.disconnected();
    assert!(reporter.state().down_since().unwrap() >= first);
    assert!(matches!(
        reporter.state(),
        ConnectionState::Disconnected { .. }
    ));
}

#[cfg(feature = "resilience")]
#[tokio::test]
async fn circuit_breaker_check_follows_the_breaker() {
    use iot_observe::health::CircuitBreakerCheck;
    use iot_resilience::circuit_breaker::{CircuitBreakerConfig, CircuitBreakerHandle};

    let breaker =
        CircuitBreakerHandle::new(CircuitBreakerConfig::default().name("ingest")).unwrap();
    let registry = HealthRegistry::builder()
        .check(
            "ingest:breaker",
            CircuitBreakerCheck::new(breaker.clone()),
            CheckOptions::readiness(),
        )
        .check(
            "ingest:breaker-soft",
            CircuitBreakerCheck::new(breaker.clone()).open_status(Status::Warn),
            CheckOptions::liveness(),
        )
        .build()
        .unwrap();
    assert_eq!(registry.report(Group::Readiness).status, Status::Pass);
    breaker.transition_to_open();
    let report = registry.report(Group::Readiness);
    assert_eq!(report.status, Status::Fail);
    assert_eq!(
        report.checks[0].result.component_id.as_deref(),
        Some("ingest")
    );
    assert_eq!(
        report.checks[0].result.output.as_deref(),
        Some("circuit breaker open")
    );
    assert_eq!(registry.report(Group::Liveness).status, Status::Warn);
    breaker.transition_to_half_open();
    assert_eq!(registry.report(Group::Readiness).status, Status::Warn);
    breaker.reset();
    assert_eq!(registry.report(Group::Readiness).status, Status::Pass);
}

#[tokio::test(start_paused = true)]
async fn a_refresh_during_a_run_waits_for_it_instead_of_starting_another() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let registry = HealthRegistry::builder()
        .check(
            "db:slow",
            check_fn(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    CheckResult::pass()
                }
            }),
            CheckOptions::readiness(),
        )
        .build()
        .unwrap();
    let refresher = registry.start();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the background run began");

    let started = tokio::time::Instant::now();
    registry.refresh().await;
    assert_eq!(runs.load(Ordering::SeqCst), 1, "a second copy was started");
    assert_eq!(
        started.elapsed(),
        Duration::from_millis(90),
        "waited for the run in flight"
    );
    assert_eq!(registry.report(Group::Readiness).status, Status::Pass);
    refresher.stop();
}
