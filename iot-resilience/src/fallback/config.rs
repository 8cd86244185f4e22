//! Fallback configuration (its name, for metrics and tracing).

use std::borrow::Cow;

use crate::ConfigError;

/// Configuration of a [`Fallback`](super::Fallback).
///
/// With serde, JSON looks like `{"name": "cached_reading"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[non_exhaustive]
pub struct FallbackConfig {
    /// The `name` label of metrics and tracing events. Default:
    /// `"fallback"`.
    pub name: Cow<'static, str>,
}

impl Default for FallbackConfig {
    fn default() -> Self {
        Self {
            name: Cow::Borrowed("fallback"),
        }
    }
}

impl FallbackConfig {
    /// A configuration named `name`.
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self { name: name.into() }
    }

    /// Sets [`name`](Self::name).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Checks every field; the error names the field and the bad value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.name.is_empty() {
            return Err(ConfigError::new(
                "fallback.name",
                "the name must not be empty",
            ));
        }
        Ok(())
    }
}

crate::config::validated_config!(FallbackConfig);
