//! Every emitted YAML document reads back as the same tree, with YAML 1.2
//! readers (granit-parser, serde-saphyr) and under YAML 1.1 resolution
//! rules: ambiguous strings (`on`, `08`, `1e3`, ...) stay strings.

use iot_deploy::emit::{Value, to_json, to_yaml};
use iot_deploy::source::{Node, NodeKind, ScalarType};
use proptest::prelude::*;

const TRICKY: &[&str] = &[
    "on",
    "off",
    "On",
    "OFF",
    "yes",
    "no",
    "Yes",
    "NO",
    "y",
    "n",
    "Y",
    "N",
    "true",
    "false",
    "True",
    "FALSE",
    "null",
    "Null",
    "~",
    "",
    "08",
    "010",
    "0o17",
    "1e3",
    "1E3",
    "0x1F",
    "0b101",
    "1_000",
    "+1",
    "-0",
    ".5",
    "1.",
    ".inf",
    "-.Inf",
    ".nan",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "12:30",
    "190:20:30",
    "1:20.5",
    "<<",
    "=",
    "a: b",
    "a:",
    "#x",
    "x #y",
    "- x",
    "-",
    "? x",
    "?",
    ": x",
    "! x",
    "&a",
    "*a",
    "|",
    ">",
    "'q'",
    "\"q\"",
    "%x",
    "@x",
    "`x",
    "{a}",
    "[a]",
    "a,b",
    " lead",
    "trail ",
    "tab\tx",
    "multi\nline\n",
    "no trailing\nnewline",
    "two\n\n",
    "\n",
    " \n",
    "x\u{2028}y",
    "\u{85}",
    "é",
    "日本",
    "\u{feff}bom",
    "\u{0}",
    "\\",
    "/health/live",
    "IfNotPresent",
    "a b",
    "x: y\nz",
    "key:value",
    "http://x:80/a?b=c&d#e",
    "---",
    "...",
    "--- x",
    "  indented\ntext\n",
];

fn scalar_string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(TRICKY).prop_map(str::to_string),
        "[a-zA-Z0-9_ :#./-]{0,12}",
        any::<String>(),
        long_string(),
    ]
}

/// Strings longer than a line (folded by the emitter), from tricky pieces,
/// words, spaces and arbitrary text.
fn long_string() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(TRICKY).prop_map(str::to_string),
        "[a-z]{1,30}",
        "[ \t]{1,4}",
        "[a-zA-Z0-9_ :#./\\\"{}=-]{0,40}",
        any::<String>(),
    ];
    prop::collection::vec(piece, 4..16).prop_map(|v| v.concat())
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::Float),
        prop::sample::select(&[0.5, 1.0, -2.25, 1e20, 1e-7, 0.0][..]).prop_map(Value::Float),
        scalar_string().prop_map(Value::Str),
    ]
}

fn tree() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Seq),
            prop::collection::btree_map(scalar_string(), inner, 0..5)
                .prop_map(|m| Value::Map(m.into_iter().rev().collect())),
        ]
    })
}

/// How a YAML 1.1 reader (PyYAML, go-yaml v2) resolves a plain scalar.
fn yaml11_type(s: &str) -> &'static str {
    let digits =
        |t: &str, ok: fn(char) -> bool| !t.is_empty() && t.chars().all(|c| ok(c) || c == '_');
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    let sexagesimal = |t: &str| {
        let mut parts = t.split(':');
        let first = parts.next().unwrap_or("");
        let rest: Vec<&str> = parts.collect();
        !rest.is_empty()
            && digits(first, |c| c.is_ascii_digit())
            && rest
                .iter()
                .all(|p| (1..=2).contains(&p.len()) && p.chars().all(|c| c.is_ascii_digit()))
    };
    if matches!(s, "" | "~" | "null" | "Null" | "NULL") {
        return "null";
    }
    if matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    ) {
        return "bool";
    }
    if unsigned
        .strip_prefix("0b")
        .is_some_and(|t| digits(t, |c| c == '0' || c == '1'))
        || unsigned
            .strip_prefix("0x")
            .is_some_and(|t| digits(t, |c| c.is_ascii_hexdigit()))
        || (unsigned.starts_with(|c: char| c.is_ascii_digit())
            && digits(unsigned, |c| c.is_ascii_digit()))
        || sexagesimal(unsigned)
    {
        return "int";
    }
    let float_body = |t: &str| {
        let (mantissa, exp) = match t.find(['e', 'E']) {
            Some(i) => (&t[..i], Some(&t[i + 1..])),
            None => (t, None),
        };
        let exp_ok = exp.is_none_or(|e| {
            e.strip_prefix(['-', '+'])
                .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
        });
        mantissa.contains('.')
            && mantissa
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '_')
            && !mantissa.starts_with('_')
            && exp_ok
    };
    if float_body(unsigned)
        || matches!(unsigned, ".inf" | ".Inf" | ".INF")
        || matches!(s, ".nan" | ".NaN" | ".NAN")
        || unsigned
            .split_once('.')
            .is_some_and(|(a, b)| sexagesimal(a) && digits(b, |c| c.is_ascii_digit()))
    {
        return "float";
    }
    let b = s.as_bytes();
    if b.len() >= 8 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' {
        return "timestamp";
    }
    match s {
        "<<" => "merge",
        "=" => "value",
        _ => "str",
    }
}

