//! [`TracingConfig`]: output format, filter defaults, destination.

use std::borrow::Cow;
use std::io::IsTerminal;

use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;

use super::error::InitError;

/// How events are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// One JSON object per line, event fields flattened to the top level,
    /// plus the current span: for production and log shippers.
    Json,
    /// Multi-line human output with colours on a terminal: for development.
    Pretty,
    /// One human-readable line per event.
    Compact,
    /// From the format environment variable (`LOG_FORMAT` by default:
    /// `json`, `pretty`, `compact` or `auto`); unset or `auto` means
    /// [`Pretty`](Self::Pretty) when the output is a terminal, otherwise
    /// [`Json`](Self::Json).
    #[default]
    Auto,
}

impl Format {
    fn parse(value: &str) -> Result<Self, InitError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "pretty" => Ok(Self::Pretty),
            "compact" => Ok(Self::Compact),
            "auto" | "" => Ok(Self::Auto),
            _ => Err(InitError::InvalidFormat(value.to_owned())),
        }
    }
}

/// Where events are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    /// Standard output (the default, as container runtimes expect).
    #[default]
    Stdout,
    /// Standard error.
    Stderr,
}

impl Output {
    pub(crate) fn is_terminal(self) -> bool {
        match self {
            Self::Stdout => std::io::stdout().is_terminal(),
            Self::Stderr => std::io::stderr().is_terminal(),
        }
    }
}

/// Configuration for [`init`](super::init).
///
/// ```
/// use iot_observe::tracing_init::{Format, TracingConfig};
///
/// let config = TracingConfig::json().default_directive("info,hyper=warn");
/// assert_eq!(config.format, Format::Json);
/// assert_eq!(config.filter_env.as_deref(), Some("RUST_LOG"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TracingConfig {
    /// Output format. Default: [`Format::Auto`].
    pub format: Format,
    /// Filter directives used when the filter variable is unset or empty.
    /// Default: `info`.
    pub default_directive: Cow<'static, str>,
    /// The variable holding filter directives. Default: `RUST_LOG`;
    /// `None` ignores the environment.
    pub filter_env: Option<Cow<'static, str>>,
    /// The variable [`Format::Auto`] reads. Default: `LOG_FORMAT`.
    pub format_env: Option<Cow<'static, str>>,
    /// Destination. Default: [`Output::Stdout`].
    pub output: Output,
    /// Colours for the human formats. `None` (default): on when the output
    /// is a terminal and `NO_COLOR` is unset. JSON never has colours.
    pub ansi: Option<bool>,
}

impl Default for TracingConfig {
    fn default() -> Self {
        Self {
            format: Format::Auto,
            default_directive: Cow::Borrowed("info"),
            filter_env: Some(Cow::Borrowed("RUST_LOG")),
            format_env: Some(Cow::Borrowed("LOG_FORMAT")),
            output: Output::Stdout,
            ansi: None,
        }
    }
}

impl TracingConfig {
    /// The defaults with [`Format::Json`].
    pub fn json() -> Self {
        Self::default().format(Format::Json)
    }

    /// The defaults with [`Format::Pretty`].
    pub fn pretty() -> Self {
        Self::default().format(Format::Pretty)
    }

    /// The defaults with [`Format::Compact`].
    pub fn compact() -> Self {
        Self::default().format(Format::Compact)
    }

    /// Sets the format.
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// Sets the directives used when the filter variable is unset.
    pub fn default_directive(mut self, directives: impl Into<Cow<'static, str>>) -> Self {
        self.default_directive = directives.into();
        self
    }

    /// Sets the filter variable; `None` ignores the environment.
    pub fn filter_env(mut self, var: Option<impl Into<Cow<'static, str>>>) -> Self {
        self.filter_env = var.map(Into::into);
        self
    }

    /// Sets the destination.
    pub fn output(mut self, output: Output) -> Self {
        self.output = output;
        self
    }

    /// Forces colours on or off.
    pub fn ansi(mut self, ansi: bool) -> Self {
        self.ansi = Some(ansi);
        self
    }

    /// The format to use: [`Format::Auto`] resolved from the format
    /// variable, then from `terminal`.
    pub(crate) fn resolve_format(&self, terminal: bool) -> Result<Format, InitError> {
        let mut format = self.format;
        if format == Format::Auto {
            if let Some(value) = self.format_env.as_deref().and_then(env) {
                format = Format::parse(&value)?;
            }
        }
        Ok(match format {
            Format::Auto if terminal => Format::Pretty,
            Format::Auto => Format::Json,
            other => other,
        })
    }

    /// The filter from the filter variable, or the default directives,
    /// and those directives.
    pub(crate) fn filter(&self) -> Result<(EnvFilter, String), InitError> {
        let from_env = self.filter_env.as_deref().and_then(env);
        let directives = from_env
            .filter(|value| !value.trim().is_empty())
            .unwrap_or_else(|| self.default_directive.to_string());
        match EnvFilter::builder().parse(&directives) {
            Ok(filter) => Ok((filter, directives)),
            Err(source) => Err(InitError::InvalidFilter { directives, source }),
        }
    }
}

/// A variable's value; unset and non-UTF-8 both count as unset.
fn env(var: &str) -> Option<String> {
    std::env::var(var).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names() {
        assert_eq!(Format::parse(" JSON ").unwrap(), Format::Json);
        assert_eq!(Format::parse("compact").unwrap(), Format::Compact);
        assert!(matches!(Format::parse("xml"), Err(InitError::InvalidFormat(v)) if v == "xml"));
    }

    #[test]
    fn auto_follows_the_terminal() {
        let config = TracingConfig::default().format(Format::Auto);
        let config = TracingConfig {
            format_env: None,
            ..config
        };
        assert_eq!(config.resolve_format(true).unwrap(), Format::Pretty);
        assert_eq!(config.resolve_format(false).unwrap(), Format::Json);
        assert_eq!(
            TracingConfig::compact().resolve_format(false).unwrap(),
            Format::Compact
        );
    }

    #[test]
    fn invalid_default_directive_is_an_error() {
        let config = TracingConfig::json()
            .filter_env(None::<&'static str>)
            .default_directive("info,my_crate=loud");
        assert!(matches!(
            config.filter(),
            Err(InitError::InvalidFilter { directives, .. }) if directives == "info,my_crate=loud"
        ));
    }
}
