//! What can go wrong turning TLS settings into a client configuration.
//!
//! Plain data (no rustls types), so the type is the same with and without
//! a TLS feature.

use std::path::PathBuf;

use super::Transport;

/// A TLS setting could not be turned into a client configuration: a file
/// is missing, unreadable or holds no usable PEM item, or rustls refused
/// the combination. Each case names the file and the configuration field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("{field}: cannot read {}: {source}", path.display())]
    Read {
        /// The configuration field that names the file.
        field: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not the PEM it should be.
    #[error("{field}: {}: {reason}", path.display())]
    Parse {
        /// The configuration field that names the file.
        field: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The platform's certificate store could not be loaded.
    #[error(
        "mqtt.tls.platform_roots: the platform certificate store has no usable certificate: {reason}"
    )]
    PlatformRoots {
        /// The loader's errors.
        reason: String,
    },
    /// rustls refused the settings (for example a key type it does not
    /// support, or an invalid server name).
    #[error("{field}: {reason}")]
    Rejected {
        /// The field most likely at fault.
        field: &'static str,
        /// rustls's reason.
        reason: String,
    },
    /// The transport needs a feature this build was compiled without.
    #[error("transport {transport} needs the {feature:?} feature of iot-core")]
    Unsupported {
        /// The transport asked for.
        transport: Transport,
        /// The feature that provides it.
        feature: &'static str,
    },
}

impl TlsError {
    pub(crate) fn unsupported(transport: Transport) -> Self {
        Self::Unsupported {
            transport,
            feature: transport.feature(),
        }
    }

    /// The configuration field the error is about (`mqtt.tls.ca_file`, ...).
    pub fn field(&self) -> &'static str {
        match self {
            TlsError::Read { field, .. }
            | TlsError::Parse { field, .. }
            | TlsError::Rejected { field, .. } => field,
            TlsError::PlatformRoots { .. } => "mqtt.tls.platform_roots",
            TlsError::Unsupported { .. } => "mqtt.transport",
        }
    }
}
