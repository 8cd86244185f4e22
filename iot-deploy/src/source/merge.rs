//! Deep merge of an environment's overrides over the base spec.

use super::{Node, NodeKind};

/// Merges `over` onto `base`: mappings merge key by key (recursively), any
/// other value replaces the base value, and a `null` removes the key.
pub fn merge(base: &Node, over: &Node) -> Node {
    match (&base.kind, &over.kind) {
        (NodeKind::Map(b), NodeKind::Map(o)) => {
            let mut out = b.clone();
            for (key, value) in o {
                match out.iter().position(|(k, _)| k.name == key.name) {
                    Some(i) if value.kind == NodeKind::Null => {
                        out.remove(i);
                    }
                    Some(i) => out[i].1 = merge(&out[i].1, value),
                    None if value.kind == NodeKind::Null => {}
                    None => out.push((key.clone(), value.clone())),
                }
            }
            Node {
                kind: NodeKind::Map(out),
                span: base.span,
            }
        }
        _ => over.clone(),
    }
}
