//! Building the subscriber a [`TracingConfig`] describes.

use tracing::Subscriber;
use tracing_subscriber::fmt::{self, MakeWriter};
use tracing_subscriber::layer::{Layer, Layered, SubscriberExt};
use tracing_subscriber::{EnvFilter, Registry, reload};

use super::config::{Format, TracingConfig};
use super::error::InitError;
use super::reload::LogHandle;

/// A type-erased subscriber, whatever the format.
pub type BoxSubscriber = Box<dyn Subscriber + Send + Sync + 'static>;

/// The registry under its reloadable filter, which the output layer wraps.
type Filtered = Layered<reload::Layer<EnvFilter, Registry>, Registry>;

impl TracingConfig {
    /// Builds the subscriber writing to `make_writer` instead of
    /// [`output`](Self::output), without setting it globally: for tests
    /// (`tracing::subscriber::with_default`) or to compose your own setup.
    ///
    /// [`Format::Auto`] resolves as if the output were not a terminal, and
    /// colours are off unless [`ansi`](Self::ansi) forces them.
    ///
    /// ```
    /// use iot_observe::tracing_init::TracingConfig;
    ///
    /// let subscriber = TracingConfig::json().build_subscriber(std::io::sink).unwrap();
    /// tracing::subscriber::with_default(subscriber, || tracing::info!(device = "d-1", "ready"));
    /// ```
    ///
    /// # Errors
    ///
    /// [`InitError::InvalidFilter`] or [`InitError::InvalidFormat`].
    pub fn build_subscriber<W>(&self, make_writer: W) -> Result<BoxSubscriber, InitError>
    where
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        self.build_with(make_writer, false)
            .map(|(subscriber, _)| subscriber)
    }

    /// [`build_subscriber`](Self::build_subscriber), plus the
    /// [`LogHandle`] that changes its filter while it runs.
    ///
    /// # Errors
    ///
    /// As [`build_subscriber`](Self::build_subscriber).
    pub fn build_reloadable<W>(
        &self,
        make_writer: W,
    ) -> Result<(BoxSubscriber, LogHandle), InitError>
    where
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        self.build_with(make_writer, false)
    }

    /// Builds the subscriber for [`output`](Self::output).
    pub(crate) fn build_for_output(&self) -> Result<(BoxSubscriber, LogHandle), InitError> {
        let terminal = self.output.is_terminal();
        match self.output {
            super::Output::Stdout => self.build_with(std::io::stdout, terminal),
            super::Output::Stderr => self.build_with(std::io::stderr, terminal),
        }
    }

    fn build_with<W>(
        &self,
        make_writer: W,
        terminal: bool,
    ) -> Result<(BoxSubscriber, LogHandle), InitError>
    where
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        let (filter, directives) = self.filter()?;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let ansi = self.ansi.unwrap_or(terminal && !no_color);
        let output: Box<dyn Layer<Filtered> + Send + Sync> = match self.resolve_format(terminal)? {
            Format::Json => Box::new(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_ansi(false)
                    .with_writer(make_writer),
            ),
            Format::Pretty => Box::new(
                fmt::layer()
                    .pretty()
                    .with_ansi(ansi)
                    .with_writer(make_writer),
            ),
            Format::Compact | Format::Auto => Box::new(
                fmt::layer()
                    .compact()
                    .with_ansi(ansi)
                    .with_writer(make_writer),
            ),
        };
        let (filter, handle) = reload::Layer::new(filter);
        let subscriber = Registry::default().with(filter).with(output);
        Ok((Box::new(subscriber), LogHandle::new(handle, directives)))
    }
}
