//! The spanned value tree.

/// A position in the source text: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub col: u32,
}

/// A range of the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Span {
    /// First character.
    pub start: Pos,
    /// Just past the last character.
    pub end: Pos,
}

impl Span {
    /// Whether `other` lies inside this span.
    pub fn contains(&self, other: &Span) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

/// How the source typed a scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarType {
    /// A quoted or block YAML scalar, or a TOML string: always a string.
    Str,
    /// A plain (unquoted) YAML scalar: typed by the field that receives it.
    Plain,
    /// A TOML integer.
    Int,
    /// A TOML float.
    Float,
    /// A TOML boolean.
    Bool,
    /// A TOML date or time.
    Datetime,
}

/// A scalar and its text as written (after unescaping).
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// The text.
    pub text: String,
    /// How the source typed it.
    pub ty: ScalarType,
}

/// A mapping key and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key.
    pub name: String,
    /// Where it was written.
    pub span: Span,
    /// How it was written: [`ScalarType::Plain`] for an unquoted YAML key,
    /// else [`ScalarType::Str`].
    pub ty: ScalarType,
}

/// What a node holds.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// YAML `null`, `~` or an empty value.
    Null,
    /// A scalar.
    Scalar(Scalar),
    /// A sequence (YAML) or array (TOML).
    Seq(Vec<Node>),
    /// A mapping (YAML) or table (TOML), in source order.
    Map(Vec<(Key, Node)>),
}

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub kind: NodeKind,
    /// Where it was written.
    pub span: Span,
}

impl Node {
    /// The entry `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The entry `key` of a mapping, with its key.
    pub fn entry(&self, key: &str) -> Option<(&Key, &Node)> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.name == key)
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// A short name for the kind of value, for messages.
    pub fn describe(&self) -> String {
        match &self.kind {
            NodeKind::Null => "null".into(),
            NodeKind::Seq(_) => "a list".into(),
            NodeKind::Map(_) => "a table".into(),
            NodeKind::Scalar(s) => match s.ty {
                ScalarType::Int => format!("the integer {}", s.text),
                ScalarType::Float => format!("the number {}", s.text),
                ScalarType::Bool => format!("the boolean {}", s.text),
                _ => format!("{:?}", s.text),
            },
        }
    }
}
