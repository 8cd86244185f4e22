//! Backing services the service talks to.

use serde::{Deserialize, Serialize};

use super::Mqtt;

/// Backing services. Each one present adds a compose service, environment
/// variables (`MQTT_*`, `POSTGRES_*`, `REDIS_*`) and a NetworkPolicy egress
/// rule.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Dependencies {
    /// An MQTT broker (Mosquitto in compose).
    pub mqtt: Option<Mqtt>,
    /// PostgreSQL.
    pub postgres: Option<Postgres>,
    /// Redis.
    pub redis: Option<Redis>,
}

/// PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Postgres {
    /// Host name in Kubernetes.
    pub host: String,
    /// Port.
    pub port: u32,
    /// Database name.
    pub database: String,
    /// User name.
    pub user: String,
    /// Restrict the egress rule to this CIDR.
    pub cidr: Option<String>,
    /// The compose image.
    pub image: String,
}

impl Default for Postgres {
    fn default() -> Self {
        Postgres {
            host: "postgres".into(),
            port: 5432,
            database: "app".into(),
            user: "app".into(),
            cidr: None,
            image: "postgres:16.4-bookworm".into(),
        }
    }
}

/// Redis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Redis {
    /// Host name in Kubernetes.
    pub host: String,
    /// Port.
    pub port: u32,
    /// Restrict the egress rule to this CIDR.
    pub cidr: Option<String>,
    /// The compose image.
    pub image: String,
}

impl Default for Redis {
    fn default() -> Self {
        Redis {
            host: "redis".into(),
            port: 6379,
            cidr: None,
            image: "redis:7.4.1-bookworm".into(),
        }
    }
}
