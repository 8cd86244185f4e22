//! Registry construction errors.

/// Why [`HealthRegistryBuilder::build`](super::HealthRegistryBuilder::build)
/// refused a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// A name is not `component:measurement` (two non-empty parts without
    /// `:` or whitespace).
    #[error("invalid check name {0:?}: expected \"component:measurement\"")]
    InvalidName(String),
    /// Two checks share a name (it keys the response body and the metrics).
    #[error("duplicate check name {0:?}")]
    DuplicateName(String),
    /// The refresh interval is zero.
    #[error("the refresh interval must be greater than zero")]
    ZeroInterval,
    /// A check's timeout (its own or the default) is zero.
    #[error("the timeout of check {0:?} must be greater than zero")]
    ZeroTimeout(String),
}
