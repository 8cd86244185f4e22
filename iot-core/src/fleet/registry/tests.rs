//! Unit tests of the registry internals; behaviour is covered by
//! `tests/fleet.rs`.

use std::time::Duration;

use super::*;

const SILENCE: Duration = Duration::from_secs(10);

fn fleet(ids: &[&str], t0: Instant) -> FleetRegistry {
    let fleet = FleetRegistry::new(FleetConfig::DEFAULT.offline_after(SILENCE));
    for id in ids {
        let info = DeviceInfo::new(DeviceId::new(*id).unwrap(), "meter");
        fleet.register(info, t0).unwrap();
    }
    fleet
}

fn bound(fleet: &FleetRegistry) -> Expiry {
    fleet.read().next_expiry
}

#[test]
fn registry_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FleetRegistry>();
    fn assert_send<T: Send>() {}
    assert_send::<StatusReceiver>();
}

#[test]
fn sweep_bound_is_the_earliest_live_deadline() {
    let t0 = Instant::now();
    let fleet = fleet(&["a", "b"], t0);
    assert_eq!(
        bound(&fleet),
        Expiry::Never,
        "offline devices cannot expire"
    );

    fleet.heartbeat("a", t0).unwrap();
    fleet.heartbeat("b", t0 + Duration::from_secs(3)).unwrap();
    assert_eq!(bound(&fleet), Expiry::After(t0 + SILENCE));

    // A later heartbeat of "a" leaves the bound low; the next due sweep
    // finds nothing expired and raises it to the real earliest deadline.
    fleet.heartbeat("a", t0 + Duration::from_secs(5)).unwrap();
    assert!(
        fleet
            .sweep(t0 + SILENCE + Duration::from_secs(1))
            .is_empty()
    );
    assert_eq!(
        bound(&fleet),
        Expiry::After(t0 + Duration::from_secs(3) + SILENCE)
    );
}

#[test]
fn sweeping_everything_offline_leaves_nothing_to_expire() {
    let t0 = Instant::now();
    let fleet = fleet(&["a"], t0);
    fleet.heartbeat("a", t0).unwrap();
    assert_eq!(fleet.sweep(t0 + SILENCE * 2).len(), 1);
    assert_eq!(bound(&fleet), Expiry::Never);
}

#[test]
fn setting_a_never_seen_device_online_makes_the_next_sweep_scan() {
    let t0 = Instant::now();
    let fleet = fleet(&["a"], t0);
    fleet.set_status("a", DeviceStatus::Online, t0).unwrap();
    assert_eq!(bound(&fleet), Expiry::Now);
    let changes = fleet.sweep(t0);
    assert_eq!(changes[0].to, DeviceStatus::Offline);
}

#[test]
fn maintenance_does_not_lower_the_bound() {
    let t0 = Instant::now();
    let fleet = fleet(&["a"], t0);
    fleet
        .set_status("a", DeviceStatus::Maintenance, t0)
        .unwrap();
    fleet.heartbeat("a", t0).unwrap();
    assert_eq!(bound(&fleet), Expiry::Never);
}

#[test]
fn an_earlier_now_does_not_move_last_seen_back() {
    let t0 = Instant::now();
    let fleet = fleet(&["a"], t0);
    let late = t0 + Duration::from_secs(5);
    fleet.heartbeat("a", late).unwrap();
    fleet.heartbeat("a", t0).unwrap();
    assert_eq!(fleet.get("a").unwrap().last_seen, Some(late));
}
