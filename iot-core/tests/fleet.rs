//! Behaviour of the fleet registry and the serialized forms of the device
//! models, as seen by a user of the crate.
#![cfg(feature = "std")]

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, UNIX_EPOCH};

use iot_core::device::{DeviceId, DeviceInfo, DeviceStatus};
use iot_core::fleet::{
    FleetConfig, FleetError, FleetRegistry, LabelSelector, StatusChange, StatusReceiver,
};
use proptest::prelude::*;

use DeviceStatus::{Degraded, Maintenance, Offline, Online};

const SILENCE: Duration = Duration::from_secs(30);
const SEC: Duration = Duration::from_secs(1);

fn id(s: &str) -> DeviceId {
    DeviceId::new(s).unwrap()
}

fn info(s: &str, labels: &[(&str, &str)]) -> DeviceInfo {
    let mut info = DeviceInfo::new(id(s), "meter");
    for (k, v) in labels {
        info.insert_label(*k, *v).unwrap();
    }
    info
}

/// A registry with `ids` registered at `t0`, each heartbeated at `t0`.
fn online_fleet(config: FleetConfig, ids: &[&str], t0: Instant) -> FleetRegistry {
    let fleet = FleetRegistry::new(config);
    for s in ids {
        fleet.register(info(s, &[]), t0).unwrap();
        fleet.heartbeat(s, t0).unwrap();
    }
    fleet
}

fn config() -> FleetConfig {
    FleetConfig::DEFAULT.offline_after(SILENCE)
}

fn status(fleet: &FleetRegistry, s: &str) -> DeviceStatus {
    fleet.get(s).unwrap().status
}

fn change(s: &str, from: DeviceStatus, to: DeviceStatus, at: Instant) -> StatusChange {
    StatusChange {
        device: id(s),
        from,
        to,
        at,
    }
}

fn ids(snapshots: &[iot_core::fleet::DeviceSnapshot]) -> Vec<&str> {
    snapshots.iter().map(|s| s.id().as_str()).collect()
}

#[test]
fn registered_devices_start_offline_and_never_seen() {
    let t0 = Instant::now();
    let fleet = FleetRegistry::new(config());
    let a = id("a");
    fleet
        .register(DeviceInfo::new(a.clone(), "meter"), t0)
        .unwrap();
    // Lookups take `&DeviceId`, `DeviceId`, `&str` or `String`.
    let snap = fleet.get(&a).unwrap();
    assert_eq!(snap.id(), &a);
    assert_eq!(
        (snap.status, snap.last_seen, snap.since),
        (Offline, None, t0)
    );
    assert!(fleet.sweep(t0 + SILENCE * 10).is_empty());
}

#[test]
fn goes_offline_only_when_silence_strictly_exceeds_offline_after() {
    let t0 = Instant::now();
    let fleet = online_fleet(config(), &["a"], t0);

    // Silence of exactly `offline_after` is tolerated ...
    assert!(fleet.sweep(t0 + SILENCE).is_empty());
    assert_eq!(status(&fleet, "a"), Online);

    // ... one nanosecond more is not.
    let late = t0 + SILENCE + Duration::from_nanos(1);
    assert_eq!(fleet.sweep(late), [change("a", Online, Offline, late)]);
    let snap = fleet.get("a").unwrap();
    assert_eq!(
        (snap.status, snap.since, snap.last_seen),
        (Offline, late, Some(t0))
    );
    assert!(
        fleet.sweep(late + SILENCE).is_empty(),
        "offline stays offline"
    );
}

#[test]
fn heartbeat_revives_an_offline_device() {
    let t0 = Instant::now();
    let fleet = online_fleet(config(), &["a"], t0);
    fleet.sweep(t0 + SILENCE * 2);
    let t1 = t0 + SILENCE * 3;
    assert_eq!(
        fleet.heartbeat("a", t1).unwrap(),
        Some(change("a", Offline, Online, t1))
    );
    assert_eq!(fleet.heartbeat("a", t1 + SEC).unwrap(), None);
    assert!(fleet.sweep(t1 + SEC + SILENCE).is_empty());
}

