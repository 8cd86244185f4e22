//! rustls client configurations from [`TlsConfig`], built anew for every
//! connection so that rotated files are picked up.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use super::{TlsConfig, TlsError};

/// The largest PEM file read: certificate bundles are kilobytes; Debian's
/// whole CA bundle is about 220 KB.
const MAX_PEM_BYTES: u64 = 4 << 20;

/// The crypto provider chosen by feature: *ring* when `tls-ring` is on
/// (also when both are), else *aws-lc-rs*. Passed explicitly, so the
/// process-wide default provider (which rustls cannot pick when both are
/// compiled in) is never needed.
fn provider() -> Arc<CryptoProvider> {
    // rustls 0.23.48 deprecated *ring*'s provider to steer users to
    // aws-lc-rs (post-quantum key exchange); it is still supported and
    // builds with a C compiler alone in a fraction of aws-lc's build time.
    // `tls-aws-lc` is the choice for post-quantum or FIPS.
    #[cfg(feature = "tls-ring")]
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    #[cfg(not(feature = "tls-ring"))]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    Arc::new(provider)
}

impl TlsConfig {
    /// The rustls configuration these settings describe, with every file
    /// read now. The publisher and consumer call this before each
    /// connection; call it yourself to check the files at start-up.
    pub fn client_config(&self) -> Result<ClientConfig, TlsError> {
        if let Err((field, reason)) = self.validate() {
            return Err(TlsError::Rejected { field, reason });
        }
        let provider = provider();
        let rejected = |field: &'static str| {
            move |e: rustls::Error| TlsError::Rejected {
                field,
                reason: e.to_string(),
            }
        };
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(rejected("mqtt.tls"))?;
        let builder = if self.dangerous_disable_verification {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate { provider }))
        } else {
            let roots = Arc::new(self.roots()?);
            let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| TlsError::Rejected {
                    field: "mqtt.tls.ca_file",
                    reason: e.to_string(),
                })?;
            match &self.server_name {
                Some(name) => {
                    let name =
                        ServerName::try_from(name.clone()).map_err(|e| TlsError::Rejected {
                            field: "mqtt.tls.server_name",
                            reason: format!("{name:?}: {e}"),
                        })?;
                    builder
                        .dangerous()
                        .with_custom_certificate_verifier(Arc::new(VerifyAs {
                            inner: verifier,
                            name,
                        }))
                }
                None => builder.with_webpki_verifier(verifier),
            }
        };
        let mut config = match (&self.client_cert_file, &self.client_key_file) {
            (Some(cert), Some(key)) => {
                let chain = certificates(cert, "mqtt.tls.client_cert_file")?;
                let key = private_key(key)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(rejected("mqtt.tls.client_key_file"))?
            }
            _ => builder.with_no_client_auth(),
        };
        config.alpn_protocols = self.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        Ok(config)
    }

    fn roots(&self) -> Result<RootCertStore, TlsError> {
        let mut roots = RootCertStore::empty();
        if self.uses_platform_roots() {
            roots.roots.extend(platform_roots()?.roots.iter().cloned());
        }
        if let Some(path) = &self.ca_file {
            let certs = certificates(path, "mqtt.tls.ca_file")?;
            let (added, ignored) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(TlsError::Parse {
                    field: "mqtt.tls.ca_file",
                    path: path.clone(),
                    reason: format!("none of its {ignored} certificates is a usable CA"),
                });
            }
        }
        Ok(roots)
    }
}

/// The platform's trust anchors, loaded once per process (they change with
/// OS updates, not between reconnects).
fn platform_roots() -> Result<&'static RootCertStore, TlsError> {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    if let Some(roots) = ROOTS.get() {
        return Ok(roots);
    }
    let loaded = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(loaded.certs);
    if roots.is_empty() {
        let reason = if loaded.errors.is_empty() {
            "no certificates found (is the ca-certificates package installed?)".to_owned()
        } else {
            loaded
                .errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        };
        return Err(TlsError::PlatformRoots { reason });
    }
    Ok(ROOTS.get_or_init(|| roots))
}

