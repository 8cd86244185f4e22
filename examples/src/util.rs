//! Small helpers shared by the binaries: durations on the command line,
//! broker URLs, wall-clock time, a minimal HTTP GET and process statistics.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Parses a duration flag in [the iot-rs duration format](iot_duration)
/// (`"250ms"`, `"1.5s"`, `"1m30s"`, `"2h"`); a bare number is seconds
/// (`"1.5"` is 1.5 s), as these flags always took.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let parsed = if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        iot_duration::parse(&format!("{t}s"))
    } else {
        iot_duration::parse(s)
    };
    parsed.map_err(|e| format!("{s:?}: {e}"))
}

/// A broker address from `mqtt://host:port` (or `host:port`; port 1883 by
/// default).
pub fn parse_broker(url: &str) -> Result<(String, u16), String> {
    let rest = if let Some(rest) = url.strip_prefix("mqtt://") {
        rest
    } else if url.contains("://") {
        return Err(format!(
            "{url}: only mqtt:// URLs are supported (no TLS or WebSocket in the demo)"
        ));
    } else {
        url
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("{url}: {p:?} is not a port"))?,
        ),
        None => (rest, 1883),
    };
    if host.is_empty() {
        return Err(format!("{url}: no host"));
    }
    Ok((
        host.trim_matches(|c| c == '[' || c == ']').to_string(),
        port,
    ))
}

/// Microseconds since the Unix epoch.
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// A blocking `GET path` with `Connection: close`; returns the status code
/// and the body. Enough for probes, tests and the `healthcheck` subcommand.
pub fn http_get(addr: impl ToSocketAddrs, path: &str) -> std::io::Result<(u16, String)> {
    let addr: SocketAddr = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("not an HTTP response"))?;
    let body = match text.find("\r\n\r\n") {
        Some(i) => text[i + 4..].to_string(),
        None => String::new(),
    };
    // The probe server answers with a fixed length; a chunked body (other
    // servers) is returned as is.
    Ok((status, body))
}

/// CPU time used by this process (user + system) and its peak and current
/// resident set, from `/proc/self` (Linux; zeros elsewhere).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcStats {
    /// User plus system CPU seconds.
    pub cpu_seconds: f64,
    /// Peak resident set (`VmHWM`), KiB.
    pub peak_rss_kib: u64,
    /// Current resident set (`VmRSS`), KiB.
    pub rss_kib: u64,
}

impl ProcStats {
    /// Reads the statistics now.
    pub fn read() -> Self {
        let mut stats = ProcStats::default();
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
            // Fields after the command name (which may contain spaces).
            if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) {
                let fields: Vec<&str> = rest.split_whitespace().collect();
                // utime and stime are fields 14 and 15 (1-based) of the
                // line, 12 and 13 after the name and state.
                let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
                if let (Some(u), Some(s)) = (ticks(11), ticks(12)) {
                    // USER_HZ is 100 on every Linux platform Rust targets.
                    stats.cpu_seconds = (u + s) / 100.0;
                }
            }
        }
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            for line in status.lines() {
                let kib = || {
                    line.split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0)
                };
                if line.starts_with("VmHWM:") {
                    stats.peak_rss_kib = kib();
                } else if line.starts_with("VmRSS:") {
                    stats.rss_kib = kib();
                }
            }
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_duration("1500us").unwrap(),
            Duration::from_micros(1500)
        );
        assert_eq!(
            parse_duration("10 parsecs").unwrap_err(),
            "\"10 parsecs\": unknown unit (use ns, us, ms, s, m, h or d) at byte 3: \"parsecs\""
        );
        assert!(parse_duration("1..5").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn brokers() {
        assert_eq!(
            parse_broker("mqtt://127.0.0.1:1884").unwrap(),
            ("127.0.0.1".into(), 1884)
        );
        assert_eq!(parse_broker("broker").unwrap(), ("broker".into(), 1883));
        assert!(parse_broker("mqtts://x:8883").is_err());
        assert!(parse_broker("mqtt://x:notaport").is_err());
    }
}
