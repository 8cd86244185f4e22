//! The serde `Deserializer` over one node.

use serde::de::{self, Visitor};

use super::access::{MapDe, SeqDe, UnitVariant};
use super::{DeError, Sink, join};
use crate::diag::{Diagnostic, closest};
use crate::source::{Node, NodeKind, Scalar, ScalarType};

/// Deserializes one node; see the module docs.
pub(crate) struct NodeDe<'a> {
    node: &'a Node,
    path: String,
    sink: &'a Sink,
}

impl<'a> NodeDe<'a> {
    pub(crate) fn new(node: &'a Node, path: String, sink: &'a Sink) -> Self {
        NodeDe { node, path, sink }
    }

    fn report_at(
        &self,
        path: String,
        span: crate::source::Span,
        msg: String,
        suggestion: Option<String>,
    ) {
        let d = Diagnostic::new(path, Some(span), msg).suggest(suggestion);
        self.sink.diags.borrow_mut().push(d);
    }

    fn report(&self, msg: String) {
        self.report_at(self.path.clone(), self.node.span, msg, None);
    }

    fn mismatch(&self, expected: &str) {
        self.report(format!(
            "expected {expected}, found {}",
            self.node.describe()
        ));
    }

    /// Runs `f`; an error not yet reported is reported at this node.
    pub(crate) fn guard<T>(self, f: impl FnOnce(Self) -> Result<T, DeError>) -> Result<T, DeError> {
        let (node, path, sink) = (self.node, self.path.clone(), self.sink);
        f(self).map_err(|e| {
            if !e.recorded {
                sink.diags
                    .borrow_mut()
                    .push(Diagnostic::new(path, Some(node.span), e.msg));
            }
            DeError::recorded()
        })
    }

    fn scalar(&self) -> Option<&'a Scalar> {
        match &self.node.kind {
            NodeKind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The node as an integer in `min..=max`, or a report and 0.
    fn int(&self, min: i128, max: i128) -> i128 {
        let expected = if min == 0 {
            format!("a whole number from 0 to {max}")
        } else {
            format!("a whole number from {min} to {max}")
        };
        let Some(s) = self.scalar() else {
            self.mismatch(&expected);
            return 0;
        };
        let parsed = match s.ty {
            ScalarType::Int => s.text.parse::<i128>().ok(),
            ScalarType::Plain => parse_plain_int(&s.text),
            _ => None,
        };
        match parsed {
            Some(v) if (min..=max).contains(&v) => v,
            Some(v) => {
                self.report(format!("{v} is out of range, expected {expected}"));
                0
            }
            None if s.ty == ScalarType::Plain && is_leading_zero(&s.text) => {
                self.report(format!(
                    "{:?} has a leading zero (YAML 1.1 readers take it as octal), expected {expected}",
                    s.text
                ));
                0
            }
            None if s.ty == ScalarType::Str && s.text.trim().parse::<i128>().is_ok() => {
                self.report(format!(
                    "expected {expected}, found the string {:?} (remove the quotes)",
                    s.text
                ));
                0
            }
            None => {
                self.mismatch(&expected);
                0
            }
        }
    }

    fn float(&self) -> f64 {
        let parsed = self.scalar().and_then(|s| match s.ty {
            ScalarType::Int | ScalarType::Float | ScalarType::Plain => {
                s.text.replace('_', "").parse::<f64>().ok()
            }
            _ => None,
        });
        parsed.filter(|v| v.is_finite()).unwrap_or_else(|| {
            self.mismatch("a number");
            0.0
        })
    }

    fn bool(&self) -> bool {
        match self.scalar() {
            Some(Scalar {
                text,
                ty: ScalarType::Bool | ScalarType::Plain,
            }) if is_true(text) => true,
            Some(Scalar {
                text,
                ty: ScalarType::Bool | ScalarType::Plain,
            }) if is_false(text) => false,
            Some(Scalar {
                text,
                ty: ScalarType::Plain,
            }) if is_yaml11_bool(text) => {
                self.report(format!(
                    "{text:?} is a boolean only to YAML 1.1 readers, expected true or false"
                ));
                false
            }
            _ => {
                self.mismatch("true or false");
                false
            }
        }
    }

    fn struct_entries(
        &self,
        fields: &'static [&'static str],
    ) -> Vec<&'a (crate::source::Key, Node)> {
        let NodeKind::Map(entries) = &self.node.kind else {
            if self.node.kind != NodeKind::Null {
                self.mismatch("a table");
            }
            return Vec::new();
        };
        let mut known = Vec::new();
        for entry in entries {
            let key = &entry.0;
            if fields.contains(&key.name.as_str()) {
                known.push(entry);
                continue;
            }
            let near = closest(&key.name, fields);
            let msg = match near {
                Some(n) => format!("unknown field `{}`, did you mean `{n}`?", key.name),
                None => format!(
                    "unknown field `{}`, expected one of: {}",
                    key.name,
                    fields.join(", ")
                ),
            };
            self.report_at(
                join(&self.path, &key.name),
                key.span,
                msg,
                near.map(str::to_string),
            );
        }
        known
    }
}