/// Reads a file of at most [`MAX_PEM_BYTES`].
fn read_pem(path: &Path, field: &'static str) -> Result<Vec<u8>, TlsError> {
    let read = |source| TlsError::Read {
        field,
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read)?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(TlsError::Parse {
            field,
            path: path.to_owned(),
            reason: format!("larger than {MAX_PEM_BYTES} bytes"),
        });
    }
    Ok(bytes)
}

/// Every `CERTIFICATE` in a PEM file; at least one.
fn certificates(
    path: &Path,
    field: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read_pem(path, field)?;
    let parse = |reason: String| TlsError::Parse {
        field,
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| parse(format!("not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(parse("no PEM CERTIFICATE block".into()));
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let field = "mqtt.tls.client_key_file";
    let bytes = read_pem(path, field)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| TlsError::Parse {
        field,
        path: path.to_owned(),
        reason: match e {
            rustls_pki_types::pem::Error::NoItemsFound => {
                "no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block".into()
            }
            other => format!("not valid PEM: {other}"),
        },
    })
}

/// Verifies the server's chain as usual, but against a configured name
/// instead of the host connected to.
#[derive(Debug)]
struct VerifyAs {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for VerifyAs {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _connected_to: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `dangerous_disable_verification`: any certificate is accepted. The
/// handshake signatures are still checked, which proves only that the
/// server holds the key of whatever certificate it sent.
#[derive(Debug)]
struct AcceptAnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn tempdir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "iot-core-tls-{}-{}",
            std::process::id(),
            next_suffix()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn next_suffix() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        N.fetch_add(1, Ordering::Relaxed)
    }

    #[test]
    fn file_errors_name_file_and_field() {
        let dir = tempdir();
        let missing = dir.join("missing.pem");
        let e = TlsConfig::default()
            .ca_file(&missing)
            .client_config()
            .unwrap_err();
        assert_eq!(e.field(), "mqtt.tls.ca_file");
        assert!(matches!(e, TlsError::Read { .. }));
        assert!(e.to_string().contains("missing.pem"), "{e}");

        let garbage = write(&dir, "garbage.pem", "hello\n");
        let e = TlsConfig::default()
            .ca_file(&garbage)
            .client_config()
            .unwrap_err();
        assert!(e.to_string().contains("no PEM CERTIFICATE"), "{e}");

        let broken = write(
            &dir,
            "broken.pem",
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        );
        let e = TlsConfig::default()
            .ca_file(&broken)
            .client_config()
            .unwrap_err();
        assert!(matches!(e, TlsError::Parse { .. }), "{e}");

        let e = TlsConfig::default()
            .client_auth(&garbage, &garbage)
            .client_config()
            .unwrap_err();
        assert_eq!(e.field(), "mqtt.tls.client_cert_file", "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn settings_are_checked_before_files() {
        let half = TlsConfig {
            client_cert_file: Some("c.pem".into()),
            ..TlsConfig::default()
        };
        assert_eq!(
            half.client_config().unwrap_err().field(),
            "mqtt.tls.client_key_file"
        );
        let none = TlsConfig::default().platform_roots(false);
        assert_eq!(
            none.client_config().unwrap_err().field(),
            "mqtt.tls.platform_roots"
        );
        let alpn = TlsConfig::default().alpn([""]);
        assert_eq!(alpn.client_config().unwrap_err().field(), "mqtt.tls.alpn");
    }

    #[test]
    fn dangerous_mode_needs_no_roots_and_keeps_alpn() {
        let c = TlsConfig::default()
            .platform_roots(false)
            .dangerous_disable_verification(true)
            .alpn(["x-amzn-mqtt-ca"])
            .client_config()
            .unwrap();
        assert_eq!(c.alpn_protocols, vec![b"x-amzn-mqtt-ca".to_vec()]);
    }
}