#[test]
fn degraded_survives_heartbeats_but_not_silence() {
    let t0 = Instant::now();
    let fleet = online_fleet(config(), &["a"], t0);
    fleet.set_status("a", Degraded, t0).unwrap();
    assert_eq!(fleet.heartbeat("a", t0 + SEC).unwrap(), None);
    assert_eq!(status(&fleet, "a"), Degraded);

    let late = t0 + SEC + SILENCE + SEC;
    assert_eq!(fleet.sweep(late), [change("a", Degraded, Offline, late)]);
    // Coming back after silence, the old impairment is unknown: online.
    assert_eq!(fleet.heartbeat("a", late).unwrap().unwrap().to, Online);
}

#[test]
fn maintenance_is_not_flipped_by_silence() {
    let t0 = Instant::now();
    let fleet = online_fleet(config(), &["a"], t0);
    let t1 = t0 + SEC;
    assert_eq!(
        fleet.set_status("a", Maintenance, t1).unwrap(),
        Some(change("a", Online, Maintenance, t1))
    );
    assert!(fleet.sweep(t0 + SILENCE * 100).is_empty());
    assert_eq!(fleet.heartbeat("a", t0 + SILENCE * 100).unwrap(), None);
    assert_eq!(status(&fleet, "a"), Maintenance);

    // Ending maintenance is not a heartbeat: a silent device then goes offline.
    let t2 = t0 + SILENCE * 200;
    fleet.set_status("a", Online, t2).unwrap();
    assert_eq!(fleet.sweep(t2), [change("a", Online, Offline, t2)]);
}

#[test]
fn setting_the_current_status_is_not_a_change() {
    let t0 = Instant::now();
    let fleet = online_fleet(config(), &["a"], t0);
    assert_eq!(fleet.set_status("a", Online, t0 + SEC).unwrap(), None);
    assert_eq!(fleet.get("a").unwrap().since, t0);
}

#[test]
fn last_will_sets_offline_until_the_next_heartbeat() {
    let t0 = Instant::now();
    let fleet = online_fleet(config(), &["a"], t0);
    fleet.set_status("a", Offline, t0 + SEC).unwrap();
    assert_eq!(status(&fleet, "a"), Offline);
    fleet.heartbeat("a", t0 + SEC * 2).unwrap();
    assert_eq!(status(&fleet, "a"), Online);
}

#[test]
fn queries_by_status_and_labels_in_id_order() {
    let t0 = Instant::now();
    let fleet = FleetRegistry::new(config());
    let devices = [
        ("c", "berlin", "1"),
        ("a", "berlin", "3"),
        ("b", "paris", "3"),
        ("d", "berlin", "3"),
    ];
    for (s, site, floor) in devices {
        let info = info(s, &[("site", site), ("floor", floor)]);
        fleet.register(info, t0).unwrap();
    }
    for s in ["a", "b", "c"] {
        fleet.heartbeat(s, t0).unwrap();
    }
    fleet.set_status("c", Maintenance, t0).unwrap();

    assert_eq!(ids(&fleet.by_status(Online)), ["a", "b"]);
    assert_eq!(ids(&fleet.by_status(Offline)), ["d"]);
    assert!(fleet.by_status(Degraded).is_empty());

    let berlin_3: LabelSelector = "site=berlin, floor=3".parse().unwrap();
    assert_eq!(ids(&fleet.by_labels(&berlin_3)), ["a", "d"]);
    assert_eq!(ids(&fleet.query(Some(Online), &berlin_3)), ["a"]);
    let berlin = LabelSelector::new().with("site", "berlin").unwrap();
    assert_eq!(ids(&fleet.by_labels(&berlin)), ["a", "c", "d"]);
    assert_eq!(ids(&fleet.snapshot()), ["a", "b", "c", "d"]);
    let nowhere: LabelSelector = "site=rome".parse().unwrap();
    assert!(fleet.by_labels(&nowhere).is_empty());
}

