//! YAML text to a spanned [`Node`] tree, from `granit-parser` events.

use std::collections::HashMap;

use granit_parser::{Event, Marker, Parser, ScalarStyle, Span as YSpan};

use super::{Key, Node, NodeKind, Pos, Scalar, ScalarType, Span};
use crate::diag::Diagnostic;

/// Most nodes one document may expand to (aliases included), so a
/// "billion laughs" document fails fast instead of eating memory.
const MAX_NODES: usize = 100_000;

fn pos(m: &Marker) -> Pos {
    Pos {
        line: m.line() as u32,
        col: m.col() as u32 + 1,
    }
}

fn span(s: &YSpan) -> Span {
    Span {
        start: pos(&s.start),
        end: pos(&s.end),
    }
}

enum Frame {
    Seq(Vec<Node>, Span, usize),
    Map(Vec<(Key, Node)>, Option<Key>, Span, usize),
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    count: usize,
}

fn err(s: Span, msg: impl Into<String>) -> Diagnostic {
    Diagnostic::new("", Some(s), msg)
}

impl Builder {
    /// Adds a finished node to the collection being built (or as the root).
    fn push(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        self.count += count(&node);
        if self.count > MAX_NODES {
            return Err(err(
                node.span,
                format!("invalid YAML: more than {MAX_NODES} nodes (alias expansion?)"),
            ));
        }
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None if self.root.is_some() => Err(err(
                node.span,
                "invalid YAML: a spec is one document; found a second one",
            )),
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some(Frame::Seq(items, ..)) => {
                items.push(node);
                Ok(())
            }
            Some(Frame::Map(entries, pending, ..)) => match pending.take() {
                Some(key) => {
                    if let Some((first, _)) = entries.iter().find(|(k, _)| k.name == key.name) {
                        let (line, col) = (first.span.start.line, first.span.start.col);
                        return Err(err(
                            key.span,
                            format!("duplicate key `{}` (first at {line}:{col})", key.name),
                        ));
                    }
                    entries.push((key, node));
                    Ok(())
                }
                None => match node.kind {
                    NodeKind::Scalar(s) => {
                        *pending = Some(Key {
                            name: s.text,
                            span: node.span,
                            ty: s.ty,
                        });
                        Ok(())
                    }
                    NodeKind::Null => {
                        *pending = Some(Key {
                            name: String::new(),
                            span: node.span,
                            ty: ScalarType::Plain,
                        });
                        Ok(())
                    }
                    _ => Err(err(
                        node.span,
                        "invalid YAML: mapping keys must be plain strings",
                    )),
                },
            },
        }
    }
}

fn count(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        NodeKind::Map(entries) => 1 + entries.iter().map(|(_, v)| count(v)).sum::<usize>(),
        _ => 1,
    }
}

fn scalar(text: &str, style: ScalarStyle, tagged_str: bool) -> NodeKind {
    let plain = style == ScalarStyle::Plain && !tagged_str;
    if plain && matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return NodeKind::Null;
    }
    let ty = if plain {
        ScalarType::Plain
    } else {
        ScalarType::Str
    };
    NodeKind::Scalar(Scalar {
        text: text.to_string(),
        ty,
    })
}

/// Parses YAML text (one document).
pub(crate) fn parse_yaml(src: &str) -> Result<Node, Diagnostic> {
    let mut b = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        count: 0,
    };
    for event in Parser::new_from_str(src) {
        let (event, ys) = event.map_err(|e| {
            let p = pos(e.marker());
            let msg = e.info().trim_end_matches('.').to_string();
            Diagnostic::new(
                "",
                Some(Span { start: p, end: p }),
                format!("invalid YAML: {msg}"),
            )
        })?;
        let sp = span(&ys);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let tagged_str = tag.as_ref().is_some_and(|t| t.suffix() == "str");
                b.push(
                    Node {
                        kind: scalar(&text, style, tagged_str),
                        span: sp,
                    },
                    anchor,
                )?;
            }
            Event::SequenceStart(_, anchor, _) => b.stack.push(Frame::Seq(Vec::new(), sp, anchor)),
            Event::MappingStart(_, anchor, _) => {
                b.stack.push(Frame::Map(Vec::new(), None, sp, anchor))
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (kind, start, anchor) = match b.stack.pop() {
                    Some(Frame::Seq(items, s, a)) => (NodeKind::Seq(items), s, a),
                    Some(Frame::Map(entries, _, s, a)) => (NodeKind::Map(entries), s, a),
                    None => return Err(err(sp, "invalid YAML: unbalanced collection")),
                };
                b.push(
                    Node {
                        kind,
                        span: Span {
                            start: start.start,
                            end: sp.end,
                        },
                    },
                    anchor,
                )?;
            }
            Event::Alias(id) => {
                let target = b
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| err(sp, "invalid YAML: unknown alias"))?;
                b.push(Node { span: sp, ..target }, 0)?;
            }
            _ => {}
        }
    }
    let end = Lines::end(src);
    Ok(b.root.unwrap_or(Node {
        kind: NodeKind::Null,
        span: Span {
            start: Pos { line: 1, col: 1 },
            end,
        },
    }))
}

struct Lines;

impl Lines {
    fn end(src: &str) -> Pos {
        let line = src.lines().count().max(1) as u32;
        let col = src.lines().last().map_or(0, |l| l.chars().count()) as u32 + 1;
        Pos { line, col }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_quoted_scalars() {
        let n = parse_yaml("a: 08\nb: \"on\"\nc:\nd: &x [1, 2]\ne: *x\n").unwrap();
        let text = |k: &str| match &n.get(k).unwrap().kind {
            NodeKind::Scalar(s) => (s.text.clone(), s.ty),
            other => panic!("{other:?}"),
        };
        assert_eq!(text("a"), ("08".into(), ScalarType::Plain));
        assert_eq!(text("b"), ("on".into(), ScalarType::Str));
        assert_eq!(n.get("c").unwrap().kind, NodeKind::Null);
        assert_eq!(n.get("e").unwrap().kind, n.get("d").unwrap().kind);
        assert_eq!(n.get("b").unwrap().span.start, Pos { line: 2, col: 4 });
    }

    #[test]
    fn errors_have_positions() {
        let e = parse_yaml("a: 1\na: 2\n").unwrap_err();
        assert!(e.message.contains("duplicate key `a`"), "{}", e.message);
        assert_eq!(e.span.unwrap().start.line, 2);
        let e = parse_yaml("a: [1,\n").unwrap_err();
        assert!(e.message.starts_with("invalid YAML"), "{}", e.message);
    }

    #[test]
    fn billion_laughs_is_bounded() {
        let mut doc = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..8 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("l{}", i - 1)
            };
            doc.push_str(&format!("l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        assert!(parse_yaml(&doc).unwrap_err().message.contains("nodes"));
    }
}
