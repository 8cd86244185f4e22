//! [`InitError`], why the tracing subscriber could not be set up.

use tracing_subscriber::filter::ParseError;

/// Setting up the tracing subscriber failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// A global subscriber is already set (by an earlier `init` or another
    /// library); it stays in place.
    #[error("a global tracing subscriber is already set")]
    SubscriberAlreadySet,
    /// The filter (from the environment variable, or the default directive)
    /// does not parse.
    #[error("invalid tracing filter {directives:?}: {source}")]
    InvalidFilter {
        /// The directives that failed to parse.
        directives: String,
        /// The parser's error.
        source: ParseError,
    },
    /// The format environment variable holds something other than `json`,
    /// `pretty`, `compact` or `auto`.
    #[error("invalid log format {0:?}: use json, pretty, compact or auto")]
    InvalidFormat(String),
}
