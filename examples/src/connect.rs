//! How the demo binaries reach an external broker: URL, TLS files and
//! credentials from flags or the environment the generated deployment
//! files set (`MQTT_URL`, `MQTT_CA_FILE`, `MQTT_CERT_FILE`,
//! `MQTT_KEY_FILE`, `MQTT_USERNAME`, `MQTT_PASSWORD_FILE`).
//!
//! Passwords are never taken from the command line (process listings show
//! it): only from a file or `MQTT_PASSWORD`.

use std::path::PathBuf;

use iot_core::mqtt::{MqttConfig, TlsConfig};

/// Broker connection flags shared by `gateway` and `device-sim`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BrokerArgs {
    /// The broker: mqtt://HOST:PORT, mqtts://HOST:PORT (TLS), ws://... or
    /// wss://HOST:PORT/PATH (MQTT over WebSockets). Default: MQTT_URL, or
    /// MQTT_HOST/MQTT_PORT, when set.
    #[arg(long, value_name = "URL", env = "GATEWAY_BROKER")]
    pub broker: Option<String>,
    /// CA certificates (PEM) to verify the broker against (mqtts, wss);
    /// without it, the platform's trust store.
    #[arg(long, value_name = "PATH", env = "MQTT_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain (PEM) for mutual TLS; needs --key.
    #[arg(long, value_name = "PATH", env = "MQTT_CERT_FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM: PKCS#8, PKCS#1 or SEC1); needs --cert.
    #[arg(long, value_name = "PATH", env = "MQTT_KEY_FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// User name for the broker.
    #[arg(long, env = "MQTT_USERNAME")]
    pub username: Option<String>,
    /// A file whose first line is the password (or set MQTT_PASSWORD);
    /// never on the command line.
    #[arg(long, value_name = "PATH", env = "MQTT_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
}

impl BrokerArgs {
    /// The external broker's URL, if one is configured: `--broker`, else
    /// `MQTT_URL`, else `MQTT_HOST`/`MQTT_PORT`.
    pub fn url(&self) -> Option<String> {
        if let Some(url) = &self.broker {
            return Some(url.clone());
        }
        let env = |k| std::env::var(k).ok().filter(|v: &String| !v.is_empty());
        if let Some(url) = env("MQTT_URL") {
            return Some(url);
        }
        let host = env("MQTT_HOST")?;
        let port = env("MQTT_PORT").unwrap_or_else(|| "1883".into());
        Some(format!("mqtt://{host}:{port}"))
    }

    /// The connection settings for `url` with these TLS files and
    /// credentials (the password read now).
    pub fn mqtt_config(&self, url: &str) -> Result<MqttConfig, String> {
        let mut mqtt = MqttConfig::default()
            .broker_url(url)
            .map_err(|e| format!("--broker {url}: {e}"))?;
        let mut tls = TlsConfig::default();
        if let Some(ca) = &self.ca_file {
            tls = tls.ca_file(ca);
        }
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            tls = tls.client_auth(cert, key);
        }
        if !mqtt.transport.uses_tls() && tls != TlsConfig::default() {
            return Err(format!(
                "--ca-file/--cert/--key need a TLS broker URL (mqtts:// or wss://), not {url}"
            ));
        }
        mqtt = mqtt.tls(tls);
        if let Some(user) = &self.username {
            let password = match (&self.password_file, std::env::var("MQTT_PASSWORD")) {
                (Some(path), _) => std::fs::read_to_string(path)
                    .map_err(|e| format!("--password-file {}: {e}", path.display()))?
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                (None, Ok(p)) => p,
                (None, Err(_)) => String::new(),
            };
            mqtt = mqtt.credentials(user.clone(), password);
        } else if self.password_file.is_some() {
            return Err("--password-file needs --username".into());
        }
        Ok(mqtt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_flags_need_a_tls_url() {
        let args = BrokerArgs {
            ca_file: Some("ca.pem".into()),
            ..BrokerArgs::default()
        };
        assert!(args.mqtt_config("mqtt://b:1883").is_err());
        let c = args.mqtt_config("mqtts://b").unwrap();
        assert_eq!(
            (c.port, c.tls.ca_file.as_deref()),
            (8883, Some("ca.pem".as_ref()))
        );
    }

    #[test]
    fn password_comes_from_its_file() {
        let path = std::env::temp_dir().join(format!("pw-{}", std::process::id()));
        std::fs::write(&path, "s3cret\n").unwrap();
        let args = BrokerArgs {
            username: Some("u".into()),
            password_file: Some(path.clone()),
            ..BrokerArgs::default()
        };
        let c = args.mqtt_config("mqtt://b").unwrap();
        assert_eq!(c.credentials.unwrap().password, "s3cret");
        std::fs::remove_file(path).unwrap();
    }
}
