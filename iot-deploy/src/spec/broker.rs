//! The broker iot-deploy runs (Mosquitto), its durability, and the
//! consumers' identity in a shared-subscription group.

use serde::{Deserialize, Serialize};

use super::Resources;

/// The Mosquitto broker iot-deploy runs: always in compose, and in
/// Kubernetes, Kustomize and Helm when [`Broker::kubernetes`] says so (by
/// default when `dependencies.mqtt.host` names a Service of the spec's own
/// namespace). Its durability settings apply to every `mosquitto.conf`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Broker {
    /// Run the broker in Kubernetes too. Default: when `host` is a Service
    /// name of the namespace (`mosquitto`, or `mosquitto.<namespace>[.svc
    /// [.cluster.local]]`) and no `cidr` points egress elsewhere.
    pub kubernetes: Option<bool>,
    /// The Secret with the broker's password file (key `passwd`) and ACL
    /// (key `acl`); defaults to `<name>-mqtt-broker-auth`.
    pub auth_secret: Option<String>,
    /// Size of the PersistentVolumeClaim holding the persistence database.
    pub storage: String,
    /// StorageClass of that claim (the cluster's default when left out).
    pub storage_class: Option<String>,
    /// The broker container's requests and limits (same defaults and
    /// `"none"` rule as the service's).
    pub resources: Resources,
    /// Networks the devices connect from: the broker's NetworkPolicy admits
    /// them to the client listener(s). Without any, only the service's pods
    /// reach the broker.
    pub device_cidrs: Vec<String>,
    /// Devices expected to publish (sizes the queues).
    pub devices: u32,
    /// Messages each device publishes per minute (sizes the queues).
    pub device_messages_per_minute: u32,
    /// How long a consumer may be away without losing messages: the
    /// offline queue holds this much of its share of the traffic.
    pub consumer_outage_seconds: u32,
    /// `max_queued_messages`, instead of the size derived from the three
    /// fields above.
    pub max_queued_messages: Option<u32>,
    /// `max_inflight_messages`, instead of the derived one (one second of a
    /// consumer's share, at least 20).
    pub max_inflight_messages: Option<u32>,
    /// `autosave_interval`: seconds between database saves, or the number
    /// of changes with `autosave_on_changes`.
    pub autosave_interval: u32,
    /// `autosave_on_changes`: count changes instead of seconds.
    pub autosave_on_changes: bool,
    /// `persistent_client_expiration`, in hours: a persistent session that
    /// does not reconnect within this time is removed, with its queue.
    /// Left out, sessions never expire (Mosquitto's default).
    pub persistent_client_expiration_hours: Option<u32>,
}

impl Default for Broker {
    fn default() -> Self {
        Broker {
            kubernetes: None,
            auth_secret: None,
            storage: "1Gi".into(),
            storage_class: None,
            resources: Resources::default(),
            device_cidrs: Vec::new(),
            devices: 1000,
            device_messages_per_minute: 6,
            consumer_outage_seconds: 600,
            max_queued_messages: None,
            max_inflight_messages: None,
            autosave_interval: 60,
            autosave_on_changes: false,
            persistent_client_expiration_hours: None,
        }
    }
}

/// Mosquitto's own default `max_queued_messages`; a derived size never goes below it.
pub const MOSQUITTO_DEFAULT_QUEUE: u64 = 1000;
/// Mosquitto's own default `max_inflight_messages`; a derived size never goes below it.
pub const MOSQUITTO_DEFAULT_INFLIGHT: u64 = 20;
/// The largest queue a derived or explicit `max_queued_messages` may ask for.
pub const MAX_QUEUE: u64 = 10_000_000;
/// The largest `max_inflight_messages` (MQTT packet identifiers are 16 bits).
pub const MAX_INFLIGHT: u64 = 65_535;

/// The per-client limits a `mosquitto.conf` sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// `max_queued_messages`.
    pub max_queued_messages: u64,
    /// `max_inflight_messages`.
    pub max_inflight_messages: u64,
}

