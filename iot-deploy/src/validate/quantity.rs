//! Kubernetes resource quantities: parsing, checking and suggestions.

/// What a quantity measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Measure {
    Cpu,
    Memory,
}

const BINARY: [(&str, f64); 6] = [
    ("Ki", 1024.0),
    ("Mi", 1048576.0),
    ("Gi", 1073741824.0),
    ("Ti", 1099511627776.0),
    ("Pi", 1125899906842624.0),
    ("Ei", 1152921504606846976.0),
];
const DECIMAL: [(&str, f64); 9] = [
    ("n", 1e-9),
    ("u", 1e-6),
    ("m", 1e-3),
    ("", 1.0),
    ("k", 1e3),
    ("M", 1e6),
    ("G", 1e9),
    ("T", 1e12),
    ("P", 1e15),
];

/// The value of a Kubernetes quantity (`^[+-]?(\d+(\.\d*)?|\.\d+)(suffix)?$`,
/// suffix binary `Ki`..`Ei`, decimal `n`..`E`, or an exponent `e3`).
pub(crate) fn parse(q: &str) -> Option<f64> {
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let digits = num.strip_prefix(['+', '-']).unwrap_or(num);
    let valid_num = !digits.is_empty()
        && digits.chars().filter(|&c| c == '.').count() <= 1
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits != ".";
    if !valid_num {
        return None;
    }
    let n: f64 = num.parse().ok()?;
    if let Some(exp) = suffix.strip_prefix(['e', 'E']) {
        let e: i32 = exp.parse().ok()?;
        return Some(n * 10f64.powi(e));
    }
    if suffix == "E" {
        return Some(n * 1e18);
    }
    BINARY
        .iter()
        .chain(DECIMAL.iter())
        .find(|(s, _)| *s == suffix)
        .map(|(_, m)| n * m)
}

/// Checks a quantity for `measure`; the error names the problem and, when
/// there is one, the likely intended spelling.
pub(crate) fn check(q: &str, measure: Measure) -> Result<f64, (String, Option<String>)> {
    let what = match measure {
        Measure::Cpu => "a CPU quantity like \"500m\" or \"1\"",
        Measure::Memory => "a memory quantity like \"256Mi\" or \"1Gi\"",
    };
    let Some(v) = parse(q) else {
        let fix = suggest(q, measure);
        let msg = match &fix {
            Some(f) => format!("{q:?} is not a Kubernetes quantity, did you mean {f:?}?"),
            None => format!("{q:?} is not a Kubernetes quantity, expected {what}"),
        };
        return Err((msg, fix));
    };
    if v <= 0.0 {
        return Err((format!("{q:?} must be greater than zero"), None));
    }
    match measure {
        Measure::Memory if q.ends_with('m') => {
            let fix = format!("{}Mi", q.trim_end_matches('m'));
            Err((
                format!("{q:?} means {v} bytes (m is milli), did you mean {fix:?}?"),
                Some(fix),
            ))
        }
        Measure::Memory if v < 1024.0 * 1024.0 => Err((
            format!("{q:?} is {v} bytes, too little to run a process; expected {what}"),
            None,
        )),
        Measure::Cpu if BINARY.iter().any(|(s, _)| q.ends_with(s)) || v > 1024.0 => {
            Err((format!("{q:?} is not a CPU amount, expected {what}"), None))
        }
        _ => Ok(v),
    }
}

/// The likely intended spelling of a malformed quantity.
fn suggest(q: &str, measure: Measure) -> Option<String> {
    let compact: String = q.chars().filter(|c| !c.is_whitespace()).collect();
    let split = compact
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(compact.len());
    let (num, unit) = compact.split_at(split);
    if num.is_empty() || parse(num).is_none() {
        return None;
    }
    let unit_l = unit.to_ascii_lowercase();
    let fixed = match measure {
        Measure::Memory => match unit_l.trim_end_matches("ytes").trim_end_matches("yte") {
            "k" | "kb" | "kib" | "ki" => "Ki",
            "m" | "mb" | "mib" | "mi" => "Mi",
            "g" | "gb" | "gib" | "gi" => "Gi",
            "t" | "tb" | "tib" | "ti" => "Ti",
            "b" => "",
            _ => return None,
        },
        Measure::Cpu => match unit_l.as_str() {
            "m" | "mcpu" | "millicores" | "millicpu" | "milli" => "m",
            "cpu" | "cpus" | "core" | "cores" | "vcpu" | "vcpus" => "",
            _ => return None,
        },
    };
    let candidate = format!("{num}{fixed}");
    (candidate != q && parse(&candidate).is_some()).then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kubernetes_quantities() {
        assert_eq!(parse("500m"), Some(0.5));
        assert_eq!(parse("1"), Some(1.0));
        assert_eq!(parse("256Mi"), Some(268435456.0));
        assert_eq!(parse("1e3"), Some(1000.0));
        assert_eq!(parse(".5"), Some(0.5));
        for bad in ["", "512MB", "1.2.3", "Mi", "5 Mi", "1K", "."] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn suggests_fixes() {
        let fix = |q, m| check(q, m).unwrap_err().1;
        assert_eq!(fix("512MB", Measure::Memory), Some("512Mi".into()));
        assert_eq!(fix("1 GB", Measure::Memory), Some("1Gi".into()));
        assert_eq!(fix("512m", Measure::Memory), Some("512Mi".into()));
        assert_eq!(fix("2 cores", Measure::Cpu), Some("2".into()));
        assert_eq!(fix("250mcpu", Measure::Cpu), Some("250m".into()));
        assert!(check("1Gi", Measure::Cpu).is_err());
        assert!(check("250m", Measure::Cpu).is_ok());
    }
}