#[test]
fn update_info_changes_labels_and_keeps_status() {
    let t0 = Instant::now();
    let fleet = online_fleet(config(), &["a"], t0);
    fleet.update_info(info("a", &[("site", "oslo")])).unwrap();
    let snap = fleet.get("a").unwrap();
    assert_eq!(
        (snap.status, snap.info.label("site")),
        (Online, Some("oslo"))
    );
    assert_eq!(
        fleet.update_info(info("zz", &[])),
        Err(FleetError::UnknownDevice("zz".into()))
    );
}

#[test]
fn notifications_arrive_in_order_at_every_subscriber() {
    let t0 = Instant::now();
    let fleet = FleetRegistry::new(config());
    for s in ["a", "b"] {
        fleet.register(info(s, &[]), t0).unwrap();
    }
    let (first, second) = (fleet.subscribe(), fleet.subscribe());

    let mut returned = Vec::new();
    returned.extend(fleet.heartbeat("b", t0).unwrap());
    returned.extend(fleet.heartbeat("a", t0 + SEC).unwrap());
    returned.extend(fleet.set_status("a", Degraded, t0 + SEC * 2).unwrap());
    returned.extend(fleet.sweep(t0 + SEC * 2 + SILENCE));
    returned.extend(fleet.heartbeat("b", t0 + SILENCE * 2).unwrap());

    let t = |n: u32| t0 + SEC * n;
    let expected = [
        change("b", Offline, Online, t0),
        change("a", Offline, Online, t(1)),
        change("a", Online, Degraded, t(2)),
        change("a", Degraded, Offline, t(2) + SILENCE),
        change("b", Online, Offline, t(2) + SILENCE),
        change("b", Offline, Online, t0 + SILENCE * 2),
    ];
    assert_eq!(returned, expected);
    for rx in [&first, &second] {
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), expected);
        assert_eq!(rx.lost(), 0);
    }
}

#[test]
fn a_full_subscriber_neither_blocks_nor_grows_and_counts_losses() {
    let t0 = Instant::now();
    let fleet = online_fleet(config().subscriber_capacity(2), &["a"], t0);
    let slow = fleet.subscribe();

    // Five changes into a buffer of two: the registry must not wait.
    for n in 1..=5 {
        let status = if n % 2 == 1 { Degraded } else { Online };
        fleet.set_status("a", status, t0 + SEC * n).unwrap();
    }
    assert_eq!(slow.lost(), 3);
    let kept: Vec<_> = slow.try_iter().map(|c| c.at).collect();
    assert_eq!(
        kept,
        [t0 + SEC, t0 + SEC * 2],
        "the oldest changes are kept"
    );

    // Once drained, delivery resumes.
    fleet.set_status("a", Maintenance, t0 + SEC * 6).unwrap();
    assert_eq!(slow.try_recv().unwrap().to, Maintenance);
    assert_eq!(slow.lost(), 3);
}

#[test]
fn dropped_subscribers_are_pruned() {
    let t0 = Instant::now();
    let fleet = online_fleet(config(), &["a"], t0);
    let kept = fleet.subscribe();
    drop(fleet.subscribe());
    assert_eq!(fleet.subscriber_count(), 2);
    fleet.set_status("a", Degraded, t0).unwrap();
    assert_eq!(fleet.subscriber_count(), 1);
    assert!(kept.try_recv().is_ok());
}

#[test]
fn deregistering_returns_the_entry_without_notifying() {
    let t0 = Instant::now();
    let fleet = online_fleet(config(), &["a"], t0);
    let rx = fleet.subscribe();
    assert_eq!(fleet.deregister("a").unwrap().status, Online);
    assert_eq!(fleet.deregister("a"), None);
    assert!(fleet.is_empty());
    assert!(rx.try_recv().is_err());
}

#[test]
fn unknown_devices_are_refused_and_stored_nowhere() {
    let t0 = Instant::now();
    let fleet = online_fleet(config(), &["a"], t0);
    let unknown = Err(FleetError::UnknownDevice("ghost".into()));
    assert_eq!(fleet.heartbeat("ghost", t0), unknown);
    assert_eq!(fleet.set_status("ghost", Maintenance, t0), unknown);
    // Ids that are not even valid device ids are refused the same way.
    assert!(matches!(
        fleet.heartbeat("a/b", t0),
        Err(FleetError::UnknownDevice(s)) if s == "a/b"
    ));
    assert_eq!(fleet.len(), 1);
    assert!(!fleet.contains("ghost"));
}