impl Broker {
    /// Messages per minute all devices publish together.
    fn per_minute_total(&self) -> u64 {
        u64::from(self.devices) * u64::from(self.device_messages_per_minute)
    }

    /// The offline queue one consumer needs: its share (`consumers` split
    /// the traffic) of what the devices publish during
    /// `consumer_outage_seconds`, rounded up, never below Mosquitto's
    /// default of 1000. May exceed [`MAX_QUEUE`] (validation refuses that).
    pub fn derived_queue(&self, consumers: u32) -> u64 {
        let messages = self
            .per_minute_total()
            .saturating_mul(u64::from(self.consumer_outage_seconds));
        let per_consumer = messages.div_ceil(60 * u64::from(consumers.max(1)));
        per_consumer.max(MOSQUITTO_DEFAULT_QUEUE)
    }

    /// One second of a consumer's share, rounded up, between 20 and 65535.
    pub fn derived_inflight(&self, consumers: u32) -> u64 {
        let per_second = self
            .per_minute_total()
            .div_ceil(60 * u64::from(consumers.max(1)));
        per_second.clamp(MOSQUITTO_DEFAULT_INFLIGHT, MAX_INFLIGHT)
    }

    /// The limits in effect: explicit values, else the derived ones.
    pub fn queue_limits(&self, consumers: u32) -> QueueLimits {
        QueueLimits {
            max_queued_messages: self
                .max_queued_messages
                .map_or_else(|| self.derived_queue(consumers), u64::from),
            max_inflight_messages: self
                .max_inflight_messages
                .map_or_else(|| self.derived_inflight(consumers), u64::from),
        }
    }

    /// The Secret with the password file and the ACL.
    pub fn auth_secret_for(&self, service: &str) -> String {
        self.auth_secret
            .clone()
            .unwrap_or_else(|| format!("{service}-mqtt-broker-auth"))
    }
}

/// The service consumes through an MQTT `$share` group, every replica a
/// member with a persistent session. A member's share of the messages is
/// queued in its session while it is away (Mosquitto 2.0), so a
/// replacement must connect with the same client id: the workload becomes
/// a StatefulSet and each replica's client id is its pod name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ShareGroup {
    /// The environment variable the service reads its client id from.
    pub client_id_env: String,
}

/// The variable the example gateway reads its client id from.
pub const DEFAULT_CLIENT_ID_ENV: &str = "GATEWAY_CLIENT_ID";

impl Default for ShareGroup {
    fn default() -> Self {
        ShareGroup {
            client_id_env: DEFAULT_CLIENT_ID_ENV.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_sizes() {
        let b = Broker::default();
        // 1000 devices x 6/min x 600 s = 60,000 messages, split by 2.
        assert_eq!(b.derived_queue(2), 30_000);
        assert_eq!(b.derived_queue(1), 60_000);
        assert_eq!(b.derived_queue(0), 60_000);
        // 100 msg/s, 50 per consumer of two.
        assert_eq!(b.derived_inflight(2), 50);
        let small = Broker {
            devices: 3,
            ..Broker::default()
        };
        assert_eq!(small.derived_queue(1), MOSQUITTO_DEFAULT_QUEUE);
        assert_eq!(small.derived_inflight(1), MOSQUITTO_DEFAULT_INFLIGHT);
        let huge = Broker {
            devices: u32::MAX,
            device_messages_per_minute: u32::MAX,
            consumer_outage_seconds: u32::MAX,
            ..Broker::default()
        };
        assert!(huge.derived_queue(1) > MAX_QUEUE, "no overflow");
        assert_eq!(huge.derived_inflight(1), MAX_INFLIGHT);
        let explicit = Broker {
            max_queued_messages: Some(5),
            max_inflight_messages: Some(2),
            ..Broker::default()
        };
        assert_eq!(
            explicit.queue_limits(3),
            QueueLimits {
                max_queued_messages: 5,
                max_inflight_messages: 2
            }
        );
    }
}