fn is_true(s: &str) -> bool {
    matches!(s, "true" | "True" | "TRUE")
}

fn is_false(s: &str) -> bool {
    matches!(s, "false" | "False" | "FALSE")
}

fn is_yaml11_bool(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        "yes" | "no" | "on" | "off" | "y" | "n"
    )
}

fn is_leading_zero(s: &str) -> bool {
    let digits = s.trim_start_matches(['-', '+']);
    digits.len() > 1 && digits.starts_with('0') && digits.chars().all(|c| c.is_ascii_digit())
}

/// A YAML 1.2 core-schema integer; leading zeros are refused (ambiguous).
fn parse_plain_int(s: &str) -> Option<i128> {
    let t = s.replace('_', "");
    if let Some(hex) = t.strip_prefix("0x") {
        return i128::from_str_radix(hex, 16).ok();
    }
    if let Some(oct) = t.strip_prefix("0o") {
        return i128::from_str_radix(oct, 8).ok();
    }
    if is_leading_zero(&t) {
        return None;
    }
    t.parse().ok()
}

macro_rules! ints {
    ($($method:ident $visit:ident $ty:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let v = self.int(<$ty>::MIN as i128, <$ty>::MAX as i128);
            visitor.$visit(v as $ty)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Null => visitor.visit_unit(),
            NodeKind::Seq(_) => self.deserialize_seq(visitor),
            NodeKind::Map(_) => self.deserialize_map(visitor),
            NodeKind::Scalar(s) => match s.ty {
                ScalarType::Bool => visitor.visit_bool(is_true(&s.text)),
                ScalarType::Int => self.deserialize_i64(visitor),
                ScalarType::Float => visitor.visit_f64(s.text.parse().unwrap_or(0.0)),
                ScalarType::Plain if is_true(&s.text) || is_false(&s.text) => {
                    visitor.visit_bool(is_true(&s.text))
                }
                ScalarType::Plain if parse_plain_int(&s.text).is_some() => {
                    self.deserialize_i64(visitor)
                }
                _ => visitor.visit_str(&s.text),
            },
        }
    }

    ints!(deserialize_i8 visit_i8 i8, deserialize_i16 visit_i16 i16, deserialize_i32 visit_i32 i32,
        deserialize_i64 visit_i64 i64, deserialize_u8 visit_u8 u8, deserialize_u16 visit_u16 u16,
        deserialize_u32 visit_u32 u32, deserialize_u64 visit_u64 u64);

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_bool(self.bool())
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_f64(self.float())
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_f64(self.float())
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.scalar() {
            Some(s) => visitor.visit_str(&s.text),
            None => {
                self.mismatch("a string");
                visitor.visit_str("")
            }
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.kind {
            NodeKind::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.node.kind != NodeKind::Null {
            self.mismatch("nothing");
        }
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let items: &[Node] = match &self.node.kind {
            NodeKind::Seq(items) => items,
            _ => {
                self.mismatch("a list");
                &[]
            }
        };
        visitor.visit_seq(SeqDe {
            items: items.iter(),
            index: 0,
            path: &self.path,
            sink: self.sink,
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let entries = match &self.node.kind {
            NodeKind::Map(entries) => entries.iter().collect(),
            NodeKind::Null => Vec::new(),
            _ => {
                self.mismatch("a table");
                Vec::new()
            }
        };
        visitor.visit_map(MapDe {
            entries,
            next: 0,
            path: &self.path,
            sink: self.sink,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let entries = self.struct_entries(fields);
        visitor.visit_map(MapDe {
            entries,
            next: 0,
            path: &self.path,
            sink: self.sink,
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let expected = variants
            .iter()
            .map(|v| format!("{v:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let Some(s) = self.scalar() else {
            self.mismatch(&format!("one of {expected}"));
            return visitor.visit_enum(UnitVariant(variants[0]));
        };
        if variants.contains(&s.text.as_str()) {
            return visitor.visit_enum(UnitVariant(&s.text));
        }
        let near = closest(&s.text, variants);
        let msg = match near {
            Some(n) => format!(
                "unknown value {:?}, did you mean {n:?}? (expected one of {expected})",
                s.text
            ),
            None => format!("unknown value {:?}, expected one of {expected}", s.text),
        };
        self.report_at(
            self.path.clone(),
            self.node.span,
            msg,
            near.map(str::to_string),
        );
        visitor.visit_enum(UnitVariant(variants[0]))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}
