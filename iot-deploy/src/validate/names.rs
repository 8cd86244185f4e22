//! Syntax checks for names: DNS labels, environment variables, image
//! references, CIDRs, cron schedules, durations.

fn lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// A DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub(crate) fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| lower_alnum(c) || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A DNS-1035 label: a DNS-1123 label starting with a letter (Service names).
pub(crate) fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 characters.
pub(crate) fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// The closest DNS-1035 label to `s`, if it differs.
pub(crate) fn dns_label_suggestion(s: &str) -> Option<String> {
    let mut out = String::new();
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        if lower_alnum(c) {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out
        .trim_start_matches(|c: char| c == '-' || c.is_ascii_digit())
        .trim_end_matches('-');
    let out: String = out.chars().take(63).collect();
    let out = out.trim_end_matches('-').to_string();
    (is_dns1035_label(&out) && out != s).then_some(out)
}

/// A Kubernetes label value: empty, or alphanumerics with `-_.` inside, at most 63.
pub(crate) fn is_label_value(s: &str) -> bool {
    s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !s.starts_with(|c: char| !c.is_ascii_alphanumeric())
        && !s.ends_with(|c: char| !c.is_ascii_alphanumeric())
}

/// A portable environment variable name (C identifier).
pub(crate) fn is_env_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// An environment variable name for `s`: upper case, `_` for other characters.
pub(crate) fn env_name_suggestion(s: &str) -> Option<String> {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    let out = if out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{out}")
    } else {
        out
    };
    (is_env_name(&out) && out != s).then_some(out)
}

/// A ConfigMap key / file name: `[-._a-zA-Z0-9]+`, not `.` or `..`.
pub(crate) fn is_config_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// An image repository: optional `host[:port]/`, then lowercase path components.
pub(crate) fn is_repository(s: &str) -> bool {
    let mut parts: Vec<&str> = s.split('/').collect();
    if parts.len() > 1
        && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost")
    {
        let host = parts.remove(0);
        let (name, port) = host.split_once(':').unwrap_or((host, "0"));
        if !is_dns1123_subdomain(&name.to_ascii_lowercase()) || port.parse::<u16>().is_err() {
            return false;
        }
    }
    !parts.is_empty()
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.starts_with(lower_alnum)
                && p.ends_with(lower_alnum)
                && p.chars()
                    .all(|c| lower_alnum(c) || matches!(c, '.' | '_' | '-'))
        })
}

/// An image tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub(crate) fn is_tag(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// An image digest: `sha256:` and 64 lowercase hex digits.
pub(crate) fn is_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

/// An IPv4 CIDR like `10.0.0.0/8`.
pub(crate) fn is_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    ip.parse::<std::net::Ipv4Addr>().is_ok() && bits.parse::<u8>().is_ok_and(|b| b <= 32)
        || ip.parse::<std::net::Ipv6Addr>().is_ok() && bits.parse::<u8>().is_ok_and(|b| b <= 128)
}

/// A five-field cron schedule (numbers, `*`, `,`, `-`, `/`, names), or a macro like `@daily`.
pub(crate) fn is_cron(s: &str) -> bool {
    if let Some(m) = s.strip_prefix('@') {
        return matches!(
            m,
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly"
        );
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    fields.len() == 5
        && fields.iter().all(|f| {
            f.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | ',' | '-' | '/' | '?'))
        })
}

/// A Prometheus duration like `30s`, `1m`, `1h30m`.
pub(crate) fn is_duration(s: &str) -> bool {
    let mut rest = s;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let unit = ["ms", "s", "m", "h", "d", "w", "y"]
            .into_iter()
            .find(|u| rest.starts_with(u));
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
    }
    true
}

/// An absolute path without `..` components or whitespace.
pub(crate) fn is_abs_path(s: &str) -> bool {
    s.starts_with('/') && !s.split('/').any(|c| c == "..") && !s.contains(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_dns1035_label("telemetry-gateway"));
        assert!(!is_dns1035_label("1gateway"));
        assert!(!is_dns1123_label("Gateway"));
        assert_eq!(
            dns_label_suggestion("Telemetry_Gateway"),
            Some("telemetry-gateway".into())
        );
        assert!(is_repository("ghcr.io/acme/gateway"));
        assert!(is_repository("localhost:5000/gw"));
        assert!(!is_repository("ghcr.io/Acme/gateway"));
        assert!(is_tag("1.4.2") && !is_tag("-x"));
        assert!(is_cron("*/5 * * * *") && !is_cron("every day"));
        assert!(is_duration("1h30m") && !is_duration("30"));
        assert_eq!(env_name_suggestion("db-url"), Some("DB_URL".into()));
        assert!(is_cidr("10.0.0.0/8") && !is_cidr("10.0.0.0"));
    }
}
