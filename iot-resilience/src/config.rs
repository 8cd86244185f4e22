//! Configuration plumbing shared by every layer: validation errors and the
//! duration format used by serde (re-exported from [`iot_duration`]).

use std::borrow::Cow;

/// A configuration value is out of its valid range or inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {field}: {message}")]
pub struct ConfigError {
    /// The field, as a path (e.g. `circuit_breaker.failure_rate_threshold`).
    pub field: Cow<'static, str>,
    /// What is wrong with it, with the offending value.
    pub message: String,
}

impl ConfigError {
    /// An error for `field`.
    pub fn new(field: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The check every `update` of a running layer makes on `name`: it labels
/// metrics registered when the layer was made, so it cannot change.
pub(crate) fn check_name_unchanged(layer: &str, old: &str, new: &str) -> Result<(), ConfigError> {
    check_unchanged(
        &format!("{layer}.name"),
        &old,
        &new,
        "it labels the metrics registered when the layer was made",
    )
}

/// The check an `update` makes on a setting that cannot change at run
/// time: a `ConfigError` naming `field`, both values (as `Debug`) and
/// `why`, when `new` differs from `old`.
pub(crate) fn check_unchanged<T: PartialEq + std::fmt::Debug>(
    field: &str,
    old: &T,
    new: &T,
    why: &str,
) -> Result<(), ConfigError> {
    if old == new {
        Ok(())
    } else {
        Err(ConfigError::new(
            field.to_owned(),
            format!("cannot change from {old:?} to {new:?} at run time ({why})"),
        ))
    }
}

/// A configuration that can check itself: implemented by every
/// configuration struct of this crate, and used by [`Validated`].
pub trait Validate {
    /// Checks every field; the error names the offending one.
    fn validate(&self) -> Result<(), ConfigError>;
}

/// A configuration that passed [`validate`](Validate::validate): the
/// preferred input of the layers, whose `from_validated` constructors (and
/// `From<Validated<_>>` implementations) cannot fail.
///
/// Made by the configurations' `build()` methods, by [`Validated::new`],
/// or (with the `serde` feature) by deserializing, which validates, so a
/// bad file is rejected where it is read rather than where a layer is
/// built. Read access only ([`Deref`](std::ops::Deref)): a validated
/// configuration cannot be changed into an invalid one; take it apart with
/// [`into_inner`](Self::into_inner) to edit it, then build it again.
///
/// ```
/// use std::time::Duration;
/// use iot_resilience::timeout::{TimeoutConfig, TimeoutLayer};
///
/// let config = TimeoutConfig::default().timeout(Duration::from_secs(2)).build()?;
/// let layer = TimeoutLayer::from(config); // cannot fail
/// assert_eq!(layer.timeout(), Duration::from_secs(2));
///
/// let invalid = TimeoutConfig::default().timeout(Duration::ZERO).build().unwrap_err();
/// assert_eq!(invalid.field, "timeout.timeout");
/// # Ok::<(), iot_resilience::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Validated<C>(C);

impl<C: Validate> Validated<C> {
    /// Validates `config`.
    pub fn new(config: C) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self(config))
    }
}

impl<C> Validated<C> {
    /// Wraps a configuration known to be valid (part of a validated one).
    pub(crate) fn assume_valid(config: C) -> Self {
        Self(config)
    }

    /// The configuration, to edit (and validate again) or serialize.
    pub fn into_inner(self) -> C {
        self.0
    }

    /// The configuration.
    pub fn get(&self) -> &C {
        &self.0
    }
}

impl<C> std::ops::Deref for Validated<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.0
    }
}

impl<C> AsRef<C> for Validated<C> {
    fn as_ref(&self) -> &C {
        &self.0
    }
}

#[cfg(feature = "serde")]
impl<C: serde::Serialize> serde::Serialize for Validated<C> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// Deserializes the configuration, then validates it: an invalid value is
/// a deserialization error naming the field.
#[cfg(feature = "serde")]
impl<'de, C: serde::Deserialize<'de> + Validate> serde::Deserialize<'de> for Validated<C> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let config = C::deserialize(d)?;
        Validated::new(config).map_err(serde::de::Error::custom)
    }
}

/// `impl Validate` and `build()` for configuration structs with an
/// inherent `validate`.
macro_rules! validated_config {
    ($($config:ty),* $(,)?) => {$(
        impl $crate::config::Validate for $config {
            fn validate(&self) -> Result<(), $crate::ConfigError> {
                <$config>::validate(self)
            }
        }

        impl $config {
            /// Validates the configuration once: the
            /// [`Validated`](crate::Validated) result is what the
            /// infallible constructors (`from_validated`, `From`) take.
            pub fn build(self) -> Result<$crate::Validated<Self>, $crate::ConfigError> {
                $crate::Validated::new(self)
            }
        }
    )*};
}
pub(crate) use validated_config;

/// Serde for `Duration` in the one duration format of the iot-rs crates,
/// [`iot_duration`] (which states what is accepted and printed):
/// `"250ms"`, `"1.5s"`, `"1m30s"`, or an integer number of milliseconds;
/// written as `"1s500ms"`. Use with
/// `#[serde(with = "iot_resilience::serde_duration")]` (and
/// `serde_duration::option` for `Option<Duration>`).
#[cfg(feature = "serde")]
pub mod duration {
    pub use iot_duration::serde::{deserialize, option, serialize};
    pub use iot_duration::{Formatted, ParseError, format, parse};
}
