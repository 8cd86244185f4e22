//! Built-in checks.

#[cfg(feature = "resilience")]
mod circuit_breaker;
mod connection;
mod connection_state;
mod fn_check;
#[cfg(feature = "mqtt")]
mod mqtt;
mod startup;
#[cfg(feature = "tcp")]
mod tcp;

#[cfg(feature = "resilience")]
pub use circuit_breaker::CircuitBreakerCheck;
pub use connection::{ConnectionSource, ConnectionStateCheck};
pub use connection_state::{ConnectionReporter, ConnectionState};
pub use fn_check::{FnCheck, check_fn};
#[cfg(feature = "mqtt")]
pub use mqtt::MqttConnection;
pub use startup::StartupFlag;
#[cfg(feature = "tcp")]
pub use tcp::TcpCheck;
