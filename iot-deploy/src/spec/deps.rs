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
#[non_exhaustive]
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
    /// The PostgreSQL image: compose's server, and the client (`psql`)
    /// the migration Job runs.
    pub image: String,
    /// The Secret (key `password`) holding the user's password, mounted
    /// for the service as the file `POSTGRES_PASSWORD_FILE` names; defaults
    /// to `<name>-postgres`.
    pub password_secret: Option<String>,
    /// A SQL file, relative to the spec file, run against the database
    /// before the service starts: a Kubernetes Job (a Helm pre-install and
    /// pre-upgrade hook) and, in compose, an init script of the postgres
    /// service. It must be idempotent.
    pub migrations: Option<String>,
    /// The text of `migrations`, read by the loader.
    #[serde(skip)]
    pub migrations_sql: Option<String>,
}

impl Postgres {
    /// The password Secret's name (`<service>-postgres` by default).
    pub fn password_secret_for(&self, service: &str) -> String {
        self.password_secret
            .clone()
            .unwrap_or_else(|| format!("{service}-postgres"))
    }
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
            password_secret: None,
            migrations: None,
            migrations_sql: None,
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
