//! A throwaway certificate authority for TLS tests.
//!
//! ```no_run
//! let dir = std::env::temp_dir().join("pki-doc");
//! let ca = iot_testkit::pki::Ca::new(&dir, "test-ca");
//! let server = ca.server("server", &["localhost", "127.0.0.1"]);
//! let client = ca.client("dev-1");
//! assert!(server.cert.exists() && client.key.exists() && ca.cert.exists());
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

/// A certificate and its key as PEM files.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// The private key (PEM, PKCS#8 unless converted).
    pub key: PathBuf,
}

/// How a private key file is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    /// `BEGIN PRIVATE KEY` (what rcgen writes).
    Pkcs8,
    /// `BEGIN EC PRIVATE KEY` (OpenSSL's traditional EC format).
    Sec1,
    /// `BEGIN RSA PRIVATE KEY` (an RSA key in OpenSSL's traditional format).
    Pkcs1,
}

/// A self-signed CA that issues certificates into a directory.
pub struct Ca {
    /// The CA certificate (PEM): what clients and brokers trust.
    pub cert: PathBuf,
    dir: PathBuf,
    name: String,
    certificate: Certificate,
    key: KeyPair,
}

fn distinguished(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

impl Ca {
    /// A new CA named `name`, its certificate written to `<dir>/<name>.crt`.
    pub fn new(dir: &Path, name: &str) -> Ca {
        std::fs::create_dir_all(dir).expect("create pki dir");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.distinguished_name = distinguished(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = OffsetDateTime::now_utc() - Duration::days(1);
        params.not_after = OffsetDateTime::now_utc() + Duration::days(365);
        let key = KeyPair::generate().expect("ca key");
        let certificate = params.self_signed(&key).expect("self-sign ca");
        let cert = dir.join(format!("{name}.crt"));
        write(&cert, &certificate.pem());
        Ca {
            cert,
            dir: dir.to_owned(),
            name: name.to_owned(),
            certificate,
            key,
        }
    }

    fn issue(
        &self,
        file: &str,
        cn: &str,
        names: &[&str],
        usage: ExtendedKeyUsagePurpose,
        valid: (OffsetDateTime, OffsetDateTime),
        key: KeyPair,
    ) -> Issued {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("leaf params");
        params.distinguished_name = distinguished(cn);
        params.extended_key_usages = vec![usage];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.not_before = valid.0;
        params.not_after = valid.1;
        let cert = params
            .signed_by(&key, &self.certificate, &self.key)
            .expect("sign leaf");
        let issued = Issued {
            cert: self.dir.join(format!("{}-{file}.crt", self.name)),
            key: self.dir.join(format!("{}-{file}.key", self.name)),
        };
        write(&issued.cert, &cert.pem());
        write(&issued.key, &key.serialize_pem());
        issued
    }

    fn valid_now() -> (OffsetDateTime, OffsetDateTime) {
        let now = OffsetDateTime::now_utc();
        (now - Duration::days(1), now + Duration::days(30))
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn server(&self, file: &str, names: &[&str]) -> Issued {
        self.server_valid(file, names, Self::valid_now())
    }

    /// A server certificate for `names` that expired yesterday.
    pub fn expired_server(&self, file: &str, names: &[&str]) -> Issued {
        let now = OffsetDateTime::now_utc();
        self.server_valid(
            file,
            names,
            (now - Duration::days(30), now - Duration::days(1)),
        )
    }

    fn server_valid(
        &self,
        file: &str,
        names: &[&str],
        valid: (OffsetDateTime, OffsetDateTime),
    ) -> Issued {
        let key = KeyPair::generate().expect("server key");
        let cn = names.first().copied().unwrap_or("server");
        self.issue(
            file,
            cn,
            names,
            ExtendedKeyUsagePurpose::ServerAuth,
            valid,
            key,
        )
    }

    /// A client certificate whose common name is `cn` (Mosquitto's
    /// `use_identity_as_username` makes it the user name).
    pub fn client(&self, cn: &str) -> Issued {
        self.client_as(cn, cn, KeyFormat::Pkcs8)
    }

    /// A client certificate for `cn` written as `<ca>-<file>.crt/.key`,
    /// with the key in `format` (SEC1 and PKCS#1 need the `openssl` tool).
    pub fn client_as(&self, file: &str, cn: &str, format: KeyFormat) -> Issued {
        let key = match format {
            KeyFormat::Pkcs8 | KeyFormat::Sec1 => KeyPair::generate().expect("client key"),
            KeyFormat::Pkcs1 => {
                let pkcs8 = self.dir.join(format!("{file}-rsa-pkcs8.pem"));
                openssl(
                    &[
                        "genpkey",
                        "-algorithm",
                        "RSA",
                        "-pkeyopt",
                        "rsa_keygen_bits:2048",
                        "-out",
                    ],
                    &pkcs8,
                );
                let pem = std::fs::read_to_string(&pkcs8).expect("read rsa key");
                KeyPair::from_pkcs8_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256)
                    .expect("load rsa key")
            }
        };
        let issued = self.issue(
            file,
            cn,
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
            Self::valid_now(),
            key,
        );
        if format != KeyFormat::Pkcs8 {
            // OpenSSL's "traditional" output is SEC1 for EC keys and
            // PKCS#1 for RSA keys.
            let out = issued.key.with_extension("trad.key");
            let status = Command::new("openssl")
                .args(["pkey", "-traditional", "-in"])
                .arg(&issued.key)
                .arg("-out")
                .arg(&out)
                .status()
                .expect("run openssl (install the Debian package `openssl`)");
            assert!(status.success(), "openssl pkey -traditional failed");
            std::fs::rename(&out, &issued.key).expect("replace key");
        }
        issued
    }
}

fn openssl(args: &[&str], out: &Path) {
    let status = Command::new("openssl")
        .args(args)
        .arg(out)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run openssl (install the Debian package `openssl`)");
    assert!(status.success(), "openssl {args:?} failed");
}
