//! TOML text to a spanned [`Node`] tree, through `toml`'s span-keeping `DeTable`.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{Key, Node, NodeKind, Pos, Scalar, ScalarType, Span};
use crate::diag::Diagnostic;

/// Maps byte offsets to line and column.
pub(crate) struct Lines<'a> {
    src: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(src.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines { src, starts }
    }

    pub(crate) fn pos(&self, offset: usize) -> Pos {
        let offset = offset.min(self.src.len());
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        let col = self
            .src
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        Pos {
            line: line as u32 + 1,
            col: col as u32 + 1,
        }
    }

    fn span(&self, range: std::ops::Range<usize>) -> Span {
        Span {
            start: self.pos(range.start),
            end: self.pos(range.end),
        }
    }
}

/// Parses TOML text.
pub(crate) fn parse_toml(src: &str) -> Result<Node, Diagnostic> {
    let lines = Lines::new(src);
    match DeTable::parse(src) {
        Ok(table) => {
            let span = lines.span(0..src.len());
            Ok(Node {
                kind: table_kind(table.get_ref(), &lines),
                span,
            })
        }
        Err(err) => {
            let span = err.span().map(|r| lines.span(r));
            let msg = err.message().trim().trim_end_matches('.').to_string();
            Err(Diagnostic::new("", span, format!("invalid TOML: {msg}")))
        }
    }
}

fn table_kind(table: &DeTable<'_>, lines: &Lines<'_>) -> NodeKind {
    let mut entries: Vec<(Key, Node)> = table
        .iter()
        .map(|(k, v)| {
            (
                Key {
                    name: k.get_ref().to_string(),
                    span: lines.span(k.span()),
                    ty: ScalarType::Str,
                },
                node(v, lines),
            )
        })
        .collect();
    entries.sort_by_key(|(k, _)| k.span);
    NodeKind::Map(entries)
}

fn node(value: &Spanned<DeValue<'_>>, lines: &Lines<'_>) -> Node {
    let span = lines.span(value.span());
    let scalar = |text: String, ty| NodeKind::Scalar(Scalar { text, ty });
    let kind = match value.get_ref() {
        DeValue::String(s) => scalar(s.to_string(), ScalarType::Str),
        DeValue::Integer(i) => scalar(integer_text(i.as_str(), i.radix()), ScalarType::Int),
        DeValue::Float(f) => scalar(f.as_str().replace('_', ""), ScalarType::Float),
        DeValue::Boolean(b) => scalar(b.to_string(), ScalarType::Bool),
        DeValue::Datetime(d) => scalar(d.to_string(), ScalarType::Datetime),
        DeValue::Array(items) => NodeKind::Seq(items.iter().map(|v| node(v, lines)).collect()),
        DeValue::Table(t) => table_kind(t, lines),
    };
    Node { kind, span }
}

/// TOML integers keep their source digits; normalise to decimal text.
fn integer_text(digits: &str, radix: u32) -> String {
    let clean = digits.replace('_', "");
    if radix == 10 {
        return clean.trim_start_matches('+').to_string();
    }
    i64::from_str_radix(&clean, radix).map_or(clean, |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_line_and_column() {
        let n = parse_toml("name = \"x\"\n[ports]\nhttp = 0x1F90\n").unwrap();
        let ports = n.get("ports").unwrap();
        let http = ports.get("http").unwrap();
        assert_eq!(http.span.start, Pos { line: 3, col: 8 });
        assert_eq!(
            http.kind,
            NodeKind::Scalar(Scalar {
                text: "8080".into(),
                ty: ScalarType::Int
            })
        );
    }

    #[test]
    fn syntax_error_has_position() {
        let e = parse_toml("name = \n").unwrap_err();
        assert_eq!(e.span.unwrap().start.line, 1);
        assert!(e.message.starts_with("invalid TOML"), "{}", e.message);
    }
}