#[test]
fn capacity_and_duplicates_are_typed_errors() {
    let t0 = Instant::now();
    let fleet = online_fleet(config().max_devices(2), &["a", "b"], t0);
    assert_eq!(
        fleet.register(info("a", &[]), t0),
        Err(FleetError::AlreadyRegistered(id("a")))
    );
    assert_eq!(
        fleet.register(info("c", &[]), t0),
        Err(FleetError::CapacityExceeded { max: 2 })
    );
    fleet.deregister("b");
    fleet.register(info("c", &[]), t0).unwrap();
    assert_eq!(fleet.len(), 2);
}

#[test]
fn heartbeats_of_unknown_ids_do_not_grow_the_registry() {
    const N: usize = 50;
    let t0 = Instant::now();
    let names: Vec<String> = (0..N).map(|n| format!("dev-{n}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let fleet = online_fleet(config(), &refs, t0);
    let rx = fleet.subscribe();
    for n in 0..20_000 {
        let ghost = format!("ghost-{n}");
        assert!(
            fleet
                .heartbeat(&ghost, t0 + Duration::from_millis(n))
                .is_err()
        );
    }
    assert_eq!(fleet.len(), N);
    assert_eq!(fleet.snapshot().len(), N);
    assert!(rx.try_recv().is_err(), "refusals are not status changes");
}

#[test]
fn shared_across_threads_behind_an_arc() {
    let t0 = Instant::now();
    let names: Vec<String> = (0..8).map(|n| format!("dev-{n}")).collect();
    let fleet = Arc::new(FleetRegistry::new(config()));
    for s in &names {
        fleet.register(info(s, &[]), t0).unwrap();
    }
    let rx: StatusReceiver = fleet.subscribe();
    let workers: Vec<_> = names
        .chunks(2)
        .map(|chunk| {
            let (fleet, chunk) = (Arc::clone(&fleet), chunk.to_vec());
            thread::spawn(move || {
                for n in 0..100 {
                    for s in &chunk {
                        fleet.heartbeat(s, t0 + Duration::from_millis(n)).unwrap();
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(fleet.by_status(Online).len(), 8);
    assert_eq!(rx.try_iter().count(), 8, "one revival per device");
}

#[test]
fn serialized_forms_are_stable() {
    let info = DeviceInfo::new(id("dev-4f2a9c01"), "thermostat")
        .with_firmware("2.4.1")
        .with_label("site", "berlin")
        .unwrap();
    let json = r#"{"id":"dev-4f2a9c01","kind":"thermostat","firmware_version":"2.4.1","labels":{"site":"berlin"}}"#;
    assert_eq!(serde_json::to_string(&info).unwrap(), json);
    assert_eq!(serde_json::from_str::<DeviceInfo>(json).unwrap(), info);

    let statuses = serde_json::to_string(&DeviceStatus::ALL).unwrap();
    assert_eq!(statuses, r#"["online","offline","degraded","maintenance"]"#);

    let config = FleetConfig::DEFAULT
        .offline_after(Duration::from_millis(1500))
        .max_devices(7)
        .subscriber_capacity(3);
    let json = r#"{"offline_after":"1s500ms","max_devices":7,"subscriber_capacity":3}"#;
    assert_eq!(serde_json::to_string(&config).unwrap(), json);
    assert_eq!(serde_json::from_str::<FleetConfig>(json).unwrap(), config);
    // What files held before the duration format (issue #16).
    let old = r#"{"offline_after_ms":1500,"max_devices":7,"subscriber_capacity":3}"#;
    assert_eq!(serde_json::from_str::<FleetConfig>(old).unwrap(), config);
    assert_eq!(
        serde_json::from_str::<FleetConfig>("{}").unwrap(),
        FleetConfig::DEFAULT
    );
}

#[test]
fn snapshots_convert_to_wall_clock_records() {
    let t0 = Instant::now();
    let fleet = online_fleet(config(), &["a"], t0);
    fleet.set_status("a", Degraded, t0 + SEC).unwrap();
    let wall_now = UNIX_EPOCH + Duration::from_millis(1_700_000_010_000);
    let record = fleet.get("a").unwrap().to_record(t0 + SEC * 10, wall_now);
    assert_eq!(
        serde_json::to_string(&record).unwrap(),
        r#"{"status":"degraded","last_seen_ms":1700000000000,"since_ms":1700000001000}"#
    );
}

// ---- model-based property test ------------------------------------------

const DEVICES: usize = 4;
const MODEL_SILENCE: Duration = Duration::from_millis(10);

#[derive(Debug, Clone)]
enum Op {
    Heartbeat(usize),
    SetStatus(usize, DeviceStatus),
    Sweep,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..DEVICES).prop_map(Op::Heartbeat),
        2 => (0..DEVICES, prop::sample::select(DeviceStatus::ALL.to_vec()))
            .prop_map(|(i, s)| Op::SetStatus(i, s)),
        3 => Just(Op::Sweep),
    ]
}

/// The specification, written as plainly as possible.
#[derive(Debug, Clone, Copy)]
struct Model {
    status: DeviceStatus,
    last_seen: Option<Instant>,
}

fn silent_too_long(m: &Model, now: Instant) -> bool {
    m.last_seen.is_none_or(|t| now - t > MODEL_SILENCE)
}

fn name(i: usize) -> String {
    format!("dev-{i}")
}

proptest! {
    #[test]
    fn registry_follows_the_status_model(
        steps in prop::collection::vec((op(), 0u64..=12), 1..80)
    ) {
        let t0 = Instant::now();
        let fleet = FleetRegistry::new(
            FleetConfig::DEFAULT.offline_after(MODEL_SILENCE).subscriber_capacity(1000),
        );
        for i in 0..DEVICES {
            fleet.register(info(&name(i), &[]), t0).unwrap();
        }
        let rx = fleet.subscribe();
        let mut model = [Model { status: Offline, last_seen: None }; DEVICES];
        let mut all_expected = Vec::new();
        let mut now = t0;

        for (op, dt) in steps {
            now += Duration::from_millis(dt);
            let mut expected = Vec::new();
            let got = match op {
                Op::Heartbeat(i) => {
                    let m = &mut model[i];
                    m.last_seen = Some(now);
                    if m.status == Offline {
                        expected.push(change(&name(i), Offline, Online, now));
                        m.status = Online;
                    }
                    fleet.heartbeat(name(i), now).unwrap().into_iter().collect()
                }
                Op::SetStatus(i, to) => {
                    let m = &mut model[i];
                    if m.status != to {
                        expected.push(change(&name(i), m.status, to, now));
                        m.status = to;
                    }
                    fleet.set_status(name(i), to, now).unwrap().into_iter().collect()
                }
                Op::Sweep => {
                    for (i, m) in model.iter_mut().enumerate() {
                        let live = matches!(m.status, Online | Degraded);
                        if live && silent_too_long(m, now) {
                            expected.push(change(&name(i), m.status, Offline, now));
                            m.status = Offline;
                        }
                    }
                    let got = fleet.sweep(now);
                    // After a sweep nothing live has been silent too long,
                    // and maintenance is untouched by silence.
                    for snap in fleet.snapshot() {
                        if matches!(snap.status, Online | Degraded) {
                            prop_assert!(snap.last_seen.is_some_and(|t| now - t <= MODEL_SILENCE));
                        }
                    }
                    got
                }
            };
            prop_assert_eq!(&got, &expected);
            all_expected.extend(expected);
            for (i, m) in model.iter().enumerate() {
                let snap = fleet.get(name(i)).unwrap();
                prop_assert_eq!((snap.status, snap.last_seen), (m.status, m.last_seen));
            }
        }
        prop_assert_eq!(rx.try_iter().collect::<Vec<_>>(), all_expected);
        prop_assert_eq!(rx.lost(), 0);
    }
}