fn same(v: &Value, n: &Node, path: &str) -> Result<(), String> {
    let fail = |why: &str| Err(format!("{path}: {why}: {v:?} vs {:?}", n.kind));
    match (v, &n.kind) {
        (Value::Null, NodeKind::Null) => Ok(()),
        (Value::Str(s), NodeKind::Scalar(sc)) if sc.text == *s => {
            if sc.ty == ScalarType::Plain && yaml11_type(s) != "str" {
                return fail("plain string a YAML 1.1 reader misreads");
            }
            Ok(())
        }
        (Value::Bool(b), NodeKind::Scalar(sc))
            if sc.ty == ScalarType::Plain && sc.text == b.to_string() =>
        {
            Ok(())
        }
        (Value::Int(i), NodeKind::Scalar(sc))
            if sc.ty == ScalarType::Plain && sc.text.parse() == Ok(*i) =>
        {
            Ok(())
        }
        (Value::Float(f), NodeKind::Scalar(sc)) if sc.ty == ScalarType::Plain => {
            if sc.text.parse::<f64>() != Ok(*f) || yaml11_type(&sc.text) != "float" {
                return fail("float");
            }
            Ok(())
        }
        (Value::Seq(a), NodeKind::Seq(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .try_for_each(|(i, (x, y))| same(x, y, &format!("{path}[{i}]"))),
        (Value::Map(a), NodeKind::Map(b)) if a.len() == b.len() => {
            a.iter().zip(b).try_for_each(|((k, x), (key, y))| {
                if *k != key.name {
                    return Err(format!("{path}: key {k:?} read back as {:?}", key.name));
                }
                if key.ty == ScalarType::Plain && yaml11_type(k) != "str" {
                    return Err(format!(
                        "{path}: plain key {k:?} a YAML 1.1 reader misreads"
                    ));
                }
                same(x, y, &format!("{path}.{k}"))
            })
        }
        _ => fail("differs"),
    }
}

fn parse(text: &str) -> Result<Node, String> {
    iot_deploy::source::parse(text, iot_deploy::Format::Yaml).map_err(|e| format!("{e}\n{text}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn emitted_yaml_reads_back_identically(v in tree()) {
        let text = to_yaml(&v);
        let node = parse(&text).map_err(TestCaseError::fail)?;
        same(&v, &node, "$").map_err(|e| TestCaseError::fail(format!("{e}\n---text---\n{text}")))?;
        // A second, independent reader (which takes `yes` and `on` for booleans).
        let theirs: serde_json::Value = serde_saphyr::from_str(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let ours = serde_json::to_value(&v).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(theirs, ours, "{}", text);
        // Deterministic.
        prop_assert_eq!(to_yaml(&v), text);
    }

    #[test]
    fn emitted_json_is_json(v in tree()) {
        let back: serde_json::Value = serde_json::from_str(&to_json(&v)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, serde_json::to_value(&v).map_err(|e| TestCaseError::fail(e.to_string()))?);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A long string is folded into lines of at most 80 characters (where
    /// a line can be broken: not before a space) and reads back unchanged.
    #[test]
    fn long_strings_fold_and_read_back(s in long_string(), depth in 0usize..6) {
        let mut v = Value::from(s.as_str());
        for i in 0..depth {
            v = if i % 2 == 0 {
                Value::map().with("some-key", v)
            } else {
                Value::Seq(vec![v])
            };
        }
        let v = Value::map().with("description", v);
        let text = to_yaml(&v);
        let theirs: serde_json::Value = serde_saphyr::from_str(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(theirs, serde_json::to_value(&v).unwrap(), "{}", text);
        let node = parse(&text).map_err(TestCaseError::fail)?;
        same(&v, &node, "$").map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        if s.chars().all(|c| (' '..='~').contains(&c)) && !s.contains("  ") && !s.contains('\t') {
            for line in text.lines() {
                // yamllint's `allow-non-breakable-words`: a line that is
                // one word (after the indentation and a `- `) may be long.
                let body = line.trim_start();
                let body = body.strip_prefix("- ").unwrap_or(body);
                let one_word = !body.contains(' ');
                prop_assert!(line.chars().count() <= 80 || one_word, "{} chars: {:?}\n{}", line.chars().count(), line, text);
            }
        }
    }
}

#[test]
fn tricky_strings_are_quoted() {
    for s in TRICKY {
        let text = to_yaml(&Value::map().with(*s, *s));
        let node = parse(&text).unwrap();
        same(&Value::map().with(*s, *s), &node, "$").unwrap_or_else(|e| panic!("{e}\n{text}"));
        if yaml11_type(s) != "str" {
            assert!(
                text.contains(&format!("\"{}\"", s.escape_default())) || text.contains('"'),
                "{text}"
            );
        }
    }
}
