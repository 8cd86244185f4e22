//! Deterministic output: an ordered value tree and its YAML and JSON text.
//!
//! Generators build [`Value`] trees (directly, or from small serde types
//! through [`to_value`]) whose mappings keep insertion order, so the same
//! spec always yields byte-identical files. The YAML emitter quotes every
//! string a YAML 1.1 or 1.2 reader could take for something else.

mod json;
mod to_value;
mod value;
mod yaml;

pub use json::to_json;
pub use to_value::to_value;
pub use value::Value;
pub(crate) use yaml::float as float_text;
pub use yaml::{is_plain_safe, to_yaml, to_yaml_docs};
