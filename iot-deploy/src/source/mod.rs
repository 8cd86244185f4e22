//! Spec text parsed into a tree of nodes that remember where they came from.
//!
//! Both TOML and YAML are read into the same [`Node`] tree first, so every
//! later problem (unknown field, bad quantity, port out of range) can point
//! at a line and column, and all problems are reported in one pass.

mod merge;
mod node;
mod toml_src;
mod yaml_src;

pub use merge::merge;
pub use node::{Key, Node, NodeKind, Pos, Scalar, ScalarType, Span};
pub(crate) use toml_src::parse_toml;
pub(crate) use yaml_src::parse_yaml;

/// Parses TOML or YAML text into a spanned tree (no schema applied).
pub fn parse(text: &str, format: Format) -> Result<Node, crate::Diagnostic> {
    match format {
        Format::Toml => parse_toml(text),
        Format::Yaml => parse_yaml(text),
    }
}

/// The syntax a spec is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// TOML (`.toml`).
    Toml,
    /// YAML (`.yaml`, `.yml`), read with the YAML 1.2 core schema, except
    /// that plain scalars are typed by the field that receives them.
    Yaml,
}

impl Format {
    /// Picks the format from a file name's extension.
    pub fn from_path(path: &std::path::Path) -> Option<Format> {
        match path.extension()?.to_str()? {
            "toml" => Some(Format::Toml),
            "yaml" | "yml" => Some(Format::Yaml),
            _ => None,
        }
    }
}
