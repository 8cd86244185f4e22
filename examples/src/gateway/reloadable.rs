//! What a running gateway can change: handles into its stack, kept by the
//! [`Reloader`](super::Reloader).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use iot_resilience::rate_limit::{KeyedRateLimitConfig, KeyedRateLimiter};
use iot_resilience::retry::RetryHandle;
use iot_resilience::timeout::TimeoutHandle;

/// The handles a dispatcher (the pipeline's or the durable path's) gives
/// back for reloads.
#[derive(Clone)]
pub struct Handles {
    /// The sink's (or store's) timeout.
    pub sink_timeout: TimeoutHandle,
    /// The per-device limit.
    pub device_limit: DeviceLimit,
    /// The retry layer in front of the sink's (or store's) timeout.
    pub retry: RetryHandle,
}

/// `--device-limit`, as the path in use enforces it.
#[derive(Clone)]
pub enum DeviceLimit {
    /// The pipeline's keyed rate limiter (per device, on arrival).
    Limiter(KeyedRateLimiter<Arc<str>>),
    /// The durable path's quota of frames per second of device time.
    Quota(Arc<AtomicU64>),
}

impl DeviceLimit {
    /// The pipeline's limiter for `per_second` frames per device: tenths
    /// of a frame over 10 s, a burst of a second's worth (at least 1), at
    /// most 100,000 devices remembered.
    pub fn limiter_config(per_second: f64) -> KeyedRateLimitConfig {
        let limit = per_second.max(0.1);
        KeyedRateLimitConfig::per((limit * 10.0).round() as u32, Duration::from_secs(10))
            .burst(limit.ceil() as u32)
            .name("per_device")
            .capacity(100_000)
    }

    /// The durable path's quota for `per_second`: whole frames per device
    /// second, at least 1.
    pub fn quota(per_second: f64) -> u64 {
        per_second.ceil().max(1.0) as u64
    }

    /// Whether `per_second` can be applied; if so, [`apply`](Self::apply)
    /// cannot fail (a reload checks every change before making any).
    pub fn check(&self, per_second: f64) -> Result<(), String> {
        if !per_second.is_finite() || per_second <= 0.0 {
            return Err(format!(
                "device_limit: {per_second} is not a positive number"
            ));
        }
        match self {
            DeviceLimit::Limiter(_) => {
                iot_resilience::Validate::validate(&Self::limiter_config(per_second))
                    .map_err(|e| format!("device_limit: {e}"))
            }
            DeviceLimit::Quota(_) => Ok(()),
        }
    }

    /// Applies `per_second` to every device: the limiter keeps each
    /// device's permits in use; the quota applies from the next frame.
    pub fn apply(&self, per_second: f64) -> Result<(), String> {
        self.check(per_second)?;
        match self {
            DeviceLimit::Limiter(limiter) => limiter
                .update(Self::limiter_config(per_second))
                .map_err(|e| format!("device_limit: {e}")),
            DeviceLimit::Quota(quota) => {
                quota.store(Self::quota(per_second), Ordering::Relaxed);
                Ok(())
            }
        }
    }
}
