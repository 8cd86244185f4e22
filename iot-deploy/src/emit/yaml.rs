//! A small YAML emitter that is safe for YAML 1.1 and 1.2 readers.
//!
//! Block style throughout, two-space indentation, sequences indented under
//! their key (yamllint's defaults), `---` before every document. A string
//! is written plain only when it starts with a letter, `_` or `/`, is not a
//! word some reader takes for a boolean or null (`yes`, `On`, `n`, `null`,
//! ...), and holds no character with a meaning in YAML; everything else is
//! double-quoted. Multi-line strings use literal blocks (`|`) when that
//! round-trips exactly.

use super::Value;

/// Words that YAML 1.1 (PyYAML, go-yaml v2) or 1.2 read as booleans or null,
/// compared case-insensitively.
const RESERVED: [&str; 10] = [
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~",
];

/// Whether `s` can be written as a plain scalar and read back as the same
/// string by YAML 1.1 and 1.2 readers.
pub fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_' || first == '/')
        && !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(s))
        && s.chars()
            .all(|c| (' '..='~').contains(&c) && !"#{}[],&*!|>'\"%@`\\".contains(c))
        && !s.ends_with([' ', ':'])
        && !s.contains(": ")
        // Sexagesimal-looking (`_:0`, `1_0:30`): some YAML 1.1 readers take
        // `_` for a digit separator anywhere.
        && !(s.contains(':') && s.chars().all(|c| c.is_ascii_digit() || "_:.+-".contains(c)))
}

/// One document, starting with `---`.
pub fn to_yaml(v: &Value) -> String {
    to_yaml_docs(std::slice::from_ref(v))
}

/// Several documents in one file, each starting with `---`.
pub fn to_yaml_docs(docs: &[Value]) -> String {
    let mut out = String::new();
    for d in docs {
        out.push_str("---\n");
        match d {
            Value::Map(e) if !e.is_empty() => map(e, 0, false, &mut out),
            Value::Seq(i) if !i.is_empty() => seq(i, 0, false, &mut out),
            other => {
                scalar(other, &mut out);
                out.push('\n');
            }
        }
    }
    out
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn map(entries: &[(String, Value)], indent: usize, inline_first: bool, out: &mut String) {
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 || !inline_first {
            pad(out, indent);
        }
        scalar_str(k, out);
        out.push(':');
        match v {
            Value::Map(e) if !e.is_empty() => {
                out.push('\n');
                map(e, indent + 2, false, out);
            }
            Value::Seq(items) if !items.is_empty() => {
                out.push('\n');
                seq(items, indent + 2, false, out);
            }
            other => value_after_key(other, indent, out),
        }
    }
}

fn seq(items: &[Value], indent: usize, inline_first: bool, out: &mut String) {
    for (i, v) in items.iter().enumerate() {
        if i > 0 || !inline_first {
            pad(out, indent);
        }
        out.push('-');
        match v {
            Value::Map(e) if !e.is_empty() => {
                out.push(' ');
                map(e, indent + 2, true, out);
            }
            Value::Seq(inner) if !inner.is_empty() => {
                out.push(' ');
                seq(inner, indent + 2, true, out);
            }
            other => value_after_key(other, indent, out),
        }
    }
}

/// The longest line the emitter writes where it can choose (yamllint's
/// default `line-length`).
pub const MAX_LINE: usize = 80;

/// Characters on the last line of `out`.
fn column(out: &str) -> usize {
    out.rsplit('\n').next().unwrap_or("").chars().count()
}

/// A scalar (or empty collection) after `key:` or `-`, ending the line.
fn value_after_key(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Raw(t) if t.starts_with('\n') => {
            out.push('\n');
            pad(out, indent + 2);
            out.push_str(&t[1..].replace("{indent}", &(indent + 2).to_string()));
        }
        Value::Str(s)
            if literal_ok(s)
                && s.split('\n')
                    .all(|l| indent + 2 + l.chars().count() <= MAX_LINE) =>
        {
            out.push_str(if s.ends_with('\n') { " |" } else { " |-" });
            out.push('\n');
            for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
                if !line.is_empty() {
                    pad(out, indent + 2);
                    out.push_str(line);
                }
                out.push('\n');
            }
            return;
        }
        Value::Str(s) => {
            out.push(' ');
            let start = out.len();
            scalar_str(s, out);
            if column(out) > MAX_LINE {
                out.truncate(start);
                if s.contains([' ', '\t']) {
                    folded(s, column(out), indent + 2, out);
                } else {
                    // One word (a pinned action, an image digest): alone on
                    // the next line, whole, where a line without spaces may
                    // be long (yamllint's `allow-non-breakable-words`) and
                    // tools that search for the word still find it.
                    out.pop();
                    out.push('\n');
                    pad(out, indent + 2);
                    scalar_str(s, out);
                }
            }
        }
        _ => {
            out.push(' ');
            scalar(v, out);
        }
    }
    out.push('\n');
}

