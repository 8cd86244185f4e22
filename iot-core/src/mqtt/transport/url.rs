//! `mqtt://`, `mqtts://`, `ws://` and `wss://` broker URLs.

use super::Transport;
use crate::mqtt::error::ConfigError;

/// A broker URL taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BrokerUrl {
    pub(crate) transport: Transport,
    /// Host name or address; an IPv6 address without its brackets.
    pub(crate) host: String,
    pub(crate) port: u16,
    /// WebSocket path (`/mqtt` when the URL has none); `None` otherwise.
    pub(crate) ws_path: Option<String>,
}

/// The path a WebSocket URL without one gets: what Mosquitto, EMQX,
/// HiveMQ and AWS IoT Core serve MQTT on.
pub(crate) const DEFAULT_WS_PATH: &str = "/mqtt";

/// Parses `scheme://host[:port][/path]`.
///
/// Credentials in the URL are refused: URLs end up in logs, process
/// listings and manifests; passwords belong in
/// [`credentials`](crate::mqtt::MqttConfig::credentials), read from a file
/// or the environment.
pub(crate) fn parse_broker_url(url: &str) -> Result<BrokerUrl, ConfigError> {
    let err = |msg: String| ConfigError::new("mqtt.url", msg);
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        err(format!(
            "{url:?} has no scheme (mqtt://, mqtts://, ws://, wss://)"
        ))
    })?;
    let transport = match scheme.to_ascii_lowercase().as_str() {
        "mqtt" | "tcp" => Transport::Tcp,
        "mqtts" | "ssl" | "tls" => Transport::Tls,
        "ws" => Transport::Ws,
        "wss" => Transport::Wss,
        other => {
            return Err(err(format!(
                "unknown scheme {other:?} (mqtt, mqtts, ws or wss)"
            )));
        }
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err(err(
            "credentials in the URL are refused (URLs get logged): set them in the configuration"
                .into(),
        ));
    }
    if let Some(c) = url.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(err(format!("{url:?} contains {c:?}")));
    }
    let (host, port) = split_host_port(authority).map_err(|m| err(format!("{url:?}: {m}")))?;
    let port = port.unwrap_or(transport.default_port());
    let ws_path = if transport.uses_websocket() {
        Some(if path.is_empty() {
            DEFAULT_WS_PATH.to_owned()
        } else {
            path.to_owned()
        })
    } else {
        if !path.is_empty() && path != "/" {
            return Err(err(format!(
                "{url:?}: a path ({path:?}) only means something for ws:// and wss://"
            )));
        }
        None
    };
    Ok(BrokerUrl {
        transport,
        host,
        port,
        ws_path,
    })
}

fn split_host_port(authority: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let end = rest.find(']').ok_or("unclosed '[' in the host")?;
        let host = &rest[..end];
        host.parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("[{host}] is not an IPv6 address"))?;
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(format!("unexpected {after:?} after the host")),
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => return Err(format!("port {p:?} is not in 1..=65535")),
            Ok(n) => Some(n),
        },
    };
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> (Transport, String, u16, Option<String>) {
        let u = parse_broker_url(url).unwrap();
        (u.transport, u.host, u.port, u.ws_path)
    }

    #[test]
    fn schemes_and_default_ports() {
        assert_eq!(
            ok("mqtt://broker"),
            (Transport::Tcp, "broker".into(), 1883, None)
        );
        assert_eq!(
            ok("mqtts://b.example:8884"),
            (Transport::Tls, "b.example".into(), 8884, None)
        );
        assert_eq!(ok("MQTTS://b/"), (Transport::Tls, "b".into(), 8883, None));
        assert_eq!(
            ok("ws://b"),
            (Transport::Ws, "b".into(), 80, Some("/mqtt".into()))
        );
        assert_eq!(
            ok("wss://b:443/custom/path?x=1"),
            (
                Transport::Wss,
                "b".into(),
                443,
                Some("/custom/path?x=1".into())
            )
        );
        assert_eq!(
            ok("mqtts://[::1]:9"),
            (Transport::Tls, "::1".into(), 9, None)
        );
        assert_eq!(
            ok("mqtt://[::1]"),
            (Transport::Tcp, "::1".into(), 1883, None)
        );
    }

    #[test]
    fn refusals_name_the_problem() {
        for (url, needle) in [
            ("broker:1883", "no scheme"),
            ("http://b", "unknown scheme"),
            ("mqtts://user:pw@b", "credentials"),
            ("mqtt://b:0", "port"),
            ("mqtt://b:70000", "port"),
            ("mqtt://b:x", "port"),
            ("mqtt://", "no host"),
            ("mqtt://:1883", "no host"),
            ("mqtt://b/path", "path"),
            ("mqtt://[::1", "unclosed"),
            ("mqtt://[nope]:1", "IPv6"),
            ("mqtt://b\n:1", "contains"),
        ] {
            let e = parse_broker_url(url).unwrap_err();
            assert_eq!(e.field, "mqtt.url");
            assert!(e.message.contains(needle), "{url}: {}", e.message);
        }
    }

    proptest::proptest! {
        /// Any string parses or fails with a typed error; never a panic.
        #[test]
        fn never_panics(s in ".{0,64}") {
            let _ = parse_broker_url(&s);
        }

        /// Host and port survive a round trip.
        #[test]
        fn host_port_round_trip(host in "[a-z][a-z0-9.-]{0,30}", port in 1u16.., tls: bool) {
            let scheme = if tls { "mqtts" } else { "mqtt" };
            let u = parse_broker_url(&format!("{scheme}://{host}:{port}")).unwrap();
            proptest::prop_assert_eq!(u.host, host);
            proptest::prop_assert_eq!(u.port, port);
        }
    }
}
