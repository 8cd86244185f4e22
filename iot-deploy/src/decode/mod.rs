//! Typed decoding of a [`Node`] tree through serde, collecting every problem.
//!
//! [`NodeDe`] is a serde `Deserializer` over the spanned tree. It does not
//! stop at the first problem: an unknown field is reported (with a "did you
//! mean" for near misses) and skipped, and a value of the wrong type is
//! reported and replaced by a neutral value, so one pass finds them all.
//! Plain YAML scalars are typed by the field receiving them, so `tag: 1.10`
//! stays the string `"1.10"` and `port: 08` is rejected rather than guessed.

mod access;
mod de;

use std::cell::RefCell;

use serde::de::DeserializeOwned;

use crate::diag::Diagnostic;
use crate::source::Node;

pub(crate) use de::NodeDe;

/// Where problems found while decoding are collected.
#[derive(Default)]
pub(crate) struct Sink {
    pub(crate) diags: RefCell<Vec<Diagnostic>>,
}

/// A decoding error travelling up through serde; `recorded` says whether it
/// is already in the sink (so it is reported once, at the deepest node).
#[derive(Debug)]
pub(crate) struct DeError {
    msg: String,
    recorded: bool,
}

impl DeError {
    pub(crate) fn recorded() -> Self {
        DeError {
            msg: String::new(),
            recorded: true,
        }
    }
}

impl std::fmt::Display for DeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for DeError {}

impl serde::de::Error for DeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        DeError {
            msg: msg.to_string(),
            recorded: false,
        }
    }
}

/// Decodes `node` as a `T`, appending every problem to `diags`. Returns the
/// value (with neutral values where problems were) unless decoding had to
/// stop.
pub(crate) fn decode<T: DeserializeOwned>(node: &Node, diags: &mut Vec<Diagnostic>) -> Option<T> {
    let sink = Sink::default();
    let result = T::deserialize(NodeDe::new(node, String::new(), &sink));
    diags.extend(sink.diags.into_inner());
    match result {
        Ok(v) => Some(v),
        Err(e) if e.recorded => None,
        Err(e) => {
            diags.push(Diagnostic::new("", Some(node.span), e.msg));
            None
        }
    }
}

/// Appends a key to a field path: `a.b`, or `a["b.toml"]` for keys that are
/// not identifiers.
pub(crate) fn join(path: &str, key: &str) -> String {
    let ident = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), ident) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{key:?}]"),
    }
}