/// `s` (which has spaces) double-quoted over several lines: each line but the last ends in an
/// escaped line break (`\`), which YAML removes together with the next
/// line's indentation, so the value is unchanged. A line never starts with
/// a space or tab (that would be removed too); one that cannot be broken
/// stays long.
fn folded(s: &str, col: usize, cont: usize, out: &mut String) {
    // Units: a character and the spaces or tabs after it; a line breaks
    // only between units (never before a space or tab).
    let mut units: Vec<String> = Vec::new();
    for c in s.chars() {
        match units.last_mut() {
            Some(u) if c == ' ' || c == '\t' => u.push_str(&escaped(c)),
            _ => units.push(escaped(c)),
        }
    }
    out.push('"');
    let mut width = col + 1;
    for (i, u) in units.iter().enumerate() {
        let w = u.chars().count();
        // Room for what follows on this line: the closing quote, or a `\`.
        if i > 0 && width + w + 1 > MAX_LINE {
            out.push_str("\\\n");
            pad(out, cont);
            width = cont;
        }
        out.push_str(u);
        width += w;
    }
    out.push('"');
}

/// One character as it stands inside a double-quoted scalar.
fn escaped(c: char) -> String {
    match c {
        '"' => "\\\"".into(),
        '\\' => "\\\\".into(),
        '\n' => "\\n".into(),
        '\t' => "\\t".into(),
        '\r' => "\\r".into(),
        c if (' '..='~').contains(&c) => c.to_string(),
        c if (c as u32) < 0xA0
            || matches!(
                c,
                '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
            ) =>
        {
            format!("\\u{:04x}", c as u32)
        }
        c => c.to_string(),
    }
}

/// Whether a literal block reproduces `s` exactly (and passes yamllint).
fn literal_ok(s: &str) -> bool {
    s.contains('\n')
        && !s.ends_with("\n\n")
        && !s.starts_with(['\n', ' '])
        && s.chars()
            .all(|c| c == '\n' || (' '..='~').contains(&c) || (c > '\u{a0}' && c < '\u{2028}'))
        && s.split('\n').all(|l| !l.ends_with(' '))
}

fn scalar(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&float(*f)),
        Value::Str(s) => scalar_str(s, out),
        Value::Raw(t) => out.push_str(t),
        Value::Seq(_) => out.push_str("[]"),
        Value::Map(_) => out.push_str("{}"),
    }
}

/// A float in a form every reader takes for a float (always with a `.`).
pub(crate) fn float(f: f64) -> String {
    if !f.is_finite() {
        return "null".into();
    }
    let s = f.to_string();
    if s.contains(['.', 'e', 'E']) {
        s
    } else {
        format!("{s}.0")
    }
}

fn scalar_str(s: &str, out: &mut String) {
    if is_plain_safe(s) {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        out.push_str(&escaped(c));
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_readers_would_misread() {
        for s in [
            "on",
            "Off",
            "yes",
            "N",
            "null",
            "~",
            "08",
            "1e3",
            "0x1F",
            ".inf",
            "2001-01-01",
            "12:30",
            "a: b",
            "-x",
            "",
            " x",
            "#c",
            "<<",
            "=",
            "_:0",
        ] {
            assert!(!is_plain_safe(s), "{s:?} must be quoted");
        }
        for s in [
            "nginx",
            "/health/live",
            "IfNotPresent",
            "app.kubernetes.io/name",
            "RuntimeDefault",
        ] {
            assert!(is_plain_safe(s), "{s:?} can be plain");
        }
    }

    #[test]
    fn layout() {
        let v = Value::map()
            .with("a", Value::map().with("b", 1i64).with("on", "yes"))
            .with(
                "list",
                vec![
                    Value::map().with("name", "x").with("port", 80i64),
                    Value::from("08"),
                ],
            )
            .with("empty", Value::Seq(vec![]))
            .with("text", "line one\nline two\n")
            .with("f", 0.5)
            .with("g", 3.0);
        let expected = "---\na:\n  b: 1\n  \"on\": \"yes\"\nlist:\n  - name: x\n    port: 80\n  - \"08\"\nempty: []\ntext: |\n  line one\n  line two\nf: 0.5\ng: 3.0\n";
        assert_eq!(to_yaml(&v), expected);
    }
}
