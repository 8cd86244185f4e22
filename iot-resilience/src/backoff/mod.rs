//! Backoff schedules: how long to wait before each retry.
//!
//! Used by the [retry layer](crate::retry) and on their own, e.g. by a
//! reconnect loop. The shapes follow the AWS architecture blog,
//! "Exponential backoff and jitter" (`n` is the retry number from 0):
//!
//! | [`BackoffStrategy`] | delay before retry `n` | range |
//! | --- | --- | --- |
//! | `constant` | `base` | `base` |
//! | `exponential` | `min(cap, base * factor^n)` | `[base, cap]`, non-decreasing |
//! | `full_jitter` (default) | `rand(0, min(cap, base * factor^n))` | `[0, cap]` |
//! | `equal_jitter` | `t/2 + rand(0, t/2)`, `t = min(cap, base * factor^n)` | `[t/2, t]` |
//! | `decorrelated_jitter` | `min(cap, rand(base, prev * 3))`, `prev` starting at `base` | `[base, cap]` |
//!
//! `factor` defaults to 2, the blog's value. The blog finds full and
//! decorrelated jitter spread competing clients best and equal jitter does
//! worst; plain exponential makes clients that failed together retry
//! together.
//!
//! [`BackoffConfig`] describes a schedule (serde, builder, `validate`);
//! [`Backoff`] runs one: [`Backoff::next_delay`] returns the next delay and
//! [`Backoff::reset`] starts over. Delays saturate at `cap` for any number
//! of retries (no overflow, no panic). Randomness comes from an injectable
//! [`fastrand::Rng`], so a seed makes a schedule reproducible.
//!
//! The retry layer takes any [`MakeBackoff`], which makes one
//! [`BackoffSchedule`] per retried call; with the `backoff` feature,
//! [`BackoffCompat`] adapts any `backoff::backoff::Backoff`.
//!
//! # Example
//!
//! A reconnect loop:
//!
//! ```
//! use std::time::Duration;
//! use iot_resilience::backoff::{Backoff, BackoffConfig, BackoffStrategy};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let config = BackoffConfig::default()
//!     .strategy(BackoffStrategy::DecorrelatedJitter)
//!     .base(Duration::from_millis(100))
//!     .cap(Duration::from_secs(30));
//! config.validate().unwrap();
//!
//! let mut backoff = Backoff::new(config);
//! let mut connected = false;
//! let mut tries = 0;
//! while !connected {
//!     tries += 1;
//!     connected = tries == 3; // stands for `client.connect().await.is_ok()`
//!     if !connected {
//!         let delay = backoff.next_delay().expect("no max_retries set");
//!         assert!(delay >= Duration::from_millis(100) && delay <= Duration::from_secs(30));
//!         tokio::time::sleep(delay).await;
//!     }
//! }
//! backoff.reset();
//! # }
//! ```

#[cfg(feature = "backoff")]
mod compat;
mod config;
mod make;
mod schedule;

#[cfg(feature = "backoff")]
pub use compat::BackoffCompat;
pub use config::{BackoffConfig, BackoffStrategy};
pub use make::{BackoffSchedule, MakeBackoff};
pub use schedule::Backoff;
